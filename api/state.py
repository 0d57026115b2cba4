"""What the routes share: settings, tenants, the Temporal client, and ticket numbering."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import Request
from temporalio.client import Client

from activities.file_store import FileStore
from api.auth import Authenticator
from api.rate_limits import RateLimiter
from api.ticket_directory import TicketDirectory
from api.ticket_numbers import TicketNumbers
from domain.settings import Settings
from domain.tenants import ClientConfig, TempodeskConfig


class KeyedLocks:
    """One lock per key while anyone holds or waits for it (so memory is bounded by the
    requests in flight): requests to this replica about one alert take turns."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class AppState:
    settings: Settings
    config: TempodeskConfig
    temporal: Client
    auth: Authenticator
    numbers: TicketNumbers
    tickets: TicketDirectory
    limiter: RateLimiter
    alert_turns: KeyedLocks = field(default_factory=KeyedLocks)
    files: FileStore | None = None  # None: no bucket configured (uploads answer 503)

    def client_config(self, client_id: str) -> ClientConfig:
        client = self.config.client(client_id)
        assert client is not None, "credentials only name configured clients"
        return client


def app_state(request: Request) -> AppState:
    return request.app.state.tempodesk
