"""The codec server: Temporal's remote codec protocol, so the Web UI shows decrypted payloads.

``POST .../encode`` and ``POST .../decode`` take and answer ``{"payloads": [...]}`` in
protobuf JSON (metadata values and data base64). Only the last path segment counts, as the
protocol asks, so the server may sit under any prefix. Decoding shows PII: only an MSP staff
credential (agent or admin, serving every client) may call either endpoint, authenticated by
api/auth.py like the rest of the API; a client's credential and a staff key limited to some
clients get 403, because a payload does not say whose ticket it belongs to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.common.v1 import Payload

from api import problems
from api.auth import Authenticator, Principal, _bearer, require
from api.limits import RequestLimits
from api.problems import Problem, field_problem
from api.rate_limits import RateLimiter
from domain.roles import Action, Role
from domain.settings import Settings
from domain.tenants import TempodeskConfig
from payload_codec import CodecError, EncryptionCodec

log = logging.getLogger(__name__)

# One request: a history page's worth of payloads. Temporal refuses payloads over 2 MB, and
# base64 adds a third.
MAX_PAYLOADS = 1000
MAX_BODY_BYTES = 8 * 1024 * 1024
UI_HEADERS = ["Content-Type", "X-Namespace", "Authorization"]


@dataclass
class CodecState:
    """What `api.auth.require` reads from ``app.state.tempodesk``, plus the codec."""

    settings: Settings
    config: TempodeskConfig
    auth: Authenticator
    limiter: RateLimiter
    codec: EncryptionCodec
    trust_local_ui: bool = False


class PayloadsBody(BaseModel):
    """temporal.api.common.v1.Payloads in protobuf JSON."""

    model_config = ConfigDict(extra="forbid")
    payloads: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_PAYLOADS)


LOOPBACK = frozenset({"127.0.0.1", "::1"})


async def _local_dev_ui(request: Request) -> Principal | None:
    """`tempodesk dev` only: the Web UI on this machine has no sign-in, so it sends no
    credential. A call from loopback, from the dev UI's own origin, with no credential at
    all, is the operator at this machine (who can read .data/codec-key anyway)."""
    state = request.app.state.tempodesk
    if (not state.trust_local_ui or request.headers.get("authorization")
            or request.client is None or request.client.host not in LOOPBACK
            or request.headers.get("origin") not in state.settings.codec_cors_origins):
        return None
    return Principal(None, Role.ADMIN, "local-dev-ui", "loopback")


async def _staff(principal: Principal = require(Action.USE_CODEC)) -> Principal:
    if not principal.is_staff:
        raise Problem(403, "Forbidden", "only the MSP's staff may decode payloads: use a "
                      "staff credential (agent or admin), not a client's")
    if principal.clients is not None:
        raise Problem(403, "Forbidden", "this staff credential serves only some clients and a "
                      "payload does not say whose it is: use a credential serving every client")
    return principal


def _parse(body: PayloadsBody) -> list[Payload]:
    parsed = []
    for index, raw in enumerate(body.payloads):
        try:
            parsed.append(ParseDict(raw, Payload()))
        except ParseError as exc:
            raise field_problem(422, f"payloads[{index}]", f"not a Payload in protobuf JSON: "
                                f"{str(exc)[:200]}", "send {'metadata': {name: base64}, "
                                "'data': base64}", "Request is not valid", where="body") from exc
    return parsed


def _answer(payloads: list[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [MessageToDict(p) for p in payloads]})


def create_codec_app(settings: Settings, config: TempodeskConfig,
                     trust_local_ui: bool = False) -> FastAPI:
    """``trust_local_ui``: `tempodesk dev` only (see :func:`_local_dev_ui`); the
    `tempodesk codec-server` command always asks for a staff credential."""
    codec = EncryptionCodec.from_settings(settings)
    if codec is None:
        raise ValueError("the codec server needs TEMPODESK_CODEC_KEYS and "
                         "TEMPODESK_CODEC_KEY_ID: without keys nothing is encrypted")
    app = FastAPI(title="Tempodesk codec server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.tempodesk = CodecState(settings, config, Authenticator(settings, config),
                                     RateLimiter(config, settings.api_replicas), codec,
                                     trust_local_ui)
    problems.install(app)
    app.add_middleware(RequestLimits, max_body_bytes=MAX_BODY_BYTES)
    # Outermost, so refusals (401, 403, 413) reach the UI as answers, not as CORS errors.
    app.add_middleware(CORSMiddleware, allow_origins=settings.codec_cors_origins,
                       allow_methods=["POST"], allow_headers=UI_HEADERS,
                       allow_credentials=True, max_age=600)

    async def caller(request: Request) -> Principal:
        local = await _local_dev_ui(request)
        if local is not None:
            return local
        credentials = await _bearer(request)
        return await _staff(await require(Action.USE_CODEC).dependency(request, credentials))

    async def encode(body: PayloadsBody, principal: Principal = Depends(caller),
                     ) -> JSONResponse:
        return _answer(await codec.encode(_parse(body)))

    async def decode(body: PayloadsBody, principal: Principal = Depends(caller),
                     x_namespace: str | None = Header(None)) -> JSONResponse:
        payloads = _parse(body)
        try:
            decoded = await codec.decode(payloads)
        except CodecError as exc:
            raise Problem(422, "Payload not decodable", str(exc), slug="undecodable") from exc
        # Who read PII, and how much: the audit trail of decryption.
        log.info("decoded %d payloads for %s (namespace %s)", len(payloads), principal.actor,
                 (x_namespace or "-")[:100])
        return _answer(decoded)

    for path in ("/encode", "/{prefix:path}/encode"):
        app.add_api_route(path, encode, methods=["POST"])
    for path in ("/decode", "/{prefix:path}/decode"):
        app.add_api_route(path, decode, methods=["POST"])
    return app

