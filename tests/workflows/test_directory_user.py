"""A SCIM directory user's workflow on the dev server (its validators answer properly
there): stale versions refused, one user-exit claim, state kept across continue-as-new
(the fixture suggests it after 60 events), and a deletion that completes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.worker import Worker

from domain.directory_user import (
    Deletion,
    DirectoryUser,
    DirectoryUserStart,
    ExitClaim,
    Replacement,
    TicketLink,
)
from domain.ids import TicketKind, directory_user_key, directory_user_workflow_id
from workflows.directory_user import VERSION_MISMATCH, DirectoryUserWorkflow

pytestmark = pytest.mark.devserver


async def test_versions_claims_and_continue_as_new(dev_client, task_queue):
    now = datetime.now(UTC)
    user_id = directory_user_key(f"c-{task_queue}", "jo.tran@harbourside.example")
    user = DirectoryUser(client_id=f"c-{task_queue}", user_id=user_id, created_at=now,
                         modified_at=now, resource={"userName": "jo.tran@harbourside.example"})
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow]):
        handle = await dev_client.start_workflow(
            DirectoryUserWorkflow.run, DirectoryUserStart(user=user),
            id=directory_user_workflow_id(user.client_id, user_id), task_queue=task_queue,
            execution_timeout=timedelta(minutes=2))
        first_run = handle.result_run_id
        with pytest.raises(WorkflowUpdateFailedError) as stale:
            await handle.execute_update(DirectoryUserWorkflow.replace, Replacement(
                resource={"userName": "jo@harbourside.example"}, expected_version=5))
        assert stale.value.cause.type == VERSION_MISMATCH
        for title in range(40):  # enough events for the server to suggest continue-as-new
            await handle.execute_update(DirectoryUserWorkflow.replace, Replacement(
                resource={"userName": "jo.tran@harbourside.example", "title": str(title)}))
        granted = await handle.execute_update(DirectoryUserWorkflow.claim_exit,
                                              ExitClaim(by="integration:test"))
        again = await handle.execute_update(DirectoryUserWorkflow.claim_exit,
                                            ExitClaim(by="integration:test"))
        assert granted.granted and not again.granted
        await handle.execute_update(DirectoryUserWorkflow.link_ticket,
                                    TicketLink(kind=TicketKind.OFFBOARDING,
                                               ticket_id="BEL-000042"))
        after = await handle.execute_update(DirectoryUserWorkflow.claim_exit,
                                            ExitClaim(by="integration:test"))
        assert not after.granted and after.offboarding_ticket == "BEL-000042"
        view = await handle.query(DirectoryUserWorkflow.view)
        assert view.version == 41 and view.resource["title"] == "39"
        assert (await handle.describe()).run_id != first_run  # continued as new, state kept
        await handle.execute_update(DirectoryUserWorkflow.delete, Deletion(expected_version=41))
        await handle.result()
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
