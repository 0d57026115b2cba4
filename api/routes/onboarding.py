"""New users from HR's New User form: the contract's notice is checked at the door (too
little -> 422 naming the earliest allowed start, unless 'expedite' asks an agent to
approve it), then the account, licences, groups and devices are made ready by the start
(desk/opening.py)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.answers import created
from api.auth import require
from api.state import DeskState
from desk import opening
from desk.principal import Principal
from domain.onboarding import JoinerForm, OnboardingView
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["people"])


@router.post("/onboarding", status_code=201, response_model=OnboardingView,
             summary="Raise a new user: ready by the start if the contract's notice is given "
                     "(3bd or 48h); otherwise 422 with the earliest start, or 'expedite'")
async def raise_new_user(form: JoinerForm, state: DeskState,
                         principal: Principal = require(Action.ONBOARD)) -> Response:
    return created(await opening.raise_new_user(state, principal, form))
