"""`tempodesk dev` makes the review schedules at start-up, visible to the Temporal CLI and
Web UI as `nps:<client>` and `qbr:<client>`. That a restart finds them, not duplicates, is
checked where a stack is restarted anyway (tests/test_dev_command.py)."""

from __future__ import annotations

from tests.devrun import REVIEW_SCHEDULES, DevRun, review_schedules


def test_dev_makes_the_review_schedules(shared_dev: DevRun):
    assert review_schedules(shared_dev) == REVIEW_SCHEDULES
