"""A notice that was not sent is never counted as sent: with no SMTP server configured the
ticket records its e-mail as not sent (a `notice_unsent:` event and `notices_unsent`), and a
worker starting without one says so once."""

from __future__ import annotations

import asyncio
import logging

from composition import work_until
from domain.tickets import TicketRecord
from tests.conftest import make_settings
from tests.web.helpers import eventually, incident_body
from worker import NO_SMTP_WARNING


async def settled_view(desk, ticket: str) -> dict:
    """The ticket once every notice it queued has been through its lanes."""

    async def view():
        return (await desk.http.get(f"/v1/tickets/{ticket}",
                                    headers=desk.as_("belton", "agent"))).json()

    def settled(v: dict) -> bool:
        handed = [e for e in v["events"] if e["kind"].startswith(("notified:", "notice_"))]
        return bool(handed) and v["outbox"] == []

    return await eventually(view, settled, timeout=30)


async def test_a_notice_with_no_smtp_server_is_recorded_as_not_sent(desk):
    assert desk.settings.smtp_host is None
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_("belton", "requester"))
    assert made.status_code == 201, made.text
    view = await settled_view(desk, made.json()["ticket_id"])

    assert view["notices_sent"] == 0
    assert view["notices_unsent"] == view["notices_queued"] >= 1
    kinds = [e["kind"] for e in view["events"]]
    assert not [k for k in kinds if k.startswith("notified:")], kinds
    [unsent] = [e for e in view["events"] if e["kind"] == "notice_unsent:ticket_opened"]
    assert "servicedesk@belton.example" in unsent["detail"]  # whom it was for
    assert "no SMTP server" in unsent["detail"] and "TEMPODESK_SMTP_HOST" in unsent["detail"]


async def test_a_mailed_notice_is_counted_as_sent(mailed_desk):
    desk, mailbox = mailed_desk
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_("belton", "requester"))
    ticket = made.json()["ticket_id"]
    view = await settled_view(desk, ticket)

    assert view["notices_sent"] == view["notices_queued"] == len(mailbox.about(ticket)) >= 1
    assert view["notices_unsent"] == 0
    assert not [e for e in view["events"] if e["kind"].startswith("notice_unsent:")]


async def test_a_worker_without_smtp_warns_once_at_start(dev_client, config, task_queue,
                                                         caplog):
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="worker"):
        running = asyncio.create_task(work_until(
            dev_client, make_settings(task_queue=task_queue), config, stop))
        await eventually(lambda: caplog.messages, lambda m: NO_SMTP_WARNING in m, timeout=30)
        stop.set()
        await running
    assert caplog.messages.count(NO_SMTP_WARNING) == 1


def test_state_from_before_the_counters_numbers_notices_on_from_notices_sent():
    """A ticket continued as new by the old code carries notices_sent (which numbered its
    notices then) and no notices_queued: numbering goes on after it, so no id repeats."""
    old = {"kind": "incident", "ticket_id": "BEL-000001", "client_id": "belton",
           "subject": "Printer", "opened_at": "2026-12-01T09:00:00+11:00",
           "technical_contact": "jo@harbourside.example", "notices_sent": 7}
    carried = TicketRecord.model_validate(old)
    assert (carried.notices_queued, carried.notices_sent) == (7, 7)
    current = TicketRecord.model_validate({**old, "notices_queued": 9, "notices_sent": 2})
    assert (current.notices_queued, current.notices_sent) == (9, 2)
