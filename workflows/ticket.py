"""The ticket core: what every ticket workflow (incident, service request, ...) shares.

A kind subclasses :class:`TicketWorkflow`, declares itself with :func:`ticket_kind` and
writes only what is its own (intake facts, extra messages, extra moments). The core owns:

* the SLA clock (:class:`domain.sla.clock.SlaClock`): one loop sleeps until the next
  warning, breach, ladder rung, auto-close or end of life, or until a message changes the
  ticket, then fires what fell due - the same instant on every replay;
* notices, delivered beside the clock by :class:`workflows.notice_outbox.NoticeOutbox`;
* the lifecycle (acknowledge, transition, pause, resolve, close, reopen), assignment,
  comments and CSAT, as updates with validators, signals and a query;
* search attributes (upserted only when they change), Web UI details and the event log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey, SearchAttributePair
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.files import FileActivities
    from activities.notifications import NotificationActivities
    from activities.sla import CalendarExtension, SlaActivities
    from domain import search_attributes as sa
    from domain.attachments import AttachmentIn, FilesHeld, FilesOnTicket
    from domain.ids import TicketKind
    from domain.lifecycle import clock_moves, reply_reason, reply_resumes, transition_refusal
    from domain.notifications import Invite, Notice, OutboxEntry, message_id
    from domain.quote_lines import ApprovalLink, QuoteDocument
    from domain.refusals import Refusal
    from domain.sla.clock import ClockEvent, SlaClock
    from domain.sla.deadlines import SNAPSHOT_DAYS, SlaSnapshot
    from domain.sla.durations import parse_duration
    from domain.sla.timeline import US, from_us, to_us
    from domain.ticket_details import request_details
    from domain.tickets import (
        ALLOWED,
        DONE,
        RECIPIENTS_CONFIRMED_MAX,
        Assignment,
        ClientEscalation,
        CommentIn,
        CsatAnswer,
        RecipientConfirmation,
        Status,
        TicketComment,
        TicketEvent,
        TicketRules,
        TicketStart,
        TicketState,
        TicketView,
        Transition,
    )
    from workflows.notice_outbox import NoticeOutbox

NOTIFY_TIMEOUT = timedelta(minutes=5)
CALENDAR_MARGIN = timedelta(days=30)  # extend the frozen windows this long before they end
# Tickets started before notices had their own lanes keep sending them inline (replay).
NOTICE_LANES = "notices-beside-the-clock"
# NoticeFailing means a lane failed and waits to retry, not that an attempt is in flight
# (which flipped it on and off for every notice: two visibility writes each, for nothing).
NOTICE_FAILING = "notice-failing-after-a-failure"
# A lane delivers all its pending notices in one activity, and the webhook lane skips the
# events no hook receives (each result reports the routing): a breach and its first rung
# cost one activity, not four.
NOTICE_BATCHES = "notices-batched-per-lane"
# A lane starts a delivery only once the loop has answered a change (an update, a signal,
# a notice queued beside it): the loop's timer commands come first whichever way the
# server groups the task's events. Without it, an update arriving in the same task as an
# earlier delivery's result (as a worker without the ticket in cache receives them) put
# the lane's command before the timer's, and the ticket failed to replay.
NOTICES_AFTER_THE_CLOCK = "notices-after-the-clock"
# A run continues as new only once no work beside the loop is in flight (a provider step,
# an order): continuing mid-call abandoned the call and the next run made it again under
# another webhook-id, which the provider cannot recognise as the same.
CONTINUE_AFTER_WORK = "continue-as-new-after-work-beside"
# Past this many events a run continues as new even with work in flight (that work then
# restarts in the next run); Temporal ends a run at 51,200.
DEFER_CONTINUE_AS_NEW_UNTIL_EVENTS = 10_000
# A ticket with files lets go of them when its life ends (an exit: when its data is
# purged); only tickets with files run the activity, so older histories replay unchanged.
FILES_RELEASED = "files-released-at-end-of-life"
# Every kind ends by its own rules (docs/lifecycle.md): quotes, new users and user exits
# move through in_progress to resolved and closed, publish NextDue, keep their own reopen
# rules; a requester's reply ends pending. Runs from before this keep the old rules.
KIND_ENDS = "every-kind-ends-by-its-rules"
RELEASE_FILES_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2,
                                  maximum_interval=timedelta(hours=1))

W = TypeVar("W", bound=type)
TICKET_WORKFLOWS: dict[TicketKind, type[TicketWorkflow]] = {}


def ticket_kind(kind: TicketKind, view: type[TicketView]) -> Callable[[W], W]:
    """Declare a ticket workflow: the ticket surface (routes, CLI, worker) finds it here."""

    def register(cls: W) -> W:
        cls.kind = kind
        cls.view_model = view
        TICKET_WORKFLOWS[kind] = cls
        return cls

    return register


class TicketWorkflow:
    """Base of every ticket workflow. Subclasses define ``@workflow.run`` (calling
    :meth:`run_ticket`) and ``@workflow.init`` (calling :meth:`setup`)."""

    kind: ClassVar[TicketKind]
    view_model: ClassVar[type[TicketView]]
    kind_keys: ClassVar[tuple[SearchAttributeKey, ...]] = ()  # a kind's own attributes
    allowed: ClassVar[dict[Status, frozenset[Status]]] = ALLOWED
    publishes_next_due: ClassVar[bool] = False  # a kind whose next instant is its own

    start: TicketStart  # the kind's own start model, set in its @workflow.init
    state: TicketState
    sla: SlaSnapshot
    rules: TicketRules

    def setup(self, state: TicketState, sla: SlaSnapshot, rules: TicketRules) -> None:
        self.state = state
        self.sla = sla
        self.rules = rules
        self.clock = SlaClock(sla, state.clock, workflow.patched)
        # Decided once, in the run's first task, so a run keeps one rule throughout (a run
        # replayed from before the patch keeps the old one).
        self._failing_after_a_failure = workflow.patched(NOTICE_FAILING)
        batched = workflow.patched(NOTICE_BATCHES)
        after_the_clock = workflow.patched(NOTICES_AFTER_THE_CLOCK)
        self._continue_after_work = workflow.patched(CONTINUE_AFTER_WORK)
        self._ends = workflow.patched(KIND_ENDS)
        # Work beside the loop started in this run (a new run after continue-as-new
        # restarts what is not done: every step is safe to run twice).
        self._work: list[asyncio.Task[None]] = []
        self._changed = False
        self._in_loop = False
        self._published: dict[str, object] = {}
        self._inline_outbox: list[Notice] = []
        self._request_details: str | None = None
        self._notices_after_the_clock = after_the_clock
        self.outbox = NoticeOutbox(state, _seconds(rules.notice_retry_max), self,
                                   batched=batched)
        self._timeline = sla.timeline()

    # ------------------------------------------------------------------ what kinds call
    # The contract a kind (and a mixin such as ProviderSteps) works the ticket through
    # (docs/architecture.md, "The ticket core"); the members beginning with "_" are the
    # core's own, and tests/workflows/test_ticket_contract.py keeps kinds off them.

    def mark_changed(self, *, publish: bool = True, wake: bool = True) -> None:
        """The ticket changed: wake the loop (it recomputes its next moment and answers
        before work beside it issues commands) and publish search attributes and details
        now. Both by default, so neither half is forgotten. ``publish=False``: the loop
        publishes on the turn this wakes it for; ``wake=False``: nothing the loop waits
        for changed. Each keeps the commands of a history recorded before this contract
        (publishing earlier, or waking the loop, would add or move a command)."""
        if wake:
            self._changed = True
        if publish:
            self._refresh()

    def start_beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` beside the loop (a provider step, an order): continue-as-new waits
        for it (``busy_beside``)."""
        self._work.append(asyncio.create_task(work))

    def notices_held(self) -> bool:
        """Whether notice lanes wait before starting a delivery (for :class:`NoticeOutbox`;
        tickets from before "notices-after-the-clock" never hold them)."""
        return self._notices_after_the_clock and self.loop_answering()

    @property
    def ends_by_kind_rules(self) -> bool:
        """Whether this run ends by its kind's rules (docs/lifecycle.md); runs from before
        "every-kind-ends-by-its-rules" keep the old ones."""
        return self._ends

    def business_between(self, start: datetime, end: datetime) -> int:
        """The working time between two instants, in microseconds."""
        return self._timeline.counted_between(to_us(start), to_us(end))

    # ------------------------------------------------------------------ what kinds add

    def continue_input(self) -> Any:
        """The workflow input for continue-as-new: the kind's start (``self.start``, which
        every kind keeps) carrying ``self.state`` and ``self.sla``."""
        return self.start.model_copy(update={"state": self.state, "sla": self.sla})

    def finish_at(self) -> datetime | None:
        """A closed ticket lives on until its reopen window and its survey have ended."""
        s = self.state
        if s.status is not Status.CLOSED or s.closed_at is None:
            return None
        ends = [self.business_after(s.resolved_at or s.closed_at, self.rules.reopen_window)]
        if s.csat_score is None and s.survey_expires_at is not None:
            ends.append(s.survey_expires_at)
        return max(ends)

    async def between_moments(self) -> None:
        """Work the loop does before each wait (e.g. start a child workflow)."""

    def moments(self) -> list[tuple[datetime | None, str]]:
        """A kind's own instants to wake at (with what they are, for the timer summary)."""
        return []

    def on_moments(self, now: datetime) -> None:
        """Called after each wake, once the clock's events have fired: act on the kind's
        own instants that are due (start work beside the loop; never await here)."""

    @staticmethod
    def kind_attributes(state: Any) -> list[SearchAttributePair]:
        """Values of ``kind_keys`` for ``state`` (published at start and on change)."""
        return []

    @classmethod
    def search_attributes(cls, state: TicketState, failing_after_a_failure: bool = True,
                          ) -> list[SearchAttributePair]:
        """Every attribute a ticket of this kind publishes for ``state``: at its start (by
        whoever starts it) and, on change, by the ticket itself."""
        return [*sa.ticket_attributes(state, failing_after_a_failure),
                *cls.kind_attributes(state)]

    def due_instead(self) -> datetime | None:
        """A kind whose promise is its own target (not the priority's resolution) names
        its due instant here: it is published as SlaResolutionDue, so queues sort by it."""
        return None

    def next_due(self) -> datetime | None:
        """A kind that ``publishes_next_due``: the instant that matters next (NextDue)."""
        return None

    def work_refused(self) -> str | None:
        """Why no one may work this ticket any more (e.g. merged), if so."""
        return None

    def on_status(self, request: Transition, old: Status, now: datetime) -> None:
        """Kind-specific effects of a status change (after the core's)."""

    def on_closed(self) -> None:
        """Kind-specific effects of closing (after the survey is sent)."""

    def notice_of_status(self, request: Transition) -> bool:
        """A kind that words its own notice for going to ``request.to`` (pending, resolved)
        queues it here and returns True; otherwise the core's ("Resolved - reply if it is not
        fixed") goes to the requester."""
        return False

    def surveys_on_close(self) -> bool:
        """Whether closing sends the requester the "how did we do?" survey (a decided
        quote does not: a decision is final, nothing was fixed)."""
        return True

    def details(self) -> str:
        """Markdown for the Web UI's current details."""
        s = self.state
        return (f"**{s.ticket_id}** {self.clock.state.priority.value} {s.status.value}"
                + (" **BREACHED**" if self.clock.breached else "")
                + (f" - escalation level {self.clock.state.escalation_level}"
                   if self.clock.state.escalation_level else "")
                + (" - **notices failing**" if self.notices_failing() else "")
                + f"\n\n{s.subject}")

    def request_details(self) -> str:
        """The kind's request as it was made (its state's ``request``), for the Web UI's
        details after what :meth:`details` says; rendered once, since it never changes."""
        if self._request_details is None:
            shown = request_details(getattr(self.state, "request", None))
            self._request_details = f"\n\n{shown}" if shown else ""
        return self._request_details

    # ------------------------------------------------------------------ main loop

    async def run_ticket(self, fresh: bool) -> None:
        """The loop every ticket runs until its end of life; then it returns."""
        if fresh:
            self.queue_notice("ticket_opened", f"Logged: {self.state.subject}", [],
                         requester=True)
        if self._lanes():
            self.outbox.start()
        self._in_loop = True
        while True:
            if self._calendar_ends() - workflow.now() < CALENDAR_MARGIN:
                await self._extend_calendar()
            await self._send_inline()
            await self.between_moments()
            self._refresh()
            finish_at = self.finish_at()
            if finish_at is not None and workflow.now() >= finish_at:
                break
            if self._continue_as_new_due():
                await self._continue_as_new()
            moments: list[tuple[datetime | None, str]] = [self._next_moment(),
                                                          (finish_at, "end of life")]
            if workflow.patched("sla-calendar-extension"):
                moments.append((self._calendar_ends() - CALENDAR_MARGIN, "calendar extension"))
            moments.append((self.outbox.next_retry(), "notice retry"))
            moments += self.moments()
            wake, why = min(((t, w) for t, w in moments if t is not None),
                            default=(None, ""), key=lambda m: m[0])
            self._changed = False
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            with contextlib.suppress(TimeoutError):  # a timer fired: see _fire_due
                await workflow.wait_condition(
                    lambda: self._changed or self._continue_as_new_due(),
                    timeout=timeout,
                    timeout_summary=f"{why} due {_utc(wake)}" if wake is not None else None)
            self._fire_due()
        self._in_loop = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self.release_files("the ticket's life has ended")
        await self._send_inline()
        await self.between_moments()
        if self._lanes():
            await workflow.wait_condition(self.outbox.settled)

    async def _continue_as_new(self) -> None:
        if self._lanes():
            await self.outbox.quiesce()
        # The loop answers nothing more in this run: work that waits for it to answer (a
        # provider step in an update, e.g. an undo) goes on, and the update can finish.
        self._in_loop = False
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and self.outbox.idle())
        workflow.continue_as_new(self.continue_input())

    async def release_files(self, why: str) -> None:
        """Let go of the ticket's files (deleted from the store once no ticket of the
        client holds them); from then on the ticket takes no more files."""
        s = self.state
        if not s.attachments or s.files_released_at is not None:
            return
        if not workflow.patched(FILES_RELEASED):
            return
        s.files_released_at = workflow.now()  # the attach validator refuses from now on
        released = await workflow.execute_activity_method(
            FileActivities.release_files,
            FilesHeld(client_id=s.client_id, ticket_id=s.ticket_id,
                      sha256s=[a.sha256 for a in s.attachments]),
            start_to_close_timeout=timedelta(minutes=5), retry_policy=RELEASE_FILES_RETRY,
            summary=f"release {len(s.attachments)} file(s)")
        self.record_event("files_released", f"{why}: {len(s.attachments)} file(s) let go, "
                    f"{released.deleted} deleted from storage")
        self._changed = True

    def busy_beside(self) -> bool:
        """Whether work beside the loop is in flight (kinds with more say so)."""
        return any(not task.done() for task in self._work)

    def _continue_as_new_due(self) -> bool:
        info = workflow.info()
        if not info.is_continue_as_new_suggested():
            return False
        return not (self._continue_after_work and self.busy_beside()
                    and info.get_current_history_length() < DEFER_CONTINUE_AS_NEW_UNTIL_EVENTS)

    def loop_answering(self) -> bool:
        """Whether the loop has a change to answer before it waits again."""
        return self._in_loop and self._changed

    def _lanes(self) -> bool:
        return workflow.patched(NOTICE_LANES)

    def notices_failing(self) -> bool:
        """Whether the ticket's notices are failing, by the rule its history was made with."""
        return self.state.notice_failing(self._failing_after_a_failure)

    def _next_moment(self) -> tuple[datetime | None, str]:
        """The earliest SLA moment and what it is (for the timer's summary)."""
        at = self.clock.next_moment()
        close = self.auto_close_at()
        if close is not None and (at is None or close < at):
            return close, "auto-close"
        if at is None:
            return None, ""
        pending = self.clock.pending()
        if pending and pending[0].at == at:
            m = pending[0]
            what = "breach" if m.percent == 100 else f"{m.percent}% warning"
            return at, f"{self.clock.state.priority.value} {m.clock} {what}"
        return at, f"escalation level {self.clock.state.escalation_level + 1}"

    def _fire_due(self) -> None:
        now = workflow.now()
        for event in self.clock.fire_due(now):  # one at a time: state moves as each fires
            self._on_clock_event(event)
        self.on_moments(now)
        auto_close = self.auto_close_at()
        if auto_close is not None and auto_close <= now:
            self.close_ticket(by="system", reason="auto-closed after resolution", due=auto_close)

    def _on_clock_event(self, event: ClockEvent) -> None:
        if event.kind == "warning":
            self.record_event(f"sla_warning:{event.target}:{event.percent}",
                        f"{event.percent}% of the {event.target} target used; due "
                        f"{self._due_text(event.target)}", due=event.due)
            self.queue_notice("sla_warning", f"{event.percent}% of the {event.target} SLA used",
                         self.assignee_mail())
        elif event.kind == "breach":
            self.record_event(f"sla_breached:{event.target}", f"{event.target} target missed",
                        due=event.due)
            self._refresh()
            self.queue_notice("sla_breached", f"SLA breached: {event.target} target missed",
                         self.assignee_mail())
        else:
            rung = event.rung
            assert rung is not None
            self.record_event("escalated", f"level {event.level}: {rung.role}"
                        + (f" <{rung.contact}>" if rung.contact else ""), due=event.due)
            self._refresh()
            self.queue_notice("escalated", f"Escalated to {rung.role}",
                         [rung.contact] if rung.contact else [])

    def _due_text(self, target: str) -> str:
        if target in ("response", "resolution"):
            due = self.state.response_due if target == "response" else self.state.resolution_due
        else:
            due = self.clock.due(target)
        return due.isoformat() if due else "(paused)"

    def auto_close_at(self) -> datetime | None:
        """When a resolved ticket closes by itself, if it is resolved."""
        if self.state.status is not Status.RESOLVED or self.state.resolved_at is None:
            return None
        return self.business_after(self.state.resolved_at, self.rules.auto_close_after)

    # ------------------------------------------------------------------ calendar

    def _calendar_ends(self) -> datetime:
        return from_us(self.sla.windows.valid_until)

    async def _extend_calendar(self) -> None:
        later = await workflow.execute_activity_method(
            SlaActivities.extend_calendar,
            CalendarExtension(client_id=self.state.client_id,
                              valid_until=self.sla.windows.valid_until, days=SNAPSHOT_DAYS),
            start_to_close_timeout=timedelta(minutes=1),
            summary=f"SLA calendar: {SNAPSHOT_DAYS} more days of working windows")
        self.sla = self.sla.extended(later)
        self.clock.snapshot = self.sla
        self._timeline = self.sla.timeline()
        self.record_event("sla_calendar_extended",
                    f"working windows known until {self._calendar_ends().isoformat()}")

    def business_after(self, moment: datetime, duration: str) -> datetime:
        """``moment`` plus ``duration`` (e.g. "5bd") counted in the client's working time."""
        length = parse_duration(duration).to_seconds(self.sla.business_day_seconds)
        return from_us(self._timeline.deadline(to_us(moment), round(length * US)))

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> TicketView:
        return self.state.view()

    @workflow.query
    def files(self) -> FilesOnTicket:
        """The ticket's files alone: a download asks this before a byte goes, not the view."""
        return FilesOnTicket(attachments=self.state.attachments)

    @workflow.update
    def transition(self, request: Transition) -> TicketView:
        self.apply_transition(request)
        return self.state.view()

    @transition.validator
    def _validate_transition(self, request: Transition) -> None:
        self._check_transition(request)

    @workflow.update
    def acknowledge(self, request: Transition) -> TicketView:
        self.apply_transition(request.model_copy(update={"to": Status.ACKNOWLEDGED}))
        return self.state.view()

    @acknowledge.validator
    def _validate_acknowledge(self, request: Transition) -> None:
        if self.state.status is not Status.NEW:
            raise ApplicationError(f"already acknowledged (status {self.state.status.value})",
                                   type=Refusal.ALREADY_DONE)
        self._check_transition(request.model_copy(update={"to": Status.ACKNOWLEDGED}))

    @workflow.update
    def assign(self, request: Assignment) -> TicketView:
        self.state.assignee = request.assignee
        self.record_event("assigned", request.assignee, by=request.by)
        self._changed = True
        self._refresh()
        return self.state.view()

    @assign.validator
    def _validate_assign(self, request: Assignment) -> None:
        if self.state.status is Status.CLOSED:
            raise ApplicationError("the ticket is closed: reopen it first, or raise a new one",
                                   type=Refusal.INVALID_TRANSITION)

    @workflow.update
    def confirm_recipient(self, request: RecipientConfirmation) -> TicketView:
        self.state.confirmed_recipients.append(request.email)
        self.record_event("recipient_confirmed", request.email, by=request.by)
        self._changed = True
        return self.state.view()

    @confirm_recipient.validator
    def _validate_confirm_recipient(self, request: RecipientConfirmation) -> None:
        confirmed = self.state.confirmed_recipients
        if request.email in confirmed:
            raise ApplicationError(f"{request.email} is already confirmed for this ticket",
                                   type=Refusal.ALREADY_DONE)
        if len(confirmed) >= RECIPIENTS_CONFIRMED_MAX:
            raise ApplicationError(f"{RECIPIENTS_CONFIRMED_MAX} addresses are confirmed "
                                   "already: add the client's domain to its config instead",
                                   type=Refusal.LIMIT_REACHED)

    @workflow.update
    def escalate(self, request: ClientEscalation) -> TicketView:
        """The client escalates: recorded, the service delivery team told, and the ladder
        climbs one rung now (its timed rungs go on from there)."""
        rung = self.clock.escalate()
        if rung is None:  # the validator refuses this; a replayed race changes nothing
            return self.state.view()
        self.state.client_escalations += 1
        self.record_event("client_escalation", f"level {self.clock.state.escalation_level}: "
                    f"{rung.role} - {request.reason}", by=request.by)
        self.queue_notice("client_escalation", f"Escalated by the client: {self.state.subject}",
                     [*self.rules.escalations, *([rung.contact] if rung.contact else [])])
        self._changed = True
        self._refresh()
        return self.state.view()

    @escalate.validator
    def _validate_escalate(self, request: ClientEscalation) -> None:
        s = self.state
        if s.status is Status.CLOSED:
            raise ApplicationError("the ticket is closed: reopen it, or raise a new one",
                                   type=Refusal.INVALID_TRANSITION)
        if self.clock.state.escalation_level >= len(self.sla.ladder):
            raise ApplicationError("the ticket is at the top of the escalation ladder "
                                   "already: call your account manager", type=Refusal.LIMIT_REACHED)

    @workflow.signal
    def comment(self, comment: CommentIn) -> None:
        s = self.state
        s.add_comment(TicketComment(at=workflow.now(), by=comment.by, body=comment.body,
                                    from_requester=comment.from_requester))
        self._changed = True
        if not comment.from_requester or self.work_refused() is not None:
            return
        # A reply reopens only where the kind lets its tickets reopen (a decided quote, a
        # closed exit: never); pending waits on the requester, so their answer ends the
        # wait (the clock resumes).
        if reply_resumes(s.status, comment.body, self.allowed,
                         can_reopen=s.status in DONE and self._can_reopen(),
                         ends_by_kind_rules=self._ends,
                         reply_ends_pending=self.rules.reply_ends_pending):
            self.apply_transition(Transition(to=Status.IN_PROGRESS, by=comment.by,
                                              reason=reply_reason(comment.by)))

    @workflow.update
    def attach(self, request: AttachmentIn) -> TicketView:
        """Files stored for this ticket join it (one it holds already is not listed twice)."""
        held = {a.sha256 for a in self.state.attachments}
        for file in request.files:
            if file.sha256 in held:
                continue
            held.add(file.sha256)
            self.state.attachments.append(file)
            self.record_event("file_attached", f"{file.name} ({file.content_type}, {file.size:,} "
                        f"bytes, sha256 {file.sha256[:12]}…) by {file.channel.value}",
                        by=file.by)
        self._changed = True
        return self.state.view()

    @attach.validator
    def _validate_attach(self, request: AttachmentIn) -> None:
        if self.state.files_released_at is not None:
            raise ApplicationError("the ticket has ended and let go of its files: raise a "
                                   "new ticket", type=Refusal.TICKET_ENDED)
        refused = request.refusal(self.state.attachments)
        if refused is not None:
            raise ApplicationError(refused.message, type=Refusal.FILE_LIMIT)

    @workflow.update
    def record_csat(self, answer: CsatAnswer) -> TicketView:
        self.state.csat_score = answer.score
        self.state.csat_comment = answer.comment or None
        self.record_event("csat", f"{answer.score}/5", by="requester")
        self._changed = True
        return self.state.view()

    @record_csat.validator
    def _validate_csat(self, answer: CsatAnswer) -> None:
        s = self.state
        if s.survey_expires_at is None:
            raise ApplicationError("no survey was sent for this ticket",
                                   type=Refusal.INVALID_TRANSITION)
        if s.csat_score is not None:
            raise ApplicationError("the survey was already answered", type=Refusal.ALREADY_DONE)
        if workflow.now() > s.survey_expires_at:
            raise ApplicationError("the survey link has expired", type=Refusal.EXPIRED)

    # ------------------------------------------------------------------ lifecycle

    def _check_transition(self, request: Transition) -> None:
        s = self.state
        refused = self.work_refused()
        if refused is not None:
            raise ApplicationError(refused, type=Refusal.INVALID_TRANSITION)  # e.g. merged
        reopening = s.status in DONE and request.to is Status.IN_PROGRESS
        refused = transition_refusal(s.status, request.to, self.allowed,
                                     can_reopen=not reopening or self._can_reopen(),
                                     preventable_given=request.preventable is not None,
                                     pauses=len(self.clock.state.pauses))
        if refused is not None:
            raise ApplicationError(refused[1], type=refused[0])

    def apply_transition(self, request: Transition) -> None:
        """The one place a status changes on request (updates and replies share it)."""
        s = self.state
        now = workflow.now()
        if request.to is Status.CLOSED:
            self.close_ticket(by=request.by, reason=request.reason)
            return
        old = s.status
        reopening = old in DONE
        self._set_status(request.to, now)
        if request.to is not Status.NEW:
            self.clock.respond(now)
        if request.to is Status.RESOLVED:
            s.resolved_at = now
        self.on_status(request, old, now)
        self.record_event(f"status:{request.to.value}", request.reason, by=request.by)
        self._changed = True
        if reopening:
            s.reopen_count += 1
            s.resolved_at = None
            s.closed_at = None
            self.queue_notice("reopened", "Your ticket was reopened", [], requester=True)
        elif request.to in (Status.PENDING, Status.RESOLVED) and not self.notice_of_status(
                request):
            self.queue_notice(f"ticket_{request.to.value}", _STATUS_SUBJECTS[request.to], [],
                         requester=True)
        self._refresh()

    def _set_status(self, status: Status, now: datetime) -> None:
        for move in clock_moves(self.state.status, status):
            getattr(self.clock, move)(now)  # resume, restart, pause or stop
        self.state.status = status

    def close_ticket(self, by: str, reason: str, survey: bool = True,
               due: datetime | None = None) -> None:
        """Close the ticket now (a quote expired or superseded, an incident merged)."""
        s = self.state
        now = workflow.now()
        old = s.status
        self._set_status(Status.CLOSED, now)
        self.on_status(Transition(to=Status.CLOSED, by=by, reason=reason), old, now)
        s.closed_at = now
        self.record_event("status:closed", reason, by=by, due=due)
        self._changed = True
        self._refresh()
        if not survey or not self.surveys_on_close():
            return
        expires = now + _seconds(self.rules.survey_valid_for)
        s.survey_expires_at = expires
        self.queue_notice("ticket_closed", "Closed - how did we do?", [], requester=True,
                     survey_expires_at=expires)
        self.on_closed()

    def _can_reopen(self) -> bool:
        resolved = self.state.resolved_at or self.state.closed_at
        if resolved is None:
            return True
        return workflow.now() <= self.business_after(resolved, self.rules.reopen_window)

    # ------------------------------------------------------------------ publishing

    def assignee_mail(self) -> list[str]:
        """The assignee as a notice recipient (when it is an address)."""
        assignee = self.state.assignee
        return [assignee] if assignee and "@" in assignee else []

    def record_event(self, kind: str, detail: str = "", by: str = "system",
               due: datetime | None = None) -> None:
        """Add an event to the ticket's log (``due``: the instant it fell due, if timed)."""
        self.state.add_event(TicketEvent(at=workflow.now(), kind=kind, detail=detail, by=by,
                                         due=due))

    def _refresh(self) -> None:
        """Recompute deadlines and publish what changed as search attributes."""
        s = self.state
        deadlines = self.clock.deadlines()
        if deadlines is not None:  # else: kept until the loop extends the calendar
            s.response_due = deadlines.response_due
            s.resolution_due = deadlines.resolution_due or self.due_instead()
        keys = (*sa.TICKET_KEYS, *self.kind_keys)
        if self._ends and self.publishes_next_due:
            s.kind_due = self.next_due()
            keys += (sa.NEXT_DUE,)
        updates = []
        wanted = {pair.key.name: pair
                  for pair in self.search_attributes(s, self._failing_after_a_failure)}
        for key in keys:
            pair: SearchAttributePair | None = wanted.get(key.name)
            value = pair.value if pair is not None else None
            if self._published.get(key.name, "unset") == value:
                continue
            updates.append(key.value_set(value) if value is not None else key.value_unset())
            self._published[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self.details() + self.request_details())

    def queue_notice(self, event: str, subject: str, recipients: list[str], requester: bool = False,
                survey_expires_at: datetime | None = None, invite: Invite | None = None,
                approval: ApprovalLink | None = None, document: QuoteDocument | None = None,
                facts: dict[str, str] | None = None) -> None:
        """Queue a notice; lanes deliver it beside the clock, so nothing waits on e-mail.
        ``recipients`` come from the contract (ladder, assignee); ``requester`` adds the
        technical contact, whom the client named (mailed only if the config knows the
        address, or an agent confirmed it)."""
        s = self.state
        s.notices_queued += 1  # numbers the notice; notices_sent counts those that left
        self._changed = True
        notice_id = f"{workflow.info().workflow_id}:{s.notices_queued}:{event}"
        thread_root = s.thread_root
        if thread_root is None:  # this notice starts the ticket's e-mail thread
            s.thread_root = message_id(notice_id)
        # A ticket may name no contact (a user exit without a manager): the desk alone.
        contact = [s.technical_contact] if requester and s.technical_contact else []
        # A contact from unauthenticated mail waits for an agent even in the client's domains.
        held = contact if s.contact_unconfirmed else []
        lanes = self._lanes()
        notice = Notice(
            notice_id=notice_id,
            client_id=s.client_id, ticket_id=s.ticket_id, occurred_at=workflow.now(),
            event=event, subject=subject,
            # Inline notices (tickets started before the lanes) keep their old shape.
            recipients=recipients if lanes else recipients + contact,
            unverified=[] if held else contact if lanes else [],
            unconfirmed=held,
            survey_expires_at=survey_expires_at, thread_root=thread_root,
            confirmed=list(s.confirmed_recipients), invite=invite, approval=approval,
            document=document,
            context={"priority": self.clock.state.priority.value, "subject": s.subject,
                     "status": s.status.value, "response_due": _iso(s.response_due),
                     "resolution_due": _iso(s.resolution_due),
                     "escalation_level": self.clock.state.escalation_level,
                     **(facts or {})},
        )
        if lanes:
            s.outbox.append(OutboxEntry(notice=notice))
        else:
            self._inline_outbox.append(notice)

    async def _send_inline(self) -> None:
        """Tickets started before the lanes: send queued notices one by one, in the loop."""
        while self._inline_outbox:
            notice = self._inline_outbox.pop(0)
            receipt = await workflow.execute_activity_method(
                NotificationActivities.notify, notice, start_to_close_timeout=NOTIFY_TIMEOUT)
            detail = ", ".join(receipt.emailed + receipt.webhooks + receipt.skipped)
            self.record_event(f"notified:{notice.event}", detail)
            if receipt.emailed or receipt.webhooks:
                self.state.notices_sent += 1


_STATUS_SUBJECTS = {Status.PENDING: "We need something from you",
                    Status.RESOLVED: "Resolved - reply if it is not fixed"}


def _seconds(duration: str) -> timedelta:
    return timedelta(seconds=parse_duration(duration).seconds)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _utc(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")
