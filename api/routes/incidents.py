"""Raising incidents: portal, taskbar agent, API, and phone calls logged by agents."""

from __future__ import annotations

from fastapi import APIRouter, Header, Response

from api.answers import created
from api.auth import require
from api.state import DeskState
from desk import opening
from desk.principal import Principal
from domain.incidents import IncidentReport, IncidentView
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["incidents"])


@router.post("/incidents", status_code=201, response_model=IncidentView,
             summary="Raise an incident",
             responses={409: {"description": "conflict"}, 422: {"description": "invalid"}})
async def raise_incident(
    report: IncidentReport,
    state: DeskState,
    principal: Principal = require(Action.RAISE_INCIDENT),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1,
                                         max_length=255),
) -> Response:
    view, replayed = await opening.raise_incident(state, principal, report, idempotency_key)
    return created(view, {"Idempotent-Replayed": "true"} if replayed else None)
