"""An incident: the ticket core (SLA clock, lifecycle, notices) plus what only incidents
have - priority from impact x urgency or severity, reprioritisation, merging duplicates
into the newest report, post-mortems for preventable P1/P2s and billable on-call time."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.ids import TicketKind, post_mortem_workflow_id, workflow_id
    from domain.incidents import (
        DuplicateMerged,
        IncidentIntake,
        IncidentStart,
        IncidentState,
        IncidentView,
        MergeRequest,
        Reprioritisation,
    )
    from domain.post_mortems import PostMortemStart
    from domain.refusals import Refusal
    from domain.sla.clock import SlaClockState
    from domain.sla.policy import Priority
    from domain.sla.timeline import US, to_us
    from domain.tickets import DONE, WORKED, Status, TicketEvent, Transition
    from workflows.post_mortem import PostMortemWorkflow
    from workflows.ticket import TicketWorkflow, ticket_kind


@ticket_kind(TicketKind.INCIDENT, IncidentView)
@workflow.defn
class IncidentWorkflow(TicketWorkflow):
    state: IncidentState

    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        self.start = start
        self.setup(start.state or self.initial_state(start), start.sla, start.rules)
        if self.state.request is None:  # a run carried over from before requests were kept
            self.state.request = IncidentIntake.of(start.report)

    @staticmethod
    def initial_state(start: IncidentStart) -> IncidentState:
        """The state at intake (the API answers with its view before the workflow runs)."""
        priority = start.priority.priority
        deadlines = start.sla.deadlines(priority, start.opened_at)
        state = IncidentState(
            request=IncidentIntake.of(start.report),
            ticket_id=start.ticket_id,
            client_id=start.client_id,
            subject=start.report.subject,
            opened_at=start.opened_at,
            technical_contact=start.report.technical_contact.email,
            contact_unconfirmed=start.contact_unconfirmed,
            clock=SlaClockState(priority=priority, opened_at=start.opened_at),
            priority_rule=start.priority.rule,
            channel=start.report.channel,
            response_due=deadlines.response_due,
            resolution_due=deadlines.resolution_due,
        )
        state.add_event(TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                    detail=f"{priority}: {start.priority.rule}"))
        return state

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentView:
        await self.run_ticket(fresh=start.state is None)
        return self.state.view()

    # ------------------------------------------------------------------ the core's hooks

    def finish_at(self) -> datetime | None:
        s = self.state
        if s.status is Status.CLOSED and s.closed_at is not None and s.merged_into is not None:
            return s.closed_at
        return super().finish_at()

    def work_refused(self) -> str | None:
        if self.state.merged_into is not None:
            return f"merged into {self.state.merged_into}: work on that ticket instead"
        return None

    def on_status(self, request: Transition, old: Status, now: datetime) -> None:
        s = self.state
        if old in WORKED and request.to not in WORKED and s.work_periods:
            s.work_periods[-1] = (s.work_periods[-1][0], now)
        if request.to in WORKED and old not in WORKED:
            s.work_periods.append((now, None))
        if request.to is Status.RESOLVED:
            s.preventable = request.preventable
            self._record_on_call()

    def on_closed(self) -> None:
        s = self.state
        if s.preventable and s.clock.priority in (Priority.P1, Priority.P2) and (
                s.post_mortem is None):
            s.post_mortem = post_mortem_workflow_id(s.ticket_id)  # see between_moments

    async def between_moments(self) -> None:
        """Closing is synchronous (timers close tickets too), so it only marks a
        post-mortem as due; the loop starts it here, once."""
        s = self.state
        if s.post_mortem is None or s.post_mortem_started:
            return
        due = self.business_after(workflow.now(), "5bd")
        s.post_mortem_started = True
        await workflow.start_child_workflow(
            PostMortemWorkflow.run,
            PostMortemStart(incident=s.ticket_id, client_id=s.client_id, subject=s.subject,
                            technical_contact=s.technical_contact, due_at=due),
            id=s.post_mortem, parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            static_summary=f"Post-mortem of {s.ticket_id}, due {due:%Y-%m-%d}")
        self.record_event("post_mortem_opened", f"{s.post_mortem} with {s.technical_contact}, due "
                          f"{due.isoformat()}")

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> IncidentView:
        return self.state.view()

    @workflow.update
    def reprioritise(self, request: Reprioritisation) -> IncidentView:
        s = self.state
        old = s.clock.priority
        self.clock.reprioritise(request.priority, workflow.now())
        s.priority_rule = f"reprioritised from {old.value}: {request.reason}"
        self.record_event("reprioritised", f"{old.value} -> {request.priority.value}: "
                          f"{request.reason}", by=request.by)
        self.mark_changed()
        return s.view()

    @reprioritise.validator
    def _validate_reprioritise(self, request: Reprioritisation) -> None:
        if self.state.status in DONE:
            raise ApplicationError("a resolved or closed ticket keeps its priority",
                                   type=Refusal.INVALID_TRANSITION)
        if request.priority is self.state.clock.priority:
            raise ApplicationError(f"the ticket is already {request.priority.value}",
                                   type=Refusal.ALREADY_DONE)

    @workflow.update
    async def merge_into(self, request: MergeRequest) -> IncidentView:
        s = self.state
        s.merged_into = request.survivor
        self.record_event("merged", f"duplicate of {request.survivor}", by=request.by)
        self.close_ticket(by=request.by, reason=f"merged into {request.survivor}", survey=False)
        survivor = workflow.get_external_workflow_handle_for(
            IncidentWorkflow.run, workflow_id(TicketKind.INCIDENT, request.survivor))
        await survivor.signal(IncidentWorkflow.duplicate_merged, DuplicateMerged(
            ticket_id=s.ticket_id, subject=s.subject, by=request.by))
        return s.view()

    @merge_into.validator
    def _validate_merge(self, request: MergeRequest) -> None:
        if request.survivor == self.state.ticket_id:
            raise ApplicationError("a ticket cannot be merged into itself", type=Refusal.INVALID)
        if self.state.status is Status.CLOSED:
            raise ApplicationError("the ticket is already closed", type=Refusal.INVALID_TRANSITION)

    @workflow.signal
    def duplicate_merged(self, merged: DuplicateMerged) -> None:
        self.state.duplicates.append(merged.ticket_id)
        del self.state.duplicates[:-100]
        self.record_event("duplicate_merged", f"{merged.ticket_id}: {merged.subject}", by=merged.by)
        self.mark_changed(publish=False)

    # ------------------------------------------------------------------ helpers

    def _record_on_call(self) -> None:
        """P1 work outside business hours is billable on-call time (TechBento)."""
        s = self.state
        if s.clock.priority is not Priority.P1:
            return
        total = business = 0
        for start, end in s.work_periods:
            if end is None:
                continue
            total += to_us(end) - to_us(start)
            business += self.business_between(start, end)
        after_hours = (total - business) // US
        if after_hours > s.on_call_seconds:
            minutes = round((after_hours - s.on_call_seconds) / 60)
            self.record_event("on_call", f"{minutes} min after hours, billable")
            s.on_call_seconds = after_hours
