"""A refusal an activity raises on purpose is one log line naming the activity, the
workflow and the reason; a bug (any other exception) keeps its traceback
(log_hygiene's filter on the SDK's activity logger, installed with the worker)."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

import log_hygiene


@activity.defn
async def refuse(what: str) -> str:
    if what == "refusal":
        raise ApplicationError("Microsoft Graph is not set up for plexacet",
                               type="ProviderNotConfigured", non_retryable=True)
    raise KeyError("a bug")


@workflow.defn(sandboxed=False)
class TriesOnce:
    @workflow.run
    async def run(self, what: str) -> str:
        try:
            return await workflow.execute_activity(
                refuse, what, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as err:
            cause = err.cause
            return f"{type(cause).__name__}: {getattr(cause, 'type', None)}"


async def test_a_refusal_is_one_line_and_a_bug_keeps_its_traceback(ts_env, caplog):
    queue = f"refusals-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.DEBUG)
    log_hygiene.install()
    async with Worker(ts_env.client, task_queue=queue, workflows=[TriesOnce],
                      activities=[refuse]):
        refused = await ts_env.client.execute_workflow(
            TriesOnce.run, "refusal", id=f"{queue}-refusal", task_queue=queue)
        failed = await ts_env.client.execute_workflow(
            TriesOnce.run, "bug", id=f"{queue}-bug", task_queue=queue)

    # The workflow still sees the refusal's type (its decisions depend on it).
    assert refused == "ApplicationError: ProviderNotConfigured"
    assert failed == "ApplicationError: KeyError"
    ours = [r for r in caplog.records if r.name == "tempodesk.activities"]
    assert [r.getMessage() for r in ours] == [
        f"refuse for {queue}-refusal (attempt 1) refused: ProviderNotConfigured: "
        "Microsoft Graph is not set up for plexacet"]
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info]
    assert len(loud) == 1 and "a bug" in str(loud[0].exc_info[1]), loud
