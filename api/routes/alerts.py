"""Monitoring's doors: Prometheus Alertmanager's webhook (version 4) and PagerDuty-style
Events v2, posted with the client's integration key. What an alert does is
desk/alerts.py's; this module parses, calls and answers. Its refusals are DeskErrors the
app's handler maps to problem+json (403 not a client's key, 429 over the key's budget of
new incidents with Retry-After, 503 try again)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.auth import require
from api.state import DeskState
from desk.alerts import AlertResult, take_alertmanager, take_event
from desk.principal import Principal
from domain.alerts import AlertmanagerWebhook, EpisodeAction, EventIn
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["alerts"])


class AlertmanagerAnswer(BaseModel):
    status: str = "success"
    alerts: list[AlertResult]


class EventAnswer(BaseModel):
    status: str = "success"
    message: str = "Event processed"
    dedup_key: str
    ticket_id: str | None
    action: EpisodeAction
    detail: str = ""


@router.post("/alerts/alertmanager", response_model=AlertmanagerAnswer,
             summary="Prometheus Alertmanager webhook (version 4): each alert opens, repeats, "
                     "reopens or resolves its incident",
             responses={403: {"description": "not the client's integration key"},
                        422: {"description": "invalid"}, 503: {"description": "retry"},
                        429: {"description": "over the key's budget of new incidents: what "
                              "was not taken is listed; Retry-After"}})
async def alertmanager(hook: AlertmanagerWebhook, state: DeskState,
                       principal: Principal = require(Action.POST_ALERTS)) -> JSONResponse:
    results = await take_alertmanager(state, principal, hook)
    return JSONResponse(AlertmanagerAnswer(alerts=results).model_dump(mode="json"))


@router.post("/events", status_code=202, response_model=EventAnswer,
             summary="Events v2 (PagerDuty-style): trigger, acknowledge or resolve the alert "
                     "named by dedup_key",
             responses={403: {"description": "not the client's integration key"},
                        422: {"description": "invalid"}, 503: {"description": "retry"},
                        429: {"description": "over the key's budget of new incidents: what "
                              "was not taken is listed; Retry-After"}})
async def events(event: EventIn, state: DeskState,
                 principal: Principal = require(Action.POST_ALERTS)) -> JSONResponse:
    answer = await take_event(state, principal, event)
    body = EventAnswer(dedup_key=event.key(), ticket_id=answer.ticket_id,
                       action=answer.action, detail=answer.detail)
    return JSONResponse(body.model_dump(mode="json"), status_code=202)
