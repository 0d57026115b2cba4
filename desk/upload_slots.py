"""How many uploads one credential may have in flight on this replica. A file streams for
as long as its sender takes (a piece at least every 30 s keeps it alive), and each upload
holds its pieces and a connection to the store: without a cap, one key could hold a
replica's memory and connections with slow uploads. Over the cap: 429 with Retry-After,
before a byte of the file is read. The cap is the config's ``uploads_in_flight``."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from desk.errors import DeskError
from desk.principal import Principal


class UploadSlots:
    def __init__(self, per_credential: int) -> None:
        self.per_credential = per_credential
        self._busy: Counter[str] = Counter()

    def busy(self, principal: Principal) -> int:
        return self._busy[_credential(principal)]

    @contextlib.contextmanager
    def slot(self, principal: Principal) -> Iterator[None]:
        key = _credential(principal)
        if self._busy[key] >= self.per_credential:
            raise DeskError(429, "Too many uploads at once", f"this credential has "
                            f"{self.per_credential} uploads in progress: send the next "
                            "file when one of them has finished", retry_after=5)
        self._busy[key] += 1
        try:
            yield
        finally:
            self._busy[key] -= 1
            if not self._busy[key]:
                del self._busy[key]


def _credential(principal: Principal) -> str:
    """One credential: a key's id is unique only within its client (or the staff), so it
    is counted within its scope, as the rate limiter counts it (desk/rate_limits.py)."""
    return f"{principal.scope}:{principal.method}:{principal.subject}"
