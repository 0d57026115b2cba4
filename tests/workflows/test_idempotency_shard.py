"""An idempotency shard remembers a key for 24 hours, then forgets it; after a day
without a claim it completes (time skipping: its one timer branch)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from domain.idempotency import Claim, ShardState
from workflows.idempotency_shard import IdempotencyShardWorkflow

KEY, OTHER = "a" * 32, "b" * 32


async def test_keys_are_remembered_for_a_day_then_the_shard_completes(ts_env, task_queue):
    async with Worker(ts_env.client, task_queue=task_queue,
                      workflows=[IdempotencyShardWorkflow]):
        handle = await ts_env.client.start_workflow(
            IdempotencyShardWorkflow.run, ShardState(), id="idempotency:TST:aaa",
            task_queue=task_queue, execution_timeout=timedelta(days=5))
        first = await handle.execute_update(
            IdempotencyShardWorkflow.claim, Claim(key=KEY, fingerprint="1" * 16, number=7))
        again = await handle.execute_update(
            IdempotencyShardWorkflow.claim, Claim(key=KEY, fingerprint="2" * 16, number=9))
        assert (first.number, first.replayed) == (7, False)
        assert (again.number, again.replayed, again.fingerprint_matches) == (7, True, False)

        await ts_env.sleep(timedelta(hours=23))
        late = await handle.execute_update(
            IdempotencyShardWorkflow.claim, Claim(key=OTHER, fingerprint="3" * 16, number=11))
        assert not late.replayed
        await ts_env.sleep(timedelta(hours=2))  # KEY is 25 h old now: forgotten
        forgotten = await handle.execute_update(
            IdempotencyShardWorkflow.claim, Claim(key=KEY, fingerprint="1" * 16, number=12))
        assert (forgotten.number, forgotten.replayed) == (12, False)

        await ts_env.sleep(timedelta(hours=25))  # a day without a claim
        await handle.result()
        described = await handle.describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED
