"""Ticket numbers leased in blocks from each client's sequence workflow.

A block is leased by one update; the next block is fetched in the background once half of
the current one is used, so requests do not wait on the sequence. The sequence runs on its
own task queue, so a lease never queues behind a burst of new tickets. Numbers left in a
block when the API stops are never reused (a gap, never a duplicate). Idempotent requests
get the next number of the same pool; the key is remembered for 24 hours by one of the
client's idempotency shards (see domain/idempotency.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from domain.idempotency import Claim, ClaimResult, ShardState
from domain.ids import (
    idempotency_workflow_id,
    parse_ticket_id,
    sequence_task_queue,
    sequence_workflow_id,
    ticket_id,
)
from domain.sequence import Lease, LeaseRequest, SequenceState
from workflows.idempotency_shard import IdempotencyShardWorkflow
from workflows.ticket_sequence import TicketSequenceWorkflow


@dataclass
class _Pool:
    ranges: list[list[int]] = field(default_factory=list)  # [next, end) pairs
    refill: asyncio.Task[Lease] | None = None

    def remaining(self) -> int:
        return sum(end - start for start, end in self.ranges)


def _taken(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()


def _start_failure_taken(start: WithStartWorkflowOperation) -> None:
    """An update-with-start whose call failed before its workflow started leaves the same
    failure in the start's own future (the SDK sets it there, and nobody waits on it):
    taken, or it is logged as never retrieved once collected."""
    asyncio.ensure_future(start.workflow_handle()).add_done_callback(_taken)


class TicketNumbers:
    def __init__(self, client: Client, task_queue: str, block: int = 100) -> None:
        self.client = client
        self.task_queue = sequence_task_queue(task_queue)
        self.block = block
        self._pools: dict[str, _Pool] = {}

    async def _lease(self, prefix: str, request: LeaseRequest) -> Lease:
        start = WithStartWorkflowOperation(
            TicketSequenceWorkflow.run, SequenceState(prefix=prefix),
            id=sequence_workflow_id(prefix), task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        try:
            return await self.client.execute_update_with_start_workflow(
                TicketSequenceWorkflow.lease, request, start_workflow_operation=start)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            _start_failure_taken(start)
            raise

    def _refill(self, prefix: str, pool: _Pool) -> asyncio.Task[Lease]:
        if pool.refill is None:
            pool.refill = asyncio.create_task(self._lease(prefix, LeaseRequest(count=self.block)))
            # A failed refill is told to the request that takes from the pool next (its
            # result() raises); if none comes (the API stopping), it is not an error to log.
            pool.refill.add_done_callback(_taken)
        return pool.refill

    async def next(self, prefix: str) -> str:
        return ticket_id(prefix, await self._take(prefix))

    async def _take(self, prefix: str) -> int:
        pool = self._pools.setdefault(prefix, _Pool())
        while True:
            if pool.refill is not None and pool.refill.done():
                task, pool.refill = pool.refill, None
                lease = task.result()  # a failed lease fails this request; the next retries
                pool.ranges.append([lease.first, lease.first + lease.count])
            if pool.ranges:
                current = pool.ranges[0]
                number = current[0]
                current[0] += 1
                if current[0] >= current[1]:
                    pool.ranges.pop(0)
                if pool.remaining() < self.block // 2:
                    self._refill(prefix, pool)
                return number
            await asyncio.wait([self._refill(prefix, pool)])

    async def for_key(self, prefix: str, key: str, fingerprint: str,
                      ) -> tuple[str, ClaimResult]:
        """The number for an idempotent request: the next of this process's numbers (one
        numbering path, in issue order), unless the key's shard remembers the key - then
        the number it had, and ours goes back to the front of the pool."""
        number = await self._take(prefix)
        start = WithStartWorkflowOperation(
            IdempotencyShardWorkflow.run, ShardState(), id=idempotency_workflow_id(prefix, key),
            task_queue=self.task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        try:
            claimed = await self.client.execute_update_with_start_workflow(
                IdempotencyShardWorkflow.claim,
                Claim(key=key, fingerprint=fingerprint, number=number),
                start_workflow_operation=start)
        except WorkflowUpdateFailedError:  # refused by the shard: the number is unused
            self._give_back(prefix, number)
            raise
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError):
            _start_failure_taken(start)
            raise
        # Any other failure (e.g. the server died after recording the claim, before it
        # answered) leaves the number possibly the key's: a gap, never a duplicate.
        if claimed.number != number:
            self._give_back(prefix, number)
        return ticket_id(prefix, claimed.number), claimed

    def give_back(self, ticket: str) -> None:
        """A number taken but not used (e.g. an alert that joined an open incident) goes
        back to this process's pool, in order, so the next ticket gets it."""
        prefix, number = parse_ticket_id(ticket)
        self._give_back(prefix, number)

    def _give_back(self, prefix: str, number: int) -> None:
        ranges = self._pools.setdefault(prefix, _Pool()).ranges
        at = next((i for i, (start, _) in enumerate(ranges) if start > number), len(ranges))
        ranges.insert(at, [number, number + 1])
