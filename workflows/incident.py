"""An incident's life: intake -> SLA clocks -> resolution -> closure -> survey.

The workflow owns its SLA clocks. One loop sleeps until the earliest pending moment (a
warning, a breach, the next escalation rung, auto-close, the end of the reopen window) or
until a message changes the ticket, then fires whatever is due. Deadlines come from the
calendar snapshot frozen at intake, so replays never move them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.sla import CalendarExtension, SlaActivities
    from domain import search_attributes as sa
    from domain.incidents import (
        ALLOWED,
        PAUSED,
        Assignment,
        CommentIn,
        CsatAnswer,
        DuplicateMerged,
        IncidentStart,
        IncidentView,
        MergeRequest,
        Reprioritisation,
        Status,
        TicketComment,
        TicketEvent,
        Transition,
        is_thanks_only,
    )
    from domain.notifications import Notice, message_id
    from domain.post_mortems import PostMortemStart
    from domain.sla.deadlines import SNAPSHOT_DAYS, Milestone, milestones
    from domain.sla.durations import parse_duration
    from domain.sla.policy import Priority
    from domain.sla.timeline import US, HorizonExceeded, from_us, to_us
    from workflows.post_mortem import PostMortemWorkflow

NOTIFY_TIMEOUT = timedelta(minutes=5)
CALENDAR_MARGIN = timedelta(days=30)  # extend the frozen windows this long before they end
WORKED = frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS})
DONE = frozenset({Status.RESOLVED, Status.CLOSED})


@workflow.defn
class IncidentWorkflow:
    @workflow.init
    def __init__(self, start: IncidentStart) -> None:
        self.start = start
        self.state = start.state or self.initial_view(start)
        self._changed = False
        self._published: dict[str, object] = {}
        self._outbox: list[Notice] = []
        self._timeline = start.sla.timeline()

    @staticmethod
    def initial_view(start: IncidentStart) -> IncidentView:
        """The view at intake (the API answers with it before the workflow runs)."""
        deadlines = start.sla.deadlines(start.priority.priority, start.opened_at)
        return IncidentView(
            ticket_id=start.ticket_id,
            client_id=start.client_id,
            status=Status.NEW,
            priority=start.priority.priority,
            priority_rule=start.priority.rule,
            subject=start.report.subject,
            channel=start.report.channel,
            technical_contact=start.report.technical_contact.email,
            opened_at=start.opened_at,
            response_due=deadlines.response_due,
            resolution_due=deadlines.resolution_due,
            events=[TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                detail=f"{start.priority.priority}: {start.priority.rule}")],
        )

    # ------------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, start: IncidentStart) -> IncidentView:
        if start.state is None:
            self._notify("ticket_opened", f"Logged: {self.state.subject}",
                         [self.state.technical_contact])
        while True:
            if self._calendar_ends() - workflow.now() < CALENDAR_MARGIN:
                await self._extend_calendar()
            await self._send_outbox()
            await self._start_post_mortem_if_due()
            self._refresh()
            finish_at = self._finish_at()
            if finish_at is not None and workflow.now() >= finish_at:
                break
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self.start.model_copy(update={"state": self.state}))
            moments = [self._next_moment(), finish_at]
            if workflow.patched("sla-calendar-extension"):
                moments.append(self._calendar_ends() - CALENDAR_MARGIN)
            wake = min((t for t in moments if t is not None), default=None)
            self._changed = False
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            with contextlib.suppress(TimeoutError):  # a timer fired: see _fire_due
                await workflow.wait_condition(
                    lambda: self._changed or workflow.info().is_continue_as_new_suggested(),
                    timeout=timeout)
            self._fire_due()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._send_outbox()
        await self._start_post_mortem_if_due()
        return self.state

    def _milestones(self) -> list[Milestone]:
        s = self.state
        try:
            return milestones(self.start.sla, s.priority, s.opened_at, s.first_response_at,
                              s.pauses, s.resolved_periods)
        except HorizonExceeded:  # the loop extends the calendar, then asks again
            self._changed = True
            return []

    def _calendar_ends(self) -> datetime:
        return from_us(self.start.sla.windows.valid_until)

    async def _extend_calendar(self) -> None:
        sla = self.start.sla
        later = await workflow.execute_activity_method(
            SlaActivities.extend_calendar,
            CalendarExtension(client_id=self.state.client_id,
                              valid_until=sla.windows.valid_until, days=SNAPSHOT_DAYS),
            start_to_close_timeout=timedelta(minutes=1))
        extended = sla.extended(later)
        self.start = self.start.model_copy(update={"sla": extended})
        self._timeline = extended.timeline()
        self._event("sla_calendar_extended",
                    f"working windows known until {self._calendar_ends().isoformat()}")

    def _pending_milestones(self) -> list[Milestone]:
        s = self.state
        if s.status in DONE:
            return []
        return [m for m in self._milestones()
                if m.key not in s.warnings_sent
                and not (m.clock == "response" and s.first_response_at is not None)]

    def _ladder_moment(self) -> datetime | None:
        s = self.state
        ladder = self.start.sla.ladder
        if s.breached_at is None or s.status in DONE or s.escalation_level >= len(ladder):
            return None
        return s.breached_at + timedelta(seconds=ladder[s.escalation_level].after_seconds)

    def _auto_close_at(self) -> datetime | None:
        if self.state.status is not Status.RESOLVED or self.state.resolved_at is None:
            return None
        return self._business_after(self.state.resolved_at, self.start.rules.auto_close_after)

    def _finish_at(self) -> datetime | None:
        """A closed ticket lives on until its reopen window and its survey have ended."""
        s = self.state
        if s.status is not Status.CLOSED or s.closed_at is None:
            return None
        if s.merged_into is not None:
            return s.closed_at
        ends = [self._business_after(s.resolved_at or s.closed_at, self.start.rules.reopen_window)]
        if s.csat_score is None and s.survey_expires_at is not None:
            ends.append(s.survey_expires_at)
        return max(ends)

    def _next_moment(self) -> datetime | None:
        moments = [m.at for m in self._pending_milestones()[:1]]
        rung = self._ladder_moment()
        # The ladder waits while the ticket is paused (_fire_due skips it); without this a
        # rung falling due mid-pause woke the loop again and again at a past instant.
        if (rung is not None and self.state.status in PAUSED
                and workflow.patched("ladder-waits-while-paused")):
            rung = None
        moments += [t for t in (rung, self._auto_close_at()) if t is not None]
        return min(moments, default=None)

    def _fire_due(self) -> None:
        now = workflow.now()
        for milestone in self._pending_milestones():
            if milestone.at > now:
                break
            self.state.warnings_sent.append(milestone.key)
            if milestone.percent == 100:
                self._breach(milestone)
            else:
                self._warn(milestone)
        rung = self._ladder_moment()
        while rung is not None and rung <= now and self.state.status not in PAUSED:
            self._escalate()
            rung = self._ladder_moment()
        auto_close = self._auto_close_at()
        if auto_close is not None and auto_close <= now:
            self._close(by="system", reason="auto-closed after resolution", due=auto_close)

    # ------------------------------------------------------------------ SLA events

    def _warn(self, milestone: Milestone) -> None:
        self._event(f"sla_warning:{milestone.key}", f"{milestone.percent}% of the "
                    f"{milestone.clock} target used; due {self._due(milestone.clock)}",
                    due=milestone.at)
        self._notify("sla_warning", f"{milestone.percent}% of the {milestone.clock} SLA used",
                     self._assignee_mail())

    def _breach(self, milestone: Milestone) -> None:
        s = self.state
        s.breached = True
        if s.breached_at is None:
            s.breached_at = milestone.at
        self._event(f"sla_breached:{milestone.clock}", f"{milestone.clock} target missed",
                    due=milestone.at)
        self._refresh()
        self._notify("sla_breached", f"SLA breached: {milestone.clock} target missed",
                     self._assignee_mail())

    def _escalate(self) -> None:
        s = self.state
        due = self._ladder_moment()
        rung = self.start.sla.ladder[s.escalation_level]
        s.escalation_level += 1
        self._event("escalated", f"level {s.escalation_level}: {rung.role}"
                    + (f" <{rung.contact}>" if rung.contact else ""), due=due)
        self._refresh()
        self._notify("escalated", f"Escalated to {rung.role}",
                     [rung.contact] if rung.contact else [])

    def _due(self, clock: str) -> str:
        due = self.state.response_due if clock == "response" else self.state.resolution_due
        return due.isoformat() if due else "(paused)"

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> IncidentView:
        return self.state

    @workflow.update
    def transition(self, request: Transition) -> IncidentView:
        s = self.state
        now = workflow.now()
        if request.to is Status.CLOSED:
            self._close(by=request.by, reason=request.reason)
            return s
        reopening = s.status in DONE
        self._set_status(request.to, now)
        if s.first_response_at is None and request.to is not Status.NEW:
            s.first_response_at = now
        if request.to is Status.RESOLVED:
            s.resolved_at = now
            s.preventable = request.preventable
            self._record_on_call()
        self._event(f"status:{request.to.value}", request.reason, by=request.by)
        self._changed = True
        if reopening:
            s.reopen_count += 1
            s.resolved_at = None
            s.closed_at = None
            self._notify("reopened", "Your ticket was reopened", [s.technical_contact])
        elif request.to in (Status.PENDING, Status.RESOLVED):
            self._notify(f"ticket_{request.to.value}", _STATUS_SUBJECTS[request.to],
                         [s.technical_contact])
        self._refresh()
        return s

    @transition.validator
    def _validate_transition(self, request: Transition) -> None:
        s = self.state
        if s.merged_into is not None:
            raise ApplicationError(f"merged into {s.merged_into}: work on that ticket instead")
        if request.to not in ALLOWED[s.status]:
            allowed = ", ".join(sorted(x.value for x in ALLOWED[s.status])) or "none"
            raise ApplicationError(f"cannot go from {s.status.value} to {request.to.value}; "
                                   f"allowed: {allowed}")
        if s.status in DONE and request.to is Status.IN_PROGRESS and not self._can_reopen():
            raise ApplicationError("the reopen window has passed: raise a new ticket")
        if request.preventable is not None and request.to is not Status.RESOLVED:
            raise ApplicationError("'preventable' is given when resolving")

    @workflow.update
    def acknowledge(self, request: Transition) -> IncidentView:
        return self.transition(request.model_copy(update={"to": Status.ACKNOWLEDGED}))

    @acknowledge.validator
    def _validate_acknowledge(self, request: Transition) -> None:
        if self.state.status is not Status.NEW:
            raise ApplicationError(f"already acknowledged (status {self.state.status.value})")

    @workflow.update
    def assign(self, request: Assignment) -> IncidentView:
        self.state.assignee = request.assignee
        self._event("assigned", request.assignee, by=request.by)
        self._changed = True
        self._refresh()
        return self.state

    @assign.validator
    def _validate_assign(self, request: Assignment) -> None:
        if self.state.status is Status.CLOSED:
            raise ApplicationError("the ticket is closed")

    @workflow.update
    def reprioritise(self, request: Reprioritisation) -> IncidentView:
        s = self.state
        old = s.priority
        s.priority = request.priority
        s.priority_rule = f"reprioritised from {old.value}: {request.reason}"
        # Targets are recomputed from the original open time: drop warnings not yet due.
        s.warnings_sent = [k for k in s.warnings_sent if self._still_passed(k)]
        self._event("reprioritised", f"{old.value} -> {request.priority.value}: "
                    f"{request.reason}", by=request.by)
        self._changed = True
        self._refresh()
        return s

    @reprioritise.validator
    def _validate_reprioritise(self, request: Reprioritisation) -> None:
        if self.state.status in DONE:
            raise ApplicationError("a resolved or closed ticket keeps its priority")
        if request.priority is self.state.priority:
            raise ApplicationError(f"the ticket is already {request.priority.value}")

    @workflow.update
    async def merge_into(self, request: MergeRequest) -> IncidentView:
        s = self.state
        s.merged_into = request.survivor
        self._event("merged", f"duplicate of {request.survivor}", by=request.by)
        self._close(by=request.by, reason=f"merged into {request.survivor}", survey=False)
        survivor = workflow.get_external_workflow_handle_for(
            IncidentWorkflow.run, f"incident:{request.survivor}")
        await survivor.signal(IncidentWorkflow.duplicate_merged, DuplicateMerged(
            ticket_id=s.ticket_id, subject=s.subject, by=request.by))
        return s

    @merge_into.validator
    def _validate_merge(self, request: MergeRequest) -> None:
        if request.survivor == self.state.ticket_id:
            raise ApplicationError("a ticket cannot be merged into itself")
        if self.state.status is Status.CLOSED:
            raise ApplicationError("the ticket is already closed")

    @workflow.signal
    def duplicate_merged(self, merged: DuplicateMerged) -> None:
        self.state.duplicates.append(merged.ticket_id)
        self._event("duplicate_merged", f"{merged.ticket_id}: {merged.subject}", by=merged.by)
        self._changed = True

    @workflow.signal
    def comment(self, comment: CommentIn) -> None:
        s = self.state
        s.comments.append(TicketComment(at=workflow.now(), by=comment.by, body=comment.body,
                                        from_requester=comment.from_requester))
        self._changed = True
        if (comment.from_requester and s.status in DONE and s.merged_into is None
                and not is_thanks_only(comment.body) and self._can_reopen()):
            self.transition(Transition(to=Status.IN_PROGRESS, by=comment.by,
                                             reason="the requester replied"))

    @workflow.update
    def record_csat(self, answer: CsatAnswer) -> IncidentView:
        self.state.csat_score = answer.score
        self.state.csat_comment = answer.comment or None
        self._event("csat", f"{answer.score}/5", by="requester")
        self._changed = True
        return self.state

    @record_csat.validator
    def _validate_csat(self, answer: CsatAnswer) -> None:
        s = self.state
        if s.survey_expires_at is None:
            raise ApplicationError("no survey was sent for this ticket")
        if s.csat_score is not None:
            raise ApplicationError("the survey was already answered")
        if workflow.now() > s.survey_expires_at:
            raise ApplicationError("the survey link has expired")

    # ------------------------------------------------------------------ helpers

    def _close(self, by: str, reason: str, survey: bool = True,
               due: datetime | None = None) -> None:
        s = self.state
        now = workflow.now()
        self._set_status(Status.CLOSED, now)
        s.closed_at = now
        self._event("status:closed", reason, by=by, due=due)
        self._changed = True
        self._refresh()
        if s.merged_into is not None:
            return
        if survey:
            expires = now + timedelta(seconds=parse_duration(
                self.start.rules.survey_valid_for).seconds)
            s.survey_expires_at = expires
            self._notify("ticket_closed", "Closed - how did we do?", [s.technical_contact],
                         survey_expires_at=expires)
        if s.preventable and s.priority in (Priority.P1, Priority.P2) and s.post_mortem is None:
            s.post_mortem = f"postmortem:{s.ticket_id}"  # see _start_post_mortem_if_due

    async def _start_post_mortem_if_due(self) -> None:
        """_close is synchronous (timers close tickets too), so it only marks a post-mortem
        as due; the loop starts it here, once."""
        s = self.state
        if s.post_mortem is None or any(e.kind == "post_mortem_opened" for e in s.events):
            return
        due = self._business_after(workflow.now(), "5bd")
        await workflow.start_child_workflow(
            PostMortemWorkflow.run,
            PostMortemStart(incident=s.ticket_id, client_id=s.client_id, subject=s.subject,
                            technical_contact=s.technical_contact, due_at=due),
            id=s.post_mortem, parent_close_policy=workflow.ParentClosePolicy.ABANDON)
        self._event("post_mortem_opened", f"{s.post_mortem} with {s.technical_contact}, due "
                    f"{due.isoformat()}")

    def _set_status(self, status: Status, now: datetime) -> None:
        s = self.state
        old = s.status
        if old in PAUSED and status not in PAUSED:
            _close_open(s.pauses, now)
        if old in WORKED and status not in WORKED:
            _close_open(s.work_periods, now)
        if old in DONE and status not in DONE:
            _close_open(s.resolved_periods, now)
        if status in PAUSED and old not in PAUSED:
            s.pauses.append((now, None))
        if status in WORKED and old not in WORKED:
            s.work_periods.append((now, None))
        if status in DONE and old not in DONE:
            s.resolved_periods.append((now, None))
        s.status = status

    def _record_on_call(self) -> None:
        """P1 work outside business hours is billable on-call time (TechBento)."""
        s = self.state
        if s.priority is not Priority.P1:
            return
        total = business = 0
        for start, end in s.work_periods:
            if end is None:
                continue
            total += to_us(end) - to_us(start)
            business += self._timeline.counted_between(to_us(start), to_us(end))
        after_hours = (total - business) // US
        if after_hours > s.on_call_seconds:
            minutes = round((after_hours - s.on_call_seconds) / 60)
            self._event("on_call", f"{minutes} min after hours, billable")
            s.on_call_seconds = after_hours

    def _can_reopen(self) -> bool:
        resolved = self.state.resolved_at or self.state.closed_at
        if resolved is None:
            return True
        return workflow.now() <= self._business_after(resolved, self.start.rules.reopen_window)

    def _still_passed(self, key: str) -> bool:
        return any(m.key == key and m.at <= workflow.now() for m in self._milestones())

    def _business_after(self, moment: datetime, duration: str) -> datetime:
        length = parse_duration(duration).to_seconds(self.start.sla.business_day_seconds)
        return from_us(self._timeline.deadline(to_us(moment), round(length * US)))

    def _assignee_mail(self) -> list[str]:
        assignee = self.state.assignee
        return [assignee] if assignee and "@" in assignee else []

    def _event(self, kind: str, detail: str = "", by: str = "system",
               due: datetime | None = None) -> None:
        self.state.events.append(TicketEvent(at=workflow.now(), kind=kind, detail=detail, by=by,
                                             due=due))

    def _refresh(self) -> None:
        """Recompute deadlines and publish what changed as search attributes."""
        s = self.state
        try:
            deadlines = self.start.sla.deadlines(s.priority, s.opened_at, s.first_response_at,
                                                 s.pauses, s.resolved_periods)
            s.response_due = deadlines.response_due
            s.resolution_due = deadlines.resolution_due
        except HorizonExceeded:  # keep the last deadlines until the loop extends the calendar
            self._changed = True
        updates = []
        wanted = {pair.key.name: pair for pair in sa.ticket_attributes("incident", s)}
        for key in sa.ALL_KEYS:
            pair: SearchAttributePair | None = wanted.get(key.name)
            value = pair.value if pair is not None else None
            if self._published.get(key.name, "unset") == value:
                continue
            updates.append(key.value_set(value) if value is not None else key.value_unset())
            self._published[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(
            f"**{s.ticket_id}** {s.priority.value} {s.status.value}"
            + (" **BREACHED**" if s.breached else "")
            + (f" - escalation level {s.escalation_level}" if s.escalation_level else "")
            + f"\n\n{s.subject}")

    def _notify(self, event: str, subject: str, recipients: list[str],
                survey_expires_at: datetime | None = None) -> None:
        """Queue a notice; the main loop sends it, so no message handler waits on e-mail."""
        s = self.state
        s.notices_sent += 1
        self._changed = True
        notice_id = f"{workflow.info().workflow_id}:{s.notices_sent}:{event}"
        thread_root = s.thread_root
        if thread_root is None:  # this notice starts the ticket's e-mail thread
            s.thread_root = message_id(notice_id)
        self._outbox.append(Notice(
            notice_id=notice_id,
            client_id=s.client_id, ticket_id=s.ticket_id, occurred_at=workflow.now(),
            event=event, subject=subject, recipients=recipients,
            survey_expires_at=survey_expires_at, thread_root=thread_root,
            context={"priority": s.priority.value, "subject": s.subject,
                     "status": s.status.value, "response_due": _iso(s.response_due),
                     "resolution_due": _iso(s.resolution_due),
                     "escalation_level": s.escalation_level},
        ))

    async def _send_outbox(self) -> None:
        while self._outbox:
            notice = self._outbox.pop(0)
            receipt = await workflow.execute_activity_method(
                NotificationActivities.notify, notice, start_to_close_timeout=NOTIFY_TIMEOUT)
            detail = ", ".join(receipt.emailed + receipt.webhooks + receipt.skipped)
            self._event(f"notified:{notice.event}", detail)


_STATUS_SUBJECTS = {Status.PENDING: "We need something from you",
                    Status.RESOLVED: "Resolved - reply if it is not fixed"}


def _close_open(periods: list, now: datetime) -> None:
    if periods and periods[-1][1] is None:
        periods[-1] = (periods[-1][0], now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
