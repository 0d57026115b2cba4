"""The route that opens a ticket from a form: parse the form, call the desk's operation
(an :class:`desk.opening.Opening`: desk/opening.py, desk/quotes.py), answer 201 with the
view and its Location. Each intake module adds its own with :func:`add_intake_route`, so
they cannot drift apart."""

from __future__ import annotations

from inspect import Parameter, Signature
from typing import Any

from fastapi import APIRouter, Response

from api.answers import created
from api.auth import require
from api.state import DeskState
from desk.opening import Opening
from desk.principal import Principal


def add_intake_route(router: APIRouter, opening: Opening) -> None:
    """``POST /<opening.name>`` with the opening's form as its body: the desk opens the
    ticket as the caller, answered 201 with its view. The route keeps its ``require`` so a
    forbidden role is refused before its body is read."""

    async def endpoint(form: Any, state: Any, principal: Principal) -> Response:
        return created(await opening.open(state, principal, form))

    endpoint.__signature__ = Signature([  # type: ignore[attr-defined]
        Parameter("form", Parameter.KEYWORD_ONLY, annotation=opening.form),
        Parameter("state", Parameter.KEYWORD_ONLY, annotation=DeskState),
        Parameter("principal", Parameter.KEYWORD_ONLY, annotation=Principal,
                  default=require(opening.permission))], return_annotation=Response)
    router.add_api_route(f"/{opening.name}", endpoint, methods=["POST"], name=opening.operation,
                         status_code=201, response_model=opening.view, summary=opening.summary)
