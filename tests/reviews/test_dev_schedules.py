"""`tempodesk dev` makes the review schedules at start-up, visible to the Temporal CLI and
Web UI as `nps:<client>` and `qbr:<client>`, and a restart finds them, not duplicates."""

from __future__ import annotations

import json
import subprocess
import time

from tests.devrun import BIN, DevRun


def schedules(run: DevRun) -> dict[str, dict]:
    listed = subprocess.run(
        [str(BIN / "temporal"), "schedule", "list", "--address", f"127.0.0.1:{run.grpc}",
         "--output", "json"], capture_output=True, text=True, check=True)
    rows = json.loads(listed.stdout or "[]")
    return {row["scheduleId"]: row for row in rows}


def test_dev_makes_the_review_schedules_once(tmp_path):
    run = DevRun(tmp_path / "data")
    wanted = sorted(f"{job}:{client}" for job in ("nps", "qbr")
                    for client in ("belton", "betterworld", "plexacet"))
    for _ in range(2):  # start, stop, start again on the same data
        run.start()
        try:
            deadline = time.monotonic() + 15  # the list is read from visibility
            while sorted(found := schedules(run)) != wanted and time.monotonic() < deadline:
                time.sleep(0.25)
        finally:
            run.stop()
        assert sorted(found) == wanted
