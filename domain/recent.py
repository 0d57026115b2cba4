"""A bounded map whose entries end after a while: what a process remembers of things that
rarely or never change (which object a content address names, the files a ticket lists,
a ticket's kind), so it need not ask again. The least recently used entry goes first
once it is full; the clock is passed in (``time.monotonic`` by default)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, size: int, seconds: float = math.inf,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.seconds = seconds
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value remembered for ``key``, unless it is older than ``seconds``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] > self.seconds:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)
