"""What SCIM's HTTP routes share (api/routes/scim.py, api/routes/scim_discovery.py): where
the service provider lives and how its JSON is answered. Not a route module, so neither
route imports the other."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from domain.scim import MEDIA_TYPE, PREFIX


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def scim_json(body: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)
