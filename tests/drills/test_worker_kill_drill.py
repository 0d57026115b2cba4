"""The worker kill -9 drill at suite size (issue 12; bench/drill_worker_kill.py runs it at
1,000): tickets parked on SLA timers, the worker SIGKILLed before they fall due and
restarted after the breach and two rungs fell due; every breach and rung fires exactly
once, with its scheduled instant, on every ticket. Lateness is printed, not asserted."""

from __future__ import annotations

import pytest

from tests.drills.worker_kill import DrillSetupError, response_seconds_for, run_drill

TICKETS = 200  # sized for the suite's budget on 2 cores; the bench runs 1,000


# About 100 s on 2 cores; staged again at three times the target it can take three times
# that, past the suite's 240 s per test (which ended the whole process, not the test).
@pytest.mark.timeout(600)
async def test_kill_9_loses_and_repeats_no_breach_and_no_rung(dev_client, tmp_path,
                                                              task_queue):
    try:
        result = await run_drill(dev_client, tmp_path, tickets=TICKETS, task_queue=task_queue)
    except DrillSetupError as exc:  # a machine too busy to stage it: stage it again, slower
        print(f"\nstaged again with three times the response target: {exc}")
        result = await run_drill(dev_client, tmp_path, tickets=TICKETS,
                                 task_queue=f"{task_queue}-again",
                                 response_seconds=3 * response_seconds_for(TICKETS))
    print("\n" + result.report())
    assert result.problems == []
    assert result.counted == result.expected
    assert result.counted["sla_breached:response"] == TICKETS
    assert result.counted["escalated"] == 3 * TICKETS
    # The breach and the first two rungs fell due while the worker was down (the last rung
    # after the restart, unless this process was too starved to restart it in time).
    assert len(result.during_outage) + len(result.after_restart) == 4 * TICKETS
    assert len(result.during_outage) >= 3 * TICKETS
