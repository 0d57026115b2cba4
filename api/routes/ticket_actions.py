"""Working a ticket of any kind: one route per action of desk/ticket_actions.py's table,
``POST /v1/tickets/{ticket_id}/<action>``. Every change is a workflow update, so an
invalid one is refused synchronously (409 with the reason); comments are fire-and-forget
signals (202). Kind-specific actions (reprioritise, merge) answer 409 on kinds that do
not have them."""

from __future__ import annotations

from inspect import Parameter, Signature
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from api.auth import require
from api.params import AnyTicketView, TicketPath
from api.state import DeskState
from desk.principal import Principal
from desk.ticket_actions import ACTIONS, TicketAction
from domain.request_bodies import NoBody

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])


def _route(action: TicketAction) -> None:
    """Add ``action``'s route: parse the body, call the desk, answer with the view (or 202
    for a signal). The route keeps its ``require`` so a forbidden role is refused before
    its body is read."""

    async def endpoint(state: Any, principal: Principal, ticket_id: str,
                       request: Any = None, raw: Request | None = None) -> Response:
        if raw is not None:
            await refuse_fields(raw)
        view = await action.perform(state, principal, ticket_id, action, request)
        if view is None:
            return JSONResponse({"ticket_id": ticket_id, "accepted": True}, status_code=202)
        return Response(view.model_dump_json(), media_type="application/json")

    def param(name: str, annotation: Any, default: Any = Parameter.empty) -> Parameter:
        return Parameter(name, Parameter.KEYWORD_ONLY, annotation=annotation, default=default)

    # An action without a body reads the raw request only to refuse fields sent anyway
    # (a Request parameter leaves the OpenAPI document as it was).
    body = ([param("request", action.body)] if action.body is not None
            else [param("raw", Request)])
    endpoint.__signature__ = Signature(  # type: ignore[attr-defined]
        [*body, param("ticket_id", str, TicketPath),
         param("principal", Principal, require(action.permission)),
         param("state", DeskState)],
        return_annotation=Response)
    router.add_api_route(
        f"/{{ticket_id}}/{action.name}", endpoint, methods=["POST"], name=action.operation,
        summary=action.summary, status_code=202 if action.accepted else None,
        response_model=None if action.accepted else (action.view or AnyTicketView))


async def refuse_fields(raw: Request) -> None:
    """An action that takes no body accepts none, or ``{}``: anything else is refused as
    every body is (422 naming the field, 400 for a body that is not JSON)."""
    sent = await raw.body()
    if not sent.strip():
        return
    try:
        NoBody.model_validate_json(sent)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]) from exc


for _action in ACTIONS:
    _route(_action)
