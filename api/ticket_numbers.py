"""Ticket numbers leased in blocks from each client's sequence workflow.

One update per block keeps intake fast; numbers left in a block when the API stops are
never reused (a gap, never a duplicate). Idempotent requests get one number each,
remembered by the sequence for 24 hours.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from domain.ids import sequence_workflow_id, ticket_id
from domain.sequence import Lease, LeaseRequest, SequenceState
from workflows.ticket_sequence import TicketSequenceWorkflow


class TicketNumbers:
    def __init__(self, client: Client, task_queue: str, block: int = 25) -> None:
        self.client = client
        self.task_queue = task_queue
        self.block = block
        self._blocks: dict[str, tuple[int, int]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _lease(self, prefix: str, request: LeaseRequest) -> Lease:
        start = WithStartWorkflowOperation(
            TicketSequenceWorkflow.run, SequenceState(prefix=prefix),
            id=sequence_workflow_id(prefix), task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return await self.client.execute_update_with_start_workflow(
            TicketSequenceWorkflow.lease, request, start_workflow_operation=start)

    async def next(self, prefix: str) -> str:
        lock = self._locks.setdefault(prefix, asyncio.Lock())
        async with lock:
            first, end = self._blocks.get(prefix, (0, 0))
            if first >= end:
                lease = await self._lease(prefix, LeaseRequest(count=self.block))
                first, end = lease.first, lease.first + lease.count
            self._blocks[prefix] = (first + 1, end)
            return ticket_id(prefix, first)

    async def for_key(self, prefix: str, key: str, fingerprint: str) -> tuple[str, Lease]:
        lease = await self._lease(prefix, LeaseRequest(idempotency_key=key,
                                                       fingerprint=fingerprint))
        return ticket_id(prefix, lease.first), lease
