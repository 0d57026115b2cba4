"""The MSP's logo, when the config names a file (``msp.logo_file``): public, like the pages
and mails that show it. A logo given as a URL is served by its own host instead."""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Depends, Request, Response

from api.problems import Problem
from api.state import AppState, app_state
from domain.msp import LOGO_MAX_BYTES, LOGO_PATH, logo_type

router = APIRouter(tags=["brand"])


@router.get(LOGO_PATH, response_class=Response,
            responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
            summary="The MSP's logo (msp.logo_file in tempodesk.yaml; no credential needed)")
async def logo(request: Request, state: AppState = Depends(app_state)) -> Response:
    path = state.config.msp.logo_file
    if path is None:
        raise Problem(404, "No logo", "this desk has no logo file: set msp.logo_file (or "
                      "msp.logo_url) in tempodesk.yaml")
    try:
        data = await asyncio.to_thread(lambda: path.read_bytes()[:LOGO_MAX_BYTES + 1])
    except OSError as exc:
        raise Problem(404, "No logo", f"the logo file cannot be read ({exc.strerror}): "
                      "check msp.logo_file") from exc
    kind = logo_type(data[:8])
    if kind is None or len(data) > LOGO_MAX_BYTES:
        raise Problem(404, "No logo", "the logo file is no longer a small PNG or JPEG: "
                      "check msp.logo_file")
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(data, media_type=kind, headers={"ETag": etag,
                                                    "Cache-Control": "public, max-age=3600"})
