"""An incident's life: intake -> SLA clocks -> resolution -> closure."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from domain.incidents import IncidentStart, IncidentView, Status, TicketEvent
    from domain.notifications import Notice

NOTIFY_TIMEOUT = timedelta(minutes=5)


@workflow.defn
class IncidentWorkflow:
    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        self.start = start
        self.state = self.initial_view(start)

    @staticmethod
    def initial_view(start: IncidentStart) -> IncidentView:
        """The view at intake (the API answers with it before the workflow runs)."""
        deadlines = start.sla.deadlines(start.opened_at)
        return IncidentView(
            ticket_id=start.ticket_id,
            client_id=start.client_id,
            status=Status.NEW,
            priority=start.priority.priority,
            priority_rule=start.priority.rule,
            subject=start.report.subject,
            channel=start.report.channel,
            opened_at=start.opened_at,
            response_due=deadlines.response_due,
            resolution_due=deadlines.resolution_due,
            events=[TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                detail=f"{start.priority.priority}: {start.priority.rule}")],
        )

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentView:
        await self._notify("ticket_opened", f"Logged: {start.report.subject}",
                           recipients=[start.report.technical_contact.email])
        await workflow.wait_condition(lambda: self.state.status is Status.CLOSED)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    @workflow.query
    def view(self) -> IncidentView:
        return self.state

    async def _notify(self, event: str, subject: str, recipients: list[str]) -> None:
        notice = Notice(
            notice_id=f"{workflow.info().workflow_id}:{event}:{len(self.state.events)}",
            client_id=self.start.client_id,
            ticket_id=self.start.ticket_id,
            occurred_at=workflow.now(),
            event=event,
            subject=subject,
            recipients=recipients,
            context={
                "priority": self.state.priority.value,
                "subject": self.state.subject,
                "status": self.state.status.value,
                "response_due": _iso(self.state.response_due),
                "resolution_due": _iso(self.state.resolution_due),
            },
        )
        receipt = await workflow.execute_activity_method(
            NotificationActivities.notify, notice, start_to_close_timeout=NOTIFY_TIMEOUT)
        detail = ", ".join(receipt.emailed + receipt.webhooks + receipt.skipped)
        self.state.events.append(TicketEvent(at=workflow.now(), kind=f"notified:{event}",
                                             detail=detail))


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None

