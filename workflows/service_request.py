"""A service request on the ticket core: its promise (5 business days for a basic request,
15 minutes for a quick answer, booked within 3 business days for a mini-consult, or the
schedule agreed for billable work) is a target on the ticket's SLA clock, with the
policy's warnings, the breach and the escalation ladder; pending and on hold pause it."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.ids import TicketKind
    from domain.quotes import QuoteNews
    from domain.refusals import Refusal
    from domain.service_requests import (
        FULFILMENT,
        SCHEDULE_AHEAD_MAX,
        SCHEDULED,
        RequestIntake,
        RequestStart,
        RequestState,
        RequestType,
        RequestView,
        ScheduleAgreed,
        promised_target,
    )
    from domain.sla.clock import ClockTarget, SlaClockState
    from domain.sla.policy import Priority
    from domain.sla.timeline import from_us, to_us
    from domain.tickets import DONE, TicketEvent
    from workflows.ticket import TicketWorkflow, ticket_kind


@ticket_kind(TicketKind.SERVICE_REQUEST, RequestView)
@workflow.defn
class ServiceRequestWorkflow(TicketWorkflow):
    state: RequestState

    @workflow.init
    def __init__(self, start: RequestStart) -> None:
        self.start = start
        self.setup(start.state or self.initial_state(start), start.sla, start.rules)
        if self.state.request is None:  # a run carried over from before requests were kept
            self.state.request = RequestIntake.of(start.form)

    @staticmethod
    def initial_state(start: RequestStart) -> RequestState:
        form = start.form
        target = promised_target(form, start.sla.business_day_seconds)
        state = RequestState(
            request=RequestIntake.of(start.form),
            ticket_id=start.ticket_id, client_id=start.client_id, subject=form.subject,
            opened_at=start.opened_at, technical_contact=form.requester.email,
            clock=SlaClockState(priority=Priority.P4, priority_targets=False,
                                opened_at=start.opened_at,
                                extra=[target] if target is not None else []),
            request_type=form.type, change=form.change, advisory_tier=form.advisory_tier,
            description=form.description)
        if target is not None and target.length is not None:  # due, as the clock will say
            due = start.sla.timeline().deadline(to_us(start.opened_at), target.length.micros)
            state.resolution_due = from_us(due)
        promise = (f"{target.name} target set" if target is not None
                   else "waits for the schedule agreed with the client")
        state.add_event(TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                    detail=f"{form.type.value} request; {promise}"))
        return state

    @workflow.run
    async def run(self, start: RequestStart) -> RequestView:
        await self.run_ticket(fresh=start.state is None)
        return self.state.view()

    def due_instead(self) -> datetime | None:
        return self.clock.due(FULFILMENT) or self.clock.due(SCHEDULED)

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> RequestView:
        return self.state.view()

    @workflow.signal
    def quote_news(self, news: QuoteNews) -> None:
        """A quote of this request was decided, expired or ordered: recorded; an order's
        install date becomes the date the request is due."""
        s = self.state
        if news.quote_id not in s.quotes:
            s.quotes.append(news.quote_id)
        self.record_event(f"quote_{news.quote_state.value}", f"{news.quote_id}: {news.detail}")
        if news.install_at is not None and s.status not in DONE:
            self._schedule(news.install_at, f"install per {news.quote_id}")
        self.mark_changed(publish=False)

    @workflow.update
    def agree_schedule(self, request: ScheduleAgreed) -> RequestView:
        """The date agreed with the client: the request is due then (a mini-consult's
        booking also meets its 3-business-day target)."""
        self._schedule(request.at, request.note, request.by)
        return self.state.view()

    def _schedule(self, at: datetime, note: str = "", by: str = "system") -> None:
        now = workflow.now()
        self.state.scheduled_for = at
        self.clock.meet(SCHEDULED, now)
        self.clock.set_target(ClockTarget(name=FULFILMENT, due_at=at), now)
        self.record_event("scheduled", f"due {at.isoformat()}" + (f": {note}" if note else ""),
                          by=by)
        self.mark_changed()

    @agree_schedule.validator
    def _validate_schedule(self, request: ScheduleAgreed) -> None:
        s = self.state
        if s.status in DONE:
            raise ApplicationError(f"the request is {s.status.value}: reopen it first",
                                   type=Refusal.INVALID_TRANSITION)
        if s.request_type is RequestType.BASIC:
            raise ApplicationError("a basic request is due within 5 business days: it has "
                                   "no schedule to agree", type=Refusal.INVALID_TRANSITION)
        now = workflow.now()
        if request.at <= now:
            raise ApplicationError("the agreed date has passed: send a date in the future",
                                   type=Refusal.INVALID)
        if request.at - now > SCHEDULE_AHEAD_MAX:
            raise ApplicationError("more than a year ahead: agree a date within 12 months",
                                   type=Refusal.INVALID)
