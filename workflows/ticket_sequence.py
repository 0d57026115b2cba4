"""One durable counter per client: ticket numbers without a database.

API replicas lease blocks of numbers (a gap after a restart is fine; a duplicate never
is). An ``Idempotency-Key`` gets a single number that a retried request gets again.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.sequence import Lease, LeaseRequest, SequenceState

IDEMPOTENCY_WINDOW = timedelta(hours=24)


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
        now = workflow.now()
        self.state.remembered = {
            key: seen for key, seen in self.state.remembered.items()
            if now - seen[2] < IDEMPOTENCY_WINDOW
        }
        key = request.idempotency_key
        if key is not None and key in self.state.remembered:
            number, fingerprint, _ = self.state.remembered[key]
            return Lease(first=number, count=1, replayed=True,
                         fingerprint_matches=fingerprint == request.fingerprint)
        if key is not None and request.number is not None:  # numbered from the API's block
            self.state.remembered[key] = (request.number, request.fingerprint or "", now)
            return Lease(first=request.number, count=1)
        first = self.state.next_number
        self.state.next_number += request.count
        if key is not None:
            self.state.remembered[key] = (first, request.fingerprint or "", now)
        return Lease(first=first, count=request.count)

    @lease.validator
    def _validate_lease(self, request: LeaseRequest) -> None:
        if request.idempotency_key is not None and request.count != 1:
            raise ApplicationError("an idempotent lease is for exactly one number")

    @workflow.query
    def peek(self) -> SequenceState:
        return self.state
