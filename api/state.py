"""What the HTTP doors work with: the desk, plus what only they need (credentials and
rates); routes take it as the ``DeskState`` dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.auth import Authenticator
from desk.state import Desk


@dataclass(kw_only=True)
class AppState(Desk):
    auth: Authenticator


def app_state(request: Request) -> AppState:
    return request.app.state.tempodesk


DeskState = Annotated[AppState, Depends(app_state)]
