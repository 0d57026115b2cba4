"""One durable counter per client: ticket numbers without a database.

API replicas lease blocks of numbers (a gap after a restart is fine; a duplicate never
is). Idempotency keys live in their own shards (workflows/idempotency_shard.py), so this
state stays one counter.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.sequence import Lease, LeaseRequest, SequenceState



@workflow.defn
class TicketSequenceWorkflow:
    @workflow.init
    def __init__(self, state: SequenceState) -> None:
        self.state = state

    @workflow.run
    async def run(self, state: SequenceState) -> None:
        await workflow.wait_condition(lambda: workflow.info().is_continue_as_new_suggested())
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self.state)

    @workflow.update
    def lease(self, request: LeaseRequest) -> Lease:
        first = self.state.next_number
        self.state.next_number += request.count
        return Lease(first=first, count=request.count)

    @workflow.query
    def peek(self) -> SequenceState:
        return self.state
