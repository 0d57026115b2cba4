"""Rates as the config writes them: ``"60/min"``, ``"5/s"``, ``"1000/h"`` (requests of a
credential, mail of a sender, new incidents of a key)."""

from __future__ import annotations

import re

_RATE = re.compile(r"^(?P<count>[1-9]\d{0,6})/(?P<unit>s|min|h)$")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600}


def parse_rate(text: str) -> tuple[int, int]:
    """``"60/min"`` -> (60, 60): that many per that many seconds."""
    match = _RATE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a rate: write e.g. '60/min', '5/s' or '1000/h'")
    return int(match["count"]), _UNIT_SECONDS[match["unit"]]
