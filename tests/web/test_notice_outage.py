"""An e-mail outage holds back no clock (house rule 11), on the dev server with real timers.

The SMTP peer refuses connections while a P1 on a seconds-long contract breaches and climbs
its ladder; every SLA event fires at its due instant. When the peer comes back, every notice
arrives exactly once, in the order the ticket queued it."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain import search_attributes as sa
from domain.tenants import TempodeskConfig
from tests.conftest import make_settings, running_desk
from tests.fast_sla import RUNGS, fast_config_dict
from tests.peers import Mailbox, RefusingPort
from tests.tags import unique_tag
from tests.web.helpers import eventually, incident_body

# Temporal fires a timer after a whole number of seconds (a 0.35 s wait fires after ~1 s),
# so an SLA event may come up to 1 s after its instant; anything later is a failure.
LATE_AT_MOST = timedelta(seconds=1.25)


async def test_smtp_outage_delays_no_sla_event_and_loses_no_notice(dev_client, task_queue):
    config = TempodeskConfig.model_validate(fast_config_dict(tag=unique_tag()))
    smtp = RefusingPort()  # nothing listens here yet: connections are refused
    settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1", smtp_port=smtp.port)
    async with running_desk(dev_client, config, settings) as desk:
        created = await desk.http.post("/v1/incidents", json=incident_body(),
                                       headers=desk.as_("belton", "requester"))
        assert created.status_code == 201, created.text
        ticket = created.json()["ticket_id"]
        first_run = (await desk.client.get_workflow_handle(f"incident:{ticket}").describe()).run_id

        async def view() -> dict:
            return (await desk.http.get(f"/v1/tickets/{ticket}",
                                        headers=desk.as_("belton", "agent"))).json()

        # Response breach at 8 s, rungs at 8/11/14 s, resolution breach at 16 s.
        shown = await eventually(view, lambda v: any(
            e["kind"] == "sla_breached:resolution" for e in v["events"]), timeout=40)
        timed = [e for e in shown["events"] if e["due"] is not None]
        for e in shown["events"]:
            print("   ", e["at"][11:23], e["kind"], e["detail"][:60])
        print("\nSLA events during the SMTP outage (lateness = fired - due):")
        for event in timed:
            late = datetime.fromisoformat(event["at"]) - datetime.fromisoformat(event["due"])
            print(f"  {event['kind']:<28} {late.total_seconds() * 1000:8.1f} ms")
            assert timedelta(0) <= late < LATE_AT_MOST, event
        kinds = [e["kind"] for e in timed]
        assert kinds.count("escalated") == len(RUNGS) == shown["escalation_level"]
        assert {"sla_breached:response", "sla_breached:resolution"} <= set(kinds)
        assert len([k for k in kinds if k.startswith("sla_warning")]) == 6

        # Undelivered notices are on the ticket, with attempts and the last error.
        assert shown["notice_failing"] is True
        head = shown["outbox"][0]["lanes"]["email"]
        assert head["attempts"] >= 2 and "connect" in head["last_error"].lower(), head
        described = await desk.client.get_workflow_handle(f"incident:{ticket}").describe()
        assert described.typed_search_attributes.get(sa.NOTICE_FAILING) is True
        # The dev server here suggests continue-as-new every 60 events: the queued notices
        # crossed into new runs and (below) none was lost or sent twice.
        assert described.run_id != first_run

        with Mailbox(port=smtp.release()) as mailbox:  # the peer is back
            final = await eventually(view, lambda v: not v["outbox"], timeout=30)
            mails = mailbox.about(ticket)
        ids = [m["Message-ID"] for m in mails]
        assert len(ids) == len(set(ids)) == final["notices_sent"], ids  # each exactly once
        numbers = [int(i.split(".")[2]) for i in ids]  # <incident.TICKET.N.event@tempodesk>
        assert numbers == sorted(numbers) == list(range(1, final["notices_sent"] + 1))
        assert final["notice_failing"] is False and not final["failed_notices"]
        described = await desk.client.get_workflow_handle(f"incident:{ticket}").describe()
        assert not described.typed_search_attributes.get(sa.NOTICE_FAILING)
