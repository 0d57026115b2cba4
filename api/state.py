"""What the routes share: settings, tenants, the Temporal client, and ticket numbering."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from temporalio.client import Client

from api.auth import Authenticator
from api.rate_limits import RateLimiter
from api.ticket_directory import TicketDirectory
from api.ticket_numbers import TicketNumbers
from domain.settings import Settings
from domain.tenants import ClientConfig, TempodeskConfig


@dataclass
class AppState:
    settings: Settings
    config: TempodeskConfig
    temporal: Client
    auth: Authenticator
    numbers: TicketNumbers
    tickets: TicketDirectory
    limiter: RateLimiter

    def client_config(self, client_id: str) -> ClientConfig:
        client = self.config.client(client_id)
        assert client is not None, "credentials only name configured clients"
        return client


def app_state(request: Request) -> AppState:
    return request.app.state.tempodesk
