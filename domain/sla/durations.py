"""SLA target durations as written in contracts: ``15m``, ``4h``, ``1bd``, ``1h30m``.

A business day (``bd``) has no fixed length: it is the length of the calendar's
standard working day, so it is kept symbolic here and resolved against a calendar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"(\d+(?:\.\d+)?)(bd|d|h|m|s)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:bd|d|h|m|s))+$")
_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


@dataclass(frozen=True, slots=True)
class Duration:
    """A target length: business days plus a fixed number of seconds."""

    business_days: float = 0.0
    seconds: float = 0.0

    def to_seconds(self, business_day_seconds: int) -> float:
        return self.business_days * business_day_seconds + self.seconds

    def __str__(self) -> str:
        return format_duration(self)


def parse_duration(text: str, *, allow_zero: bool = False) -> Duration:
    """Parse ``15m``, ``4h``, ``1bd``, ``2d``, ``1h30m``. Raises ``ValueError`` with the fix."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or not _WHOLE.match(compact):
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, "
            "e.g. '15m', '4h', '1bd' (business day), '2d' (24x7 days) or '1h30m'"
        )
    business_days = 0.0
    seconds = 0.0
    for number, unit in _PART.findall(compact):
        if unit == "bd":
            business_days += float(number)
        else:
            seconds += float(number) * _SECONDS[unit]
    if business_days == 0 and seconds == 0 and not allow_zero:
        raise ValueError(f"{text!r} is zero: an SLA target must be longer than nothing")
    return Duration(business_days, seconds)


def format_duration(duration: Duration) -> str:
    parts: list[str] = []
    if duration.business_days:
        parts.append(f"{duration.business_days:g}bd")
    rest = int(duration.seconds)
    for unit in ("h", "m", "s"):
        size = _SECONDS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"
