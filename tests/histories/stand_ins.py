"""Children a recording starts but does not run (their own histories are recorded on
their own): under the real types' names, they wait. A module of their own, so the
workflow sandbox does not import the recorder's HTTP clients."""

from __future__ import annotations

from typing import Any

from temporalio import workflow


@workflow.defn(name="OnboardingWorkflow")
class OnboardingStandIn:
    @workflow.run
    async def run(self, start: Any) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn(name="OffboardingWorkflow")
class OffboardingStandIn:
    @workflow.run
    async def run(self, start: Any) -> None:
        await workflow.wait_condition(lambda: False)
