"""Service requests: basic (add / change / remove, 5 business days), enhanced (quoted,
then by the agreed schedule) and advisory (quick answer, mini-consult, scoping workshop)."""

from __future__ import annotations

from fastapi import APIRouter

from api.intake_routes import add_intake_route
from desk import opening

router = APIRouter(prefix="/v1", tags=["service requests"])
add_intake_route(router, opening.SERVICE_REQUEST)
