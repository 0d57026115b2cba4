"""What this replica has already seen tickets list, so a download does not wait for the
ticket's answer again: a ticket's file list only ever grows (workflows/ticket.py
``attach``; a ticket that lets go of its files still lists them, and the store answers
410), so a file once listed stays listed. The entry ends after a few minutes anyway, and
the cache holds a bounded number of tickets. It is never asked who may see a ticket:
every request still locates the ticket for its caller first (another client's: 404)."""

from __future__ import annotations

import time
from collections import OrderedDict

from domain.attachments import Attachment

REMEMBERED_TICKETS = 4096
REMEMBERED_SECONDS = 300.0


class ListedFiles:
    def __init__(self, tickets: int = REMEMBERED_TICKETS,
                 seconds: float = REMEMBERED_SECONDS) -> None:
        self._tickets = tickets
        self._seconds = seconds
        self._listed: OrderedDict[str, tuple[float, dict[str, Attachment]]] = OrderedDict()

    def get(self, ticket_id: str, sha256: str) -> Attachment | None:
        """The file as ``ticket_id`` listed it, if seen lately; None: ask the ticket."""
        entry = self._listed.get(ticket_id)
        if entry is None:
            return None
        seen, files = entry
        if time.monotonic() - seen > self._seconds:
            del self._listed[ticket_id]
            return None
        return files.get(sha256)

    def remember(self, ticket_id: str, files: list[Attachment]) -> None:
        """``ticket_id`` lists ``files`` (its whole list, or files just added to it)."""
        _, known = self._listed.pop(ticket_id, (0.0, {}))
        known = {**known, **{f.sha256: f for f in files}}
        self._listed[ticket_id] = (time.monotonic(), known)
        while len(self._listed) > self._tickets:
            self._listed.popitem(last=False)
