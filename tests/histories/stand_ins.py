"""What a recording starts but does not run, under the real names: children that wait
(their own histories are recorded on their own) and an activity that answers. A module of
their own, so the workflow sandbox does not import the recorder's HTTP clients."""

from __future__ import annotations

from typing import Any

from temporalio import activity, workflow

from domain.directory_user import Withdrawal


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


@activity.defn(name="directory.withdraw_hire")
async def withdraw_hire_stand_in(request: Withdrawal) -> bool:
    return True
