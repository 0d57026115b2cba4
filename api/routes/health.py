from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and Temporal reachability (no credential needed)")
async def healthz(request: Request) -> JSONResponse:
    client = request.app.state.tempodesk.temporal
    try:
        await asyncio.wait_for(
            client.workflow_service.get_system_info(GetSystemInfoRequest()), timeout=2)
    except Exception:  # any failure means "not ready", never a 500
        return JSONResponse({"status": "degraded", "temporal": "unreachable"}, status_code=503,
                            headers={"Retry-After": "5"})
    return JSONResponse({"status": "ok", "temporal": "ok"})
