"""A user exit that continued as new before the leaver rule carries a state naming the
leaver as its contact (issue 18): running on this code, it names nobody but the desk, so
its later notices (access revoked) do not reach the leaver. Time skipping, stand-in
providers, and a notice stand-in that keeps what it was given."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio.worker import Worker

from domain.notifications import Notice, NoticeDelivery, NoticeReceipt
from domain.offboarding import OffboardingStart
from domain.sla.deadlines import snapshot_for
from tests.workflows import test_offboarding_timers as exits
from tests.workflows.support import belton_without_holidays, notice_stand_ins, start_ticket
from workflows.offboarding import OffboardingWorkflow

LEAVER = "jo.tran@harbourside.example"


async def test_an_exit_carried_over_naming_the_leaver_stops_naming_them(ts_env, task_queue):
    given: list[Notice] = []

    async def keep(delivery: NoticeDelivery) -> NoticeReceipt:
        given.append(delivery.notice)
        return NoticeReceipt()

    exits.identity_down_until = None
    effective = await exits.opened_now(ts_env)
    start = OffboardingStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id="belton",
        opened_at=effective, raised_by="hr:test", effective_at=effective,
        form=exits.exit_form(manager=None, hardware=[]),
        sla=snapshot_for(belton_without_holidays(), effective))
    before_the_rule = OffboardingWorkflow.initial_state(start).model_copy(
        update={"technical_contact": LEAVER})
    carried = start.model_copy(update={"state": before_the_rule})
    providers = [a for a in exits.STAND_INS if a.__name__ != "deliver_notices"]
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=[*providers, *notice_stand_ins(keep)]):
        handle = await start_ticket(ts_env.client, OffboardingWorkflow, carried, task_queue,
                                    days=100)
        await ts_env.sleep(timedelta(hours=2))
        view = await handle.query(OffboardingWorkflow.view)
    assert view.access_revoked_at is not None
    assert view.technical_contact == ""
    revoked = [n for n in given if n.event == "access_revoked"]
    assert revoked, [n.event for n in given]
    for notice in given:
        assert LEAVER not in [*notice.recipients, *notice.unverified], notice.event
