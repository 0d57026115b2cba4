"""A leaver's user exit is one durable update of their directory user's workflow
(``open_exit``: claim, start the offboarding, link it), not three calls from the API: a
worker that dies part-way leaves no half exit - the exit completes when a worker comes
back, once. On the dev server (updates, child workflows)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    Interceptor,
    StartChildWorkflowInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from domain.directory_user import (
    DirectoryUser,
    DirectoryUserStart,
    ExitOrder,
    Leaving,
    OnboardingOrder,
    Replacement,
)
from domain.ids import TicketKind, directory_user_key, directory_user_workflow_id, workflow_id
from domain.offboarding import OffboardingStart
from domain.onboarding import OnboardingStart, induction_slot
from domain.sla.deadlines import snapshot_for
from tests.web.helpers import eventually
from tests.workflows.support import belton_without_holidays
from tests.workflows.test_offboarding_timers import exit_form
from tests.workflows.test_onboarding_timers import joiner_form
from workflows.directory_user import DirectoryUserWorkflow

pytestmark = pytest.mark.devserver


class _Outbound(WorkflowOutboundInterceptor):
    deaths = 0   # the class object is shared with the test (interceptors are not sandboxed)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        _Outbound.deaths += 1
        raise RuntimeError("the worker dies as it starts the user exit")


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class DiesOpeningTickets(Interceptor):
    """A worker that dies after the claim is decided, before the offboarding is started."""

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return _Inbound


def _order(client_id: str, now: datetime) -> ExitOrder:
    ticket = f"TST-{uuid.uuid4().int % 10**6:06d}"
    start = OffboardingStart(ticket_id=ticket, client_id=client_id, opened_at=now,
                             raised_by="integration:test", form=exit_form(), effective_at=now,
                             sla=snapshot_for(belton_without_holidays(), now))
    return ExitOrder(start=start, summary=f"{ticket} user exit")


async def _user(client: Client, task_queue: str, active: bool = False) -> WorkflowHandle:
    now = datetime.now(UTC)
    client_id = f"c-{task_queue}"
    user_id = directory_user_key(client_id, "jo.tran@harbourside.example")
    user = DirectoryUser(client_id=client_id, user_id=user_id, created_at=now, modified_at=now,
                         resource={"userName": "jo.tran@harbourside.example", "active": active})
    # A short task timeout: the dead worker's task moves to the next worker soon.
    return await client.start_workflow(
        DirectoryUserWorkflow.run, DirectoryUserStart(user=user),
        id=directory_user_workflow_id(client_id, user_id), task_queue=task_queue,
        execution_timeout=timedelta(minutes=2), task_timeout=timedelta(seconds=2))


async def _exists(client: Client, workflow: str) -> bool:
    try:
        await client.get_workflow_handle(workflow).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_a_worker_dying_mid_exit_leaves_no_half_exit(dev_client, task_queue):
    handle = await _user(dev_client, task_queue)
    order = _order(f"c-{task_queue}", datetime.now(UTC))
    exit_id = workflow_id(TicketKind.OFFBOARDING, order.start.ticket_id)
    # Only the user's workflow runs here: the exit it starts waits for a worker of its own.
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow],
                      interceptors=[DiesOpeningTickets()]):
        call = asyncio.create_task(handle.execute_update(DirectoryUserWorkflow.open_exit, order))
        await eventually(lambda: _Outbound.deaths, lambda n: n >= 1)
        assert not call.done()
        assert not await _exists(dev_client, exit_id)
    # The worker is back: the same call completes, the exit is started and linked.
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow]):
        opened = await asyncio.wait_for(call, timeout=60)
        assert opened.opened and opened.user.offboarding_ticket == order.start.ticket_id
        assert opened.user.exit_claimed_at is None
        assert await _exists(dev_client, exit_id)
        again = await handle.execute_update(DirectoryUserWorkflow.open_exit,
                                            _order(f"c-{task_queue}", datetime.now(UTC)))
        assert not again.opened and again.user.offboarding_ticket == order.start.ticket_id
        view = await handle.query(DirectoryUserWorkflow.view)
        assert view.offboarding_ticket == order.start.ticket_id
    await dev_client.get_workflow_handle(exit_id).terminate("test over")
    await handle.terminate("test over")


async def test_a_deactivation_is_never_kept_without_its_exit(dev_client, task_queue):
    """Before, the API stored the deactivation, then opened the exit: a crash between left
    an inactive user, and a retried deactivation of an inactive user opens nothing."""
    handle = await _user(dev_client, task_queue, active=True)
    order = _order(f"c-{task_queue}", datetime.now(UTC))
    leaving = Leaving(replacement=Replacement(resource={
        "userName": "jo.tran@harbourside.example", "active": False}, expected_version=1),
        exit=order)
    deaths = _Outbound.deaths
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow],
                      interceptors=[DiesOpeningTickets()]):
        call = asyncio.create_task(handle.execute_update(DirectoryUserWorkflow.leave, leaving))
        await eventually(lambda: _Outbound.deaths, lambda n: n > deaths)
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow]):
        opened = await asyncio.wait_for(call, timeout=60)
        assert opened.opened and opened.user.resource["active"] is False
        assert opened.user.offboarding_ticket == order.start.ticket_id
        assert opened.user.version == 2
    exit_id = workflow_id(TicketKind.OFFBOARDING, order.start.ticket_id)
    assert await _exists(dev_client, exit_id)
    await dev_client.get_workflow_handle(exit_id).terminate("test over")
    await handle.terminate("test over")


async def test_a_created_hire_gets_the_onboarding_even_if_nobody_asks_again(dev_client,
                                                                           task_queue):
    """Before, the API created the user, then opened the onboarding: a crash between left a
    user without one, and HR's retried create is refused (the name is taken). Now the
    onboarding is in the user's start: the workflow opens and links it by itself."""
    now = datetime.now(UTC)
    client_id = f"c-{task_queue}"
    sla = snapshot_for(belton_without_holidays(), now)
    starts = now + timedelta(days=14)
    ticket = f"TST-{uuid.uuid4().int % 10**6:06d}"
    joiner = OnboardingStart(
        ticket_id=ticket, client_id=client_id, opened_at=now, raised_by="integration:test",
        form=joiner_form(), starts_at=starts, licences=["SPE_E3"], groups=["g-staff"],
        usage_location="AU", notice="3bd", induction_at=induction_slot(sla.timeline(), starts),
        sla=sla)
    user_id = directory_user_key(client_id, "sam.lee@harbourside.example")
    user = DirectoryUser(client_id=client_id, user_id=user_id, created_at=now, modified_at=now,
                         resource={"userName": "sam.lee@harbourside.example"})
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow]):
        handle = await dev_client.start_workflow(
            DirectoryUserWorkflow.run, DirectoryUserStart(
                user=user, onboarding=OnboardingOrder(start=joiner, summary=f"{ticket} hire")),
            id=directory_user_workflow_id(client_id, user_id), task_queue=task_queue,
            execution_timeout=timedelta(minutes=2))
        view = await eventually(lambda: handle.query(DirectoryUserWorkflow.view),
                                lambda v: v.onboarding_ticket is not None)
        assert view.onboarding_ticket == ticket
    onboarding_id = workflow_id(TicketKind.ONBOARDING, ticket)
    assert await _exists(dev_client, onboarding_id)
    await dev_client.get_workflow_handle(onboarding_id).terminate("test over")
    await handle.terminate("test over")


async def test_an_order_of_another_client_is_refused(dev_client, task_queue):
    handle = await _user(dev_client, task_queue)
    async with Worker(dev_client, task_queue=task_queue, workflows=[DirectoryUserWorkflow]):
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(DirectoryUserWorkflow.open_exit,
                                        _order("someone-else", datetime.now(UTC)))
        assert refused.value.cause.type == "NotAllowed"
        assert (await handle.query(DirectoryUserWorkflow.view)).exit_claimed_at is None
    await handle.terminate("test over")

