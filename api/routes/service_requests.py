"""Service requests: basic (add / change / remove, 5 business days), enhanced (quoted,
then by the agreed schedule) and advisory (quick answer, mini-consult, scoping workshop)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.answers import created
from api.auth import require
from api.state import DeskState
from desk import opening
from desk.principal import Principal
from domain.roles import Action
from domain.service_requests import RequestForm, RequestView

router = APIRouter(prefix="/v1", tags=["service requests"])


@router.post("/service-requests", status_code=201, response_model=RequestView,
             summary="Raise a service request: basic (5 business days), enhanced (quoted) "
                     "or advisory (quick answer, mini-consult, scoping workshop)")
async def raise_request(form: RequestForm, state: DeskState,
                        principal: Principal = require(Action.RAISE_REQUEST)) -> Response:
    return created(await opening.raise_request(state, principal, form))
