"""What a SCIM user's workflow asks of their onboarding: a workflow cannot send another an
update, so this activity withdraws a hire (the onboarding's own ``cancel`` update, whose
validator decides) and says whether it did. Safe to run twice: a retry that finds the
cancellation it made (at or after ``asked_at``) reports it as done."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage

from domain.directory_user import WITHDRAWN_REASON, Withdrawal, hire_withdrawable
from domain.ids import TicketKind, workflow_id
from domain.onboarding import Cancellation, OnboardingView


class DirectoryActivities:
    def __init__(self, client: Client) -> None:
        self.client = client

    def all(self) -> list:
        return [self.withdraw_hire]

    @activity.defn(name="directory.withdraw_hire")
    async def withdraw_hire(self, request: Withdrawal) -> bool:
        handle = self.client.get_workflow_handle(
            workflow_id(TicketKind.ONBOARDING, request.onboarding_ticket))
        view = await handle.query("view", result_type=OnboardingView)
        if view.cancelled_at is not None and view.cancelled_at >= request.asked_at:
            return True  # this request's cancellation, made by an attempt before
        if not hire_withdrawable(view, datetime.now(UTC)):
            return False
        try:  # accepted is enough: the undoing goes on in the workflow, retried
            await handle.start_update(
                "cancel", Cancellation(reason=WITHDRAWN_REASON, by=request.by),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=OnboardingView)
        except WorkflowUpdateFailedError:
            return False  # finished meanwhile: the exit it needs is opened instead
        return True
