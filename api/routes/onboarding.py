"""New users from HR's New User form: the contract's notice is checked at the door (too
little -> 422 naming the earliest allowed start, unless 'expedite' asks an agent to
approve it), then the account, licences, groups and devices are made ready by the start
(desk/opening.py)."""

from __future__ import annotations

from fastapi import APIRouter

from api.intake_routes import add_intake_route
from desk import opening

router = APIRouter(prefix="/v1", tags=["people"])
add_intake_route(router, opening.NEW_USER)
