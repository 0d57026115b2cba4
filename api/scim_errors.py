"""SCIM's own error format (RFC 7644 §3.12) for everything under /scim/v2: the problems the
rest of the API answers as RFC 9457 problem+json, in the shape SCIM clients read."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from scim2_models import Context, Error, SCIMException

from domain.scim import MEDIA_TYPE, PREFIX


def is_scim(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def scim_error(status: int, detail: str, scim_type: str | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 422:  # SCIM knows no 422: a value it cannot take is a 400 invalidValue
        status, scim_type = 400, scim_type or "invalidValue"
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """SCIM errors raised by scim2-models or the SCIM routes (scimType included)."""

    @app.exception_handler(SCIMException)
    async def _scim(request: Request, exc: SCIMException) -> JSONResponse:
        return scim_error(exc.status, exc.detail, exc.scim_type or None)
