"""Two races found under load, each made deterministic:

* HR withdraws a new user while the account's creation attempt is still running: the
  attempt then fails (the provider's 503, not a cancellation, because the stand-in never
  heartbeats), and the withdrawal must still end the provisioning and answer - before, the
  step took the failure for an ordinary one and went on retrying, so ``cancel`` never
  answered. An attempt that succeeds then is undone, and no step after it starts (before,
  licences, groups and devices were done and then undone).
* An update in flight when an alert's episode continues as new is aborted, and the client
  sends it again, with the same update id, to the next run - though the last run may have
  applied it (under load, 20 concurrent firings counted 20 or 22 repeats, not 19). The
  episode remembers the answers it gave by update id and gives a repeated id its first
  answer, changing nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.alerts import (
    EPISODE_ANSWERS_KEPT,
    AlertSource,
    EpisodeAction,
    EpisodeAnswer,
    EpisodeStart,
    EpisodeState,
)
from domain.ids import alert_workflow_id
from domain.onboarding import Cancellation, JoinerCall
from domain.provider_steps import ProviderResult
from tests.web.helpers import eventually
from tests.workflows import test_onboarding_timers as joiners
from tests.workflows.test_alert_episode import WINDOW, episode_worker, firing
from tests.workflows.test_step_retries import JOINER_STAND_INS, attempts, calls
from workflows.alert_episode import HANDLED_MAX, AlertEpisodeWorkflow
from workflows.onboarding import OnboardingWorkflow

ANSWER_WAIT = 60  # seconds: a withdrawal that never answers fails the test, not hangs it


@pytest.mark.parametrize("attempt_fails", [True, False], ids=["fails", "succeeds"])
async def test_a_withdrawal_while_the_account_attempt_runs_ends_the_provisioning(
        dev_client, task_queue, attempt_fails):
    attempt_started = asyncio.Event()
    cancel_accepted = asyncio.Event()
    tried: list[int] = []

    @activity.defn(name="create_account")
    async def create_account(call: JoinerCall) -> ProviderResult:
        tried.append(activity.info().attempt)
        attempt_started.set()
        await cancel_accepted.wait()  # the withdrawal reaches the workflow first
        if attempt_fails:
            raise ApplicationError("Graph POST /users: provider error (503)",
                                   type="ProviderUnavailable")
        return ProviderResult(detail="created")

    stand_ins = [a for a in JOINER_STAND_INS
                 if activity._Definition.must_from_callable(a).name != "create_account"]
    calls.clear()
    opened = datetime.now(UTC)
    async with Worker(dev_client, task_queue=task_queue, workflows=[OnboardingWorkflow],
                      activities=[create_account, *stand_ins]):
        handle = await joiners.start_joiner(SimpleNamespace(client=dev_client), task_queue,
                                            opened, opened + timedelta(days=5))
        await asyncio.wait_for(attempt_started.wait(), ANSWER_WAIT)
        update = await handle.start_update(
            OnboardingWorkflow.cancel, Cancellation(reason="offer withdrawn", by="hr:pat"),
            wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        cancel_accepted.set()
        try:
            view = await asyncio.wait_for(update.result(), ANSWER_WAIT)
        finally:
            await handle.terminate("test done")
    assert view.compensated_at is not None
    assert tried == [1]  # the failed attempt was not retried after the withdrawal
    assert (attempts("assign_licences"), attempts("build_device")) == ([], [])  # none after
    undone = {st.name for st in view.other_steps if st.done_at is not None}
    assert undone == {"undo create_account"}  # started, so undone (safe if never created)


async def test_a_firing_sent_again_to_the_next_run_is_answered_as_the_first_time(
        dev_client, config, task_queue):
    key = task_queue.removeprefix("tq-")
    handle = await dev_client.start_workflow(
        AlertEpisodeWorkflow.run, EpisodeStart(state=EpisodeState(
            client_id="belton", source=AlertSource.ALERTMANAGER, key=key,
            flap_window_seconds=WINDOW, handled=HANDLED_MAX - 1)),  # one message to go
        id=alert_workflow_id("belton", "alertmanager", key), task_queue=task_queue,
        execution_timeout=timedelta(minutes=5))
    first_run = handle.result_run_id
    starts = datetime.now(UTC)
    async with episode_worker(dev_client, config, task_queue):
        opened = await handle.execute_update(AlertEpisodeWorkflow.fire,
                                             firing(datetime.now(UTC), starts), id="fire-1")
        assert opened.action is EpisodeAction.OPENED

        async def run_id() -> str | None:
            return (await handle.describe()).run_id

        await eventually(run_id, lambda run: run != first_run)  # continued as new
        again = await handle.execute_update(AlertEpisodeWorkflow.fire,
                                            firing(datetime.now(UTC), starts), id="fire-1")
        repeat = await handle.execute_update(AlertEpisodeWorkflow.fire,
                                             firing(datetime.now(UTC), starts), id="fire-2")
        state = await handle.query(AlertEpisodeWorkflow.view)
        await handle.terminate("test over")
    assert again == opened  # its first answer, not "repeat"
    assert (repeat.action, repeat.ticket_id) == (EpisodeAction.REPEAT, opened.ticket_id)
    assert (state.repeats, state.tickets, state.handled) == (1, [opened.ticket_id], 1)


def test_an_episode_keeps_its_last_answers_only():
    state = EpisodeState(client_id="belton", source=AlertSource.ALERTMANAGER, key="k")
    for n in range(EPISODE_ANSWERS_KEPT + 5):
        state.remember(f"u{n}", EpisodeAnswer(action=EpisodeAction.REPEAT, detail=str(n)))
    assert len(state.answers) == EPISODE_ANSWERS_KEPT
    assert state.answer_for("u4") is None
    assert state.answer_for(f"u{EPISODE_ANSWERS_KEPT + 4}").detail == str(EPISODE_ANSWERS_KEPT + 4)
