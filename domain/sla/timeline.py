"""Counted time on a clock, as pure integer arithmetic.

A :class:`Timeline` is a sorted list of working windows in UTC microseconds. "Counted time
up to t" (``W(t)``) and its inverse are each one bisect over prefix sums, so a deadline
costs a few microseconds. A timeline holds no time zone objects, which is what lets a
workflow carry one (as :class:`TimelineSnapshot`) and do SLA maths inside the sandbox.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def to_us(moment: datetime) -> int:
    """Exact UTC microseconds of an aware datetime (no float rounding)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give the UTC offset, e.g. 2026-03-02T09:00:00+11:00")
    return (moment - EPOCH) // _ONE_US


def from_us(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class HorizonExceeded(Exception):
    """The computation needs working windows beyond the end of the timeline."""


class TimelineSnapshot(BaseModel):
    """Serializable working windows (UTC microseconds) for a workflow to carry."""

    windows: list[tuple[int, int]]
    valid_from: int
    valid_until: int

    def extended(self, later: TimelineSnapshot) -> TimelineSnapshot:
        """These windows followed by ``later``'s (which must start where these end)."""
        if later.valid_from != self.valid_until:
            raise ValueError("an extension must start where the snapshot ends")
        windows = list(self.windows)
        for start, end in later.windows:
            if windows and windows[-1][1] == start:  # a window cut at the seam
                windows[-1] = (windows[-1][0], end)
            else:
                windows.append((start, end))
        return TimelineSnapshot(windows=windows, valid_from=self.valid_from,
                                valid_until=later.valid_until)


class Timeline:
    """Working windows on one clock.

    ``continuous`` timelines (24x7) count every real second; others count only inside
    their windows. ``valid_from``/``valid_until`` bound what the windows describe:
    asking about an instant outside them raises :class:`HorizonExceeded` rather than
    silently treating unknown days as closed.
    """

    __slots__ = ("_cum_end", "_cum_start", "_ends", "_starts", "continuous", "valid_from",
                 "valid_until")

    def __init__(
        self,
        windows: Iterable[tuple[int, int]] = (),
        *,
        valid_from: int = -(2**62),
        valid_until: int = 2**62,
        continuous: bool = False,
    ) -> None:
        self.continuous = continuous
        self.valid_from = valid_from
        self.valid_until = valid_until
        # array('q') keeps 8 bytes an entry: a cached ticket holds one of these.
        starts, ends, cum_start, cum_end = (array("q") for _ in range(4))
        total = 0
        for start, end in windows:
            if end <= start:
                continue
            if ends and start < ends[-1]:
                raise ValueError("timeline windows must be sorted and not overlap")
            starts.append(start)
            ends.append(end)
            cum_start.append(total)
            total += end - start
            cum_end.append(total)
        self._starts = starts
        self._ends = ends
        self._cum_start = cum_start
        self._cum_end = cum_end

    @classmethod
    def always(cls) -> Timeline:
        return cls(continuous=True)

    @classmethod
    def from_snapshot(cls, snapshot: TimelineSnapshot) -> Timeline:
        return cls(snapshot.windows, valid_from=snapshot.valid_from,
                   valid_until=snapshot.valid_until)

    def snapshot(self, start: int, end: int) -> TimelineSnapshot:
        """The windows between ``start`` and ``end`` (clipped), for a workflow to carry."""
        if start < self.valid_from or end > self.valid_until:
            raise HorizonExceeded("snapshot range is outside the timeline")
        lo = max(bisect_right(self._starts, start) - 1, 0)
        hi = bisect_left(self._starts, end)
        windows = [
            (max(s, start), min(e, end))
            for s, e in zip(self._starts[lo:hi], self._ends[lo:hi], strict=True)
            if min(e, end) > max(s, start)
        ]
        return TimelineSnapshot(windows=windows, valid_from=start, valid_until=end)

    @property
    def windows(self) -> Sequence[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def _check(self, moment: int) -> None:
        if not self.valid_from <= moment <= self.valid_until:
            raise HorizonExceeded(f"instant {from_us(moment).isoformat()} is outside the timeline")

    def counted_until(self, moment: int) -> int:
        """W(t): counted microseconds from the timeline's origin up to ``moment``."""
        if self.continuous:
            return moment
        self._check(moment)
        i = bisect_right(self._starts, moment) - 1
        if i < 0:
            return 0
        return self._cum_start[i] + min(moment, self._ends[i]) - self._starts[i]

    def instant_at(self, counted: int) -> int:
        """Earliest t with W(t) >= ``counted`` (inverse of :meth:`counted_until`)."""
        if self.continuous:
            return counted
        i = bisect_left(self._cum_end, counted)
        if i >= len(self._ends):
            raise HorizonExceeded("deadline falls after the last known working window")
        moment = self._ends[i] - (self._cum_end[i] - counted)
        self._check(moment)
        return moment

    def counted_between(self, start: int, end: int) -> int:
        return self.counted_until(end) - self.counted_until(start) if end > start else 0

    def is_working(self, moment: int) -> bool:
        """True if ``moment`` lies inside a window, its closing instant included."""
        if self.continuous:
            return True
        i = bisect_right(self._starts, moment) - 1
        return i >= 0 and moment <= self._ends[i]

    def deadline(self, start: int, target: int, pauses: Sequence[tuple[int, int]] = ()) -> int:
        """Earliest instant at which time counted from ``start``, outside ``pauses``, reaches
        ``target`` microseconds.

        ``pauses`` must be sorted and non-overlapping (see :func:`merge_pauses`). Each pause
        that begins before the running deadline pushes it out by exactly the counted time
        the pause covers after ``start``.
        """
        need = self.counted_until(start) + target
        for pause_start, pause_end in pauses:
            pause_start = max(pause_start, start)
            if pause_end <= pause_start:
                continue
            if pause_start >= self.instant_at(need):
                break
            need += self.counted_until(pause_end) - self.counted_until(pause_start)
        return max(start, self.instant_at(need))

    def elapsed(self, start: int, moment: int, pauses: Sequence[tuple[int, int]] = ()) -> int:
        """Counted time from ``start`` to ``moment`` excluding ``pauses`` (for warnings)."""
        total = self.counted_between(start, moment)
        for pause_start, pause_end in pauses:
            lo, hi = max(pause_start, start), min(pause_end, moment)
            if hi > lo:
                total -= self.counted_between(lo, hi)
        return total


def merge_pauses(pauses: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping or touching pause intervals."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pauses):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
