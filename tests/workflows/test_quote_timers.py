"""Quotes under time skipping: reminders on days 7 and 13 and expiry at the end of day 14
in Melbourne, to the second, across the end of daylight saving; after a revision only the
new quote can be approved (an e-mail reply to the old one is refused inside the workflow,
by the same rule the update's validator applies)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from temporalio import activity
from temporalio.worker import Worker

from domain.quote_lines import (
    LineItem,
    QuoteDocument,
    QuoteDraft,
    reminders,
    totals,
    valid_until,
)
from domain.quotes import (
    Channel,
    Decision,
    Order,
    OrderRequest,
    QuoteStart,
    QuoteState,
    Supersede,
)
from domain.sla.deadlines import snapshot_for
from tests.workflows.support import (
    belton_without_holidays,
    delivered_quietly,
    events,
    notice_stand_ins,
    start_ticket,
)
from workflows.quote import QuoteWorkflow

MELBOURNE = ZoneInfo("Australia/Melbourne")
DIRECTOR = "mia.chen@harbourside.example"
orders: list[OrderRequest] = []


@activity.defn(name="place_order")
async def place_order(order: OrderRequest) -> Order:
    orders.append(order)
    return Order(order_id=f"PO-{order.quote_id}", eta=date(2027, 4, 20),
                 install_on=date(2027, 4, 26),
                 install_at=datetime(2027, 4, 26, 17, tzinfo=MELBOURNE))


STAND_INS = [*notice_stand_ins(delivered_quietly), place_order]


async def issue(env, task_queue: str, opened: datetime, title: str = "Website feature"):
    draft = QuoteDraft(title=title, lines=[LineItem(description="Development",
                                                    quantity=Decimal(80),
                                                    unit_price=Decimal(150))])
    ticket = f"TST-{uuid.uuid4().int % 10**6:06d}"
    zone = "Australia/Melbourne"
    document = QuoteDocument(quote_id=ticket, draft=draft, totals=totals(draft),
                             client_name="Harbourside Legal", issued_at=opened,
                             valid_until=valid_until(opened, zone), zone=zone)
    start = QuoteStart(ticket_id=ticket, client_id="belton", opened_at=opened,
                       raised_by="agent:test", sla=snapshot_for(belton_without_holidays(), opened),
                       document=document, pdf_sha256="ab" * 32, directors=[DIRECTOR],
                       requester=DIRECTOR, zone=zone, reminders=reminders(opened, zone))
    return await start_ticket(env.client, QuoteWorkflow, start, task_queue, days=60)


def on_time(event, due: datetime) -> bool:
    return event.due == due and timedelta(0) <= event.at - due < timedelta(seconds=1)


async def test_reminders_on_days_7_and_13_and_expiry_at_the_end_of_day_14(ts_env, task_queue):
    # Issued Thursday 25 March 2027 10:00 in Melbourne (daylight time, +11); daylight
    # saving ends on Sunday 4 April, so day 14 ends at midnight +10: 8 April 14:00 UTC.
    opened = datetime(2027, 3, 25, 10, tzinfo=MELBOURNE)
    await ts_env.sleep(opened - await ts_env.get_current_time())
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[QuoteWorkflow],
                      activities=STAND_INS):
        handle = await issue(ts_env, task_queue, opened)
        await ts_env.sleep(timedelta(days=16))
        late = Decision(approve=True, by=f"director:{DIRECTOR}", director_email=DIRECTOR,
                        channel=Channel.EMAIL)
        await handle.signal(QuoteWorkflow.decide_by_email, late)  # "Approved", too late
        await ts_env.sleep(timedelta(seconds=5))
        view = await handle.query(QuoteWorkflow.view)
    expires = datetime(2027, 4, 9, tzinfo=MELBOURNE)
    assert view.valid_until == expires and expires.utcoffset() == timedelta(hours=10)
    first, second = events(view, "quote_reminder")
    assert on_time(first, datetime(2027, 4, 1, 9, tzinfo=MELBOURNE))   # day 7, +11
    assert on_time(second, datetime(2027, 4, 7, 9, tzinfo=MELBOURNE))  # day 13, +10
    [expired] = events(view, "quote_expired")
    assert on_time(expired, expires)
    assert view.quote_state is QuoteState.EXPIRED and view.status.value == "closed"
    assert view.decision is None and view.refused_decisions == 1
    assert "expired" in events(view, "decision_refused")[0].detail
    await handle.terminate("test done")


async def test_after_a_revision_only_the_new_quote_can_be_approved(ts_env, task_queue):
    opened = await ts_env.get_current_time()
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[QuoteWorkflow],
                      activities=STAND_INS):
        old = await issue(ts_env, task_queue, opened, "Website feature")
        await ts_env.sleep(timedelta(days=2))
        new = await issue(ts_env, task_queue, await ts_env.get_current_time(),
                          "Website feature (revised)")
        new_id = (await new.query(QuoteWorkflow.view)).ticket_id
        await old.execute_update(QuoteWorkflow.supersede,
                                 Supersede(by_quote=new_id, by="agent:test"))
        reply = Decision(approve=True, by=f"director:{DIRECTOR}", director_email=DIRECTOR,
                         channel=Channel.EMAIL)
        await old.signal(QuoteWorkflow.decide_by_email, reply)  # "Approved" to the old one
        approved = await new.execute_update(QuoteWorkflow.decide,
                                            reply.model_copy(update={"channel": Channel.API}))
        await ts_env.sleep(timedelta(minutes=5))
        old_view = await old.query(QuoteWorkflow.view)
        new_view = await new.query(QuoteWorkflow.view)
    assert old_view.quote_state is QuoteState.SUPERSEDED and old_view.decision is None
    assert old_view.refused_decisions == 1
    assert "decide on " + new_id in events(old_view, "decision_refused")[0].detail
    assert approved.decision is not None and approved.decision.pdf_sha256 == "ab" * 32
    assert new_view.quote_state is QuoteState.APPROVED
    assert new_view.order is not None and new_view.order.install_on == date(2027, 4, 26)
    assert [o.quote_id for o in orders if o.quote_id in (new_id, old_view.ticket_id)] == [
        new_id]
    await new.terminate("test done")
