"""What the replay gate (test_replay.py) catches, shown on purpose.

A tiny workflow runs on the time-skipping server and its history is kept as the "old"
history (what a running workflow has when a deploy lands). Then the same workflow type
gains one step:

- behind ``workflow.patched("demo-step")``: the old history replays, and so does a new
  run's history (which has the step and the patch marker);
- without it: the old history fails to replay with a nondeterminism error, which is what
  test_replay.py reports for a committed history;
- ``workflow.deprecate_patch("demo-step")``, once no old run is left: new histories replay,
  old ones no longer do (so the patch is only retired after the old runs are gone).

The same unguarded step added to the real IncidentWorkflow fails on its committed
incident_v3 history, and passes behind ``workflow.patched``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

with workflow.unsafe.imports_passed_through():  # the sandbox re-imports this module
    from domain.incidents import IncidentStart, IncidentView
    from temporal_client import data_converter
    from tests.conftest import make_settings
    from workflows.incident import IncidentWorkflow

HERE = Path(__file__).parent
NAME = "DemoWorkflow"


@activity.defn
async def greet(who: str) -> str:
    return f"hello {who}"


@activity.defn
async def audit(who: str) -> str:
    return f"audited {who}"


@workflow.defn(name=NAME)
class Old:
    @workflow.run
    async def run(self, who: str) -> str:
        await workflow.sleep(timedelta(hours=1))
        return await workflow.execute_activity(greet, who,
                                               start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name=NAME)
class Guarded:
    @workflow.run
    async def run(self, who: str) -> str:
        await workflow.sleep(timedelta(hours=1))
        if workflow.patched("demo-step"):  # runs started before the deploy skip it
            await workflow.execute_activity(audit, who,
                                            start_to_close_timeout=timedelta(seconds=10))
        return await workflow.execute_activity(greet, who,
                                               start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name=NAME)
class Unguarded:
    @workflow.run
    async def run(self, who: str) -> str:
        await workflow.sleep(timedelta(hours=1))
        await workflow.execute_activity(audit, who, start_to_close_timeout=timedelta(seconds=10))
        return await workflow.execute_activity(greet, who,
                                               start_to_close_timeout=timedelta(seconds=10))


@workflow.defn(name=NAME)
class Deprecated:
    @workflow.run
    async def run(self, who: str) -> str:
        await workflow.sleep(timedelta(hours=1))
        workflow.deprecate_patch("demo-step")  # where patched() was: every run left has it
        await workflow.execute_activity(audit, who, start_to_close_timeout=timedelta(seconds=10))
        return await workflow.execute_activity(greet, who,
                                               start_to_close_timeout=timedelta(seconds=10))


async def run_once(env, workflow_class: type, run_id: str) -> WorkflowHistory:
    async with Worker(env.client, task_queue=run_id, workflows=[workflow_class],
                      activities=[greet, audit]):
        handle = await env.client.start_workflow(
            workflow_class.run, "jo", id=run_id, task_queue=run_id,
            execution_timeout=timedelta(days=1))
        await handle.result()
        return await handle.fetch_history()


async def replay(workflow_class: type, history: WorkflowHistory) -> Exception | None:
    result = await Replayer(workflows=[workflow_class]).replay_workflow(
        history, raise_on_replay_failure=False)
    return result.replay_failure


async def test_a_new_step_replays_only_behind_workflow_patched(ts_env):
    old = await run_once(ts_env, Old, "demo-old")
    assert await replay(Old, old) is None

    assert await replay(Guarded, old) is None            # the deploy is safe for old runs
    new = await run_once(ts_env, Guarded, "demo-new")
    assert "audit" in new.to_json()                       # new runs take the step
    assert await replay(Guarded, new) is None

    failure = await replay(Unguarded, old)               # the same step, unguarded
    assert isinstance(failure, NondeterminismError), failure
    # The history scheduled 'greet' where the new code schedules 'audit'.
    assert ("Activity type of scheduled event 'greet' does not match activity type of "
            "activity command 'audit'") in str(failure), failure

    assert await replay(Deprecated, new) is None          # retired once old runs are gone
    assert isinstance(await replay(Deprecated, old), NondeterminismError)


# ------------------------------------------------------------------ the real incident

@workflow.defn(name="IncidentWorkflow")
class IncidentUnguarded(IncidentWorkflow):
    """The real incident workflow with one extra timer first: nothing else copied."""

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


@workflow.defn(name="IncidentWorkflow")
class IncidentGuarded(IncidentWorkflow):
    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentView:
        if workflow.patched("demo-step"):
            await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


async def test_the_committed_incident_history_catches_an_unguarded_step():
    raw = (HERE / "incident_v3.json").read_text()
    started = json.loads(raw)["events"][0]["workflowExecutionStartedEventAttributes"]
    history = WorkflowHistory.from_json(started.get("workflowId", "incident"), raw)
    converter = data_converter(make_settings(codec_keys={}, codec_key_id=None))

    async def replay_incident(workflow_class: type) -> Exception | None:
        result = await Replayer(workflows=[workflow_class], data_converter=converter
                                ).replay_workflow(history, raise_on_replay_failure=False)
        return result.replay_failure

    assert await replay_incident(IncidentWorkflow) is None
    assert await replay_incident(IncidentGuarded) is None
    assert isinstance(await replay_incident(IncidentUnguarded), NondeterminismError)
