"""The codec server: Temporal's remote codec protocol, so the Web UI shows decrypted payloads.

``POST .../encode`` and ``POST .../decode`` take and answer ``{"payloads": [...]}`` in
protobuf JSON (metadata values and data base64). Only the last path segment counts, as the
protocol asks, so the server may sit under any prefix. Decoding shows PII: only an MSP staff
credential (agent or admin, serving every client) may call either endpoint, authenticated by
api/auth.py like the rest of the API; a client's credential and a staff key limited to some
clients get 403, because a payload does not say whose ticket it belongs to.

Two callers carry no API key:

* The Temporal Web UI of a deployment, signed in with OIDC: it passes the user's access
  token (``TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true``). A token of MSP staff serving every
  client (client claim ``*``, role agent or admin) decodes (:func:`_oidc_staff`).
* The Web UI that `tempodesk dev` starts on this machine has no sign-in. It is given a codec
  endpoint whose path holds a secret made at each start (:func:`local_ui_path`); only a
  request to that path, from loopback, from the UI's origin, is decoded for it
  (:func:`_local_dev_ui`). Anything else on the machine needs the secret or a staff key.
"""

from __future__ import annotations

import hmac
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
from api.auth import Authenticator, _bearer, require, too_many
from api.limits import RequestLimits
from api.problems import Problem, field_problem
from desk.errors import DeskError
from desk.principal import Principal
from desk.rate_limits import RateLimiter
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
LOCAL_UI_PREFIX = "local-ui"
EVERY_CLIENT = "*"   # the client claim of an MSP staff token serving every client


@dataclass
class CodecState:
    """What `api.auth.require` reads from ``app.state.tempodesk``, plus the codec."""

    settings: Settings
    config: TempodeskConfig
    auth: Authenticator
    limiter: RateLimiter
    codec: EncryptionCodec
    local_ui_secret: str | None = None


class PayloadsBody(BaseModel):
    """temporal.api.common.v1.Payloads in protobuf JSON."""

    model_config = ConfigDict(extra="forbid")
    payloads: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_PAYLOADS)


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def local_ui_path(secret: str) -> str:
    """The codec endpoint's path `tempodesk dev` gives its Web UI (which appends /decode)."""
    return f"/{LOCAL_UI_PREFIX}/{secret}"


async def _local_dev_ui(request: Request) -> Principal | None:
    """`tempodesk dev` only: the Web UI on this machine has no sign-in, so it sends no
    credential; its codec endpoint's path holds this start's secret instead. A call to that
    path, from loopback, from the dev UI's own origin, with no credential, is that UI."""
    state = request.app.state.tempodesk
    secret = state.local_ui_secret
    if (secret is None or request.headers.get("authorization")
            or request.client is None or request.client.host not in LOOPBACK
            or request.headers.get("origin") not in state.settings.codec_cors_origins):
        return None
    sent = "/" + str(request.path_params.get("prefix", ""))
    if not hmac.compare_digest(sent.encode(), local_ui_path(secret).encode()):
        return None
    return Principal(None, Role.ADMIN, "local-dev-ui", "loopback")


async def _oidc_staff(state: CodecState, token: str) -> Principal | None:
    """The Web UI's OIDC access token, if it is MSP staff serving every client: issuer,
    audience and signature as for the API (TEMPODESK_OIDC_*), the client claim ``*`` and
    the role agent or admin. None for any other token (the API key path then answers)."""
    if not state.auth.takes_jwts(token):
        return None
    settings = state.settings
    try:
        claims = await state.auth.verified_claims(token)
    except DeskError:
        return None  # refused with its reason by the API key path's own check
    role = claims.get(settings.oidc_role_claim)
    if claims.get(settings.oidc_client_claim) != EVERY_CLIENT or role not in (
            Role.AGENT.value, Role.ADMIN.value):
        return None
    return Principal(None, Role(role), str(claims["sub"]), "oidc")


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
                     local_ui_secret: str | None = None) -> FastAPI:
    """``local_ui_secret``: `tempodesk dev` only, the secret in its Web UI's codec endpoint
    (see :func:`_local_dev_ui`); the `tempodesk codec-server` command always asks for a
    staff credential."""
    codec = EncryptionCodec.from_settings(settings)
    if codec is None:
        raise ValueError("the codec server needs TEMPODESK_CODEC_KEYS and "
                         "TEMPODESK_CODEC_KEY_ID: without keys nothing is encrypted")
    app = FastAPI(title="Tempodesk codec server", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.tempodesk = CodecState(settings, config, Authenticator(settings, config),
                                     RateLimiter(config, settings.api_replicas), codec,
                                     local_ui_secret)
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
        staff = await _oidc_staff(app.state.tempodesk, credentials.credentials) \
            if credentials is not None else None
        if staff is not None:
            wait = app.state.tempodesk.limiter.wait_for(staff)
            if wait:
                raise too_many("this credential's rate is spent", wait)
            return staff
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

