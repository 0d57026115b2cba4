"""Committed histories must replay on today's workflow code (house rule 8): a change to a
workflow's command sequence that is not behind workflow.patched() fails here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from temporal_client import data_converter
from tests.conftest import make_settings
from worker import WORKFLOWS

HISTORIES = sorted(Path(__file__).parent.glob("*.json"))


def workflow_type(path: Path) -> str:
    """The type a history records (its WorkflowExecutionStarted event), whatever the file's
    name says."""
    started = json.loads(path.read_text())["events"][0]
    return started["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays(path: Path):
    raw = path.read_text()
    workflow_id = json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"].get(
        "workflowId", path.stem)
    history = WorkflowHistory.from_json(workflow_id, raw)
    result = await Replayer(workflows=list(WORKFLOWS),
                            data_converter=data_converter(make_settings())).replay_workflow(history)
    assert result.replay_failure is None


def test_every_workflow_the_worker_runs_has_a_committed_history():
    """A new workflow type cannot land without a recorded history (extend record.py and
    commit NAME_v1.json): otherwise the replay gate above would not cover it."""
    # The @workflow.defn name (what a history records), not the class name: they may differ.
    registered = {workflow._Definition.must_from_class(w).name for w in WORKFLOWS}
    recorded = {workflow_type(p) for p in HISTORIES}
    assert len(registered) == len(WORKFLOWS)
    assert not registered - recorded, f"no committed history for {registered - recorded}"
    assert not recorded - registered, f"histories of unknown types {recorded - registered}"


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
