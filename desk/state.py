"""What the desk works with: settings, clients, the Temporal client, ticket numbering and
the ticket directory, the file store. One per process, shared by every door."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Self

from temporalio.client import Client

from activities.file_store import FileStore
from desk.listed_files import ListedFiles
from desk.rate_limits import RateLimiter
from desk.ticket_numbers import TicketNumbers
from desk.tickets import TicketDirectory
from desk.upload_slots import UploadSlots
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


@dataclass(kw_only=True)
class Desk:
    settings: Settings
    config: TempodeskConfig
    temporal: Client
    numbers: TicketNumbers
    tickets: TicketDirectory
    limiter: RateLimiter
    uploads: UploadSlots  # in flight per credential (config.uploads_in_flight)
    alert_turns: KeyedLocks = field(default_factory=KeyedLocks)
    files: FileStore | None = None  # None: no bucket configured (uploads answer 503)
    listed_files: ListedFiles = field(default_factory=ListedFiles)  # desk/listed_files.py

    @classmethod
    def build(cls, settings: Settings, config: TempodeskConfig, client: Client,
              **doors: object) -> Self:
        """The desk for one process (``doors``: what a door's own subclass adds)."""
        return cls(settings=settings, config=config, temporal=client,
                   numbers=TicketNumbers(client, settings.task_queue),
                   tickets=TicketDirectory(client, config),
                   limiter=RateLimiter(config, settings.api_replicas),
                   uploads=UploadSlots(config.uploads_in_flight),
                   files=FileStore.from_settings(settings), **doors)

    def client_config(self, client_id: str) -> ClientConfig:
        client = self.config.client(client_id)
        assert client is not None, "credentials only name configured clients"
        return client
