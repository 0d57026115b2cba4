"""What this replica has already seen tickets list, so a download does not wait for the
ticket's answer again: a ticket's file list only ever grows (workflows/ticket.py
``attach``; a ticket that lets go of its files still lists them, and the store answers
410), so a file once listed stays listed. The entry ends after a few minutes anyway, and
the cache holds a bounded number of tickets. It is never asked who may see a ticket:
every request still locates the ticket for its caller first (another client's: 404)."""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.attachments import Attachment
from domain.recent import Recent

REMEMBERED_TICKETS = 4096
REMEMBERED_SECONDS = 300.0


class ListedFiles:
    def __init__(self, tickets: int = REMEMBERED_TICKETS, seconds: float = REMEMBERED_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._listed: Recent[str, dict[str, Attachment]] = Recent(tickets, seconds, clock)

    def get(self, ticket_id: str, sha256: str) -> Attachment | None:
        """The file as ``ticket_id`` listed it, if seen lately; None: ask the ticket."""
        files = self._listed.get(ticket_id)
        return None if files is None else files.get(sha256)

    def remember(self, ticket_id: str, files: list[Attachment]) -> None:
        """``ticket_id`` lists ``files`` (its whole list, or files just added to it)."""
        known = self._listed.get(ticket_id) or {}
        self._listed.put(ticket_id, {**known, **{f.sha256: f for f in files}})
