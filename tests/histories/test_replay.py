"""Committed histories must replay on today's workflow code (house rule 8): a change to a
workflow's command sequence that is not behind workflow.patched() fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client import data_converter
from tests.conftest import make_settings
from worker import WORKFLOWS

HISTORIES = sorted(Path(__file__).parent.glob("*.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path):
    raw = path.read_text()
    workflow_id = json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"].get(
        "workflowId", path.stem)
    history = WorkflowHistory.from_json(workflow_id, raw)
    result = await Replayer(workflows=list(WORKFLOWS),
                            data_converter=data_converter(make_settings())).replay_workflow(history)
    assert result.replay_failure is None


def test_there_is_a_history_for_the_incident_workflow():
    assert any(p.stem.startswith("incident_") for p in HISTORIES)


def test_every_timer_and_activity_of_a_ticket_says_what_it_is_for():
    """Operators read the Web UI timeline: no numbered-only entries (summaries decoded)."""
    import base64

    raw = json.loads((Path(__file__).parent / "incident_v3.json").read_text())
    labelled = [e for e in raw["events"] if e["eventType"] in (
        "EVENT_TYPE_TIMER_STARTED", "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")]
    summaries = [json.loads(base64.b64decode(e["userMetadata"]["summary"]["data"]))
                 for e in labelled]
    assert labelled and all(summaries)
    assert "P1 response 50% warning due " in summaries[0]
    assert any(s.startswith("email: ticket_opened - Logged: ") for s in summaries)
