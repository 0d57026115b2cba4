"""One shard of a client's remembered idempotency keys (see domain/idempotency.py).

Started on first use by update-with-start; forgets keys after 24 hours, continues as new
when its history grows, and completes after a day without a claim (nothing is left to
remember then; the next claim starts it again)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.idempotency import REMEMBER_SECONDS, Claim, ClaimResult, ShardState


@workflow.defn
class IdempotencyShardWorkflow:
    @workflow.init
    def __init__(self, state: ShardState) -> None:
        self.state = state
        self._claimed = False

    @workflow.run
    async def run(self, state: ShardState) -> None:
        while True:
            self._claimed = False
            try:
                await workflow.wait_condition(
                    lambda: self._claimed or workflow.info().is_continue_as_new_suggested(),
                    timeout=timedelta(seconds=REMEMBER_SECONDS),
                    timeout_summary="a day without a claim: forget everything")
            except TimeoutError:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._claimed:
                    return
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.state)

    @workflow.update
    def claim(self, claim: Claim) -> ClaimResult:
        self._claimed = True
        now = int(workflow.now().timestamp())
        self.state.entries = {k: v for k, v in self.state.entries.items()
                              if now - v[2] < REMEMBER_SECONDS}
        known = self.state.entries.get(claim.key)
        if known is not None:
            return ClaimResult(number=known[0], replayed=True,
                               fingerprint_matches=known[1] == claim.fingerprint)
        self.state.entries[claim.key] = (claim.number, claim.fingerprint, now)
        return ClaimResult(number=claim.number)
