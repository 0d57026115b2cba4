"""The survey links' credentials (the CSAT link of a closing e-mail, the NPS invitation's
link), checked the same way by the JSON routes and the survey pages: a bad signature is
401, an expired link 410 worded for its survey. Not a route module, so no route imports
another."""

from __future__ import annotations

from typing import Any

from api.auth import signed_payload
from api.problems import Problem
from desk.state import Desk
from domain import nps


def csat_link(state: Desk, token: str) -> dict[str, Any]:
    """The CSAT link's payload, once its signature and expiry are checked."""
    return signed_payload(state, token, "csat",
                          Problem(410, "Survey expired", "the survey link has expired"))


def nps_link(state: Desk, token: str) -> dict[str, Any]:
    """The NPS link's payload, once its signature and expiry are checked."""
    return signed_payload(state, token, nps.TOKEN_PURPOSE,
                          Problem(410, "Survey closed", "the survey has closed"))
