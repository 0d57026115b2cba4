"""Two races found under load, each made deterministic:

* HR withdraws a new user while the account's creation attempt is still running: the
  attempt then fails (the provider's 503, not a cancellation, because the stand-in never
  heartbeats), and the withdrawal must still end the provisioning and answer - before, the
  step took the failure for an ordinary one and went on retrying, so ``cancel`` never
  answered. An attempt that succeeds then is undone, and no step after it starts (before,
  licences, groups and devices were done and then undone).
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

from domain.onboarding import Cancellation, JoinerCall
from domain.provider_steps import ProviderResult
from tests.workflows import test_onboarding_timers as joiners
from tests.workflows.test_step_retries import JOINER_STAND_INS, attempts, calls
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
