"""Tags that make client ids and ticket prefixes unique within one test run.

Tests share one dev server, and a ticket prefix names its sequence workflow
(``ticket-sequence:<prefix>``), which outlives the test that started it on its own task
queue. Two tests with the same prefix would send the second's ticket numbers to a sequence
no worker serves any more: its intake waits until the API's deadline (503). Random 4-hex tags
repeat among a run's ~135 desks about one run in eight (the birthday bound; a whole
run here met it); a counter from a random start cannot. Four characters: a prefix is at
most eight (``BEL`` + tag)."""

from __future__ import annotations

import itertools
import random

_SPACE = 16**4
_next = itertools.count(random.randrange(_SPACE // 2))  # half the space left to count in


def unique_tag() -> str:
    """Four lower-case hex digits, never the same twice in this process."""
    n = next(_next)
    if n >= _SPACE:
        raise RuntimeError("out of unique tags: more than 32,768 desks in one run")
    return f"{n:04x}"
