from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from api.auth import require
from api.problems import field_problem
from api.state import AppState, app_state
from desk.principal import Principal
from domain.roles import Action
from domain.sla.preview import PreviewRequest, PreviewResult, preset_policy, preview

router = APIRouter(prefix="/v1/sla", tags=["sla"])


@router.post("/preview", response_model=PreviewResult,
             summary="Deadlines a ticket would get under a policy")
async def sla_preview(
    request: PreviewRequest,
    principal: Principal = require(Action.SLA_PREVIEW),
    state: AppState = Depends(app_state),
) -> PreviewResult:
    # The caller's own client id names its own policy; otherwise only presets are visible.
    if request.policy == principal.client_id:
        policy = state.client_config(principal.client_id).sla
    else:
        policy = preset_policy(request.policy)
    if policy is None:  # another client's policy is as invisible as an unknown one
        raise field_problem(404, "policy", f"no policy {request.policy!r}",
                            f"use a preset (belton, betterworld, plexacet) or your client id "
                            f"{principal.client_id!r}", "Not found")
    # Compiling a calendar can take a while: off the event loop, so no request can stall
    # the API (or, in `tempodesk dev`, the worker sharing its loop).
    return await run_in_threadpool(preview, request, policy)
