"""A quote on the ticket core: sent to the client's directors with the PDF and a signed
link, reminded on days 7 and 13, expired at the end of day 14 in the client's zone. Only a
director of the client decides: by the API or the approval page (an update with a
validator: refused before anything is written) or by an e-mail reply (a signal, checked
by the same rule inside). On approval the parts are ordered the same day through the
procurement hook (beside the loop, retried), and the ETA and install date go to the
request and the requester. A revised quote supersedes this one."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.procurement import ProcurementActivities
    from domain import search_attributes as sa
    from domain.ids import TicketKind, workflow_id
    from domain.lifecycle import QUOTE_ALLOWED, quote_next_due
    from domain.quote_lines import ApprovalLink, QuoteDocument, reminders
    from domain.quotes import (
        ConfirmByLink,
        Decision,
        DecisionRecord,
        OrderRequest,
        QuoteIntake,
        QuoteNews,
        QuoteRecordState,
        QuoteStart,
        QuoteState,
        QuoteView,
        Supersede,
        decision_facts,
        decision_refusal,
        typed_decision_refusal,
    )
    from domain.refusals import Refusal
    from domain.sla.clock import SlaClockState
    from domain.sla.policy import Priority
    from domain.tickets import Status, TicketEvent, Transition
    from workflows.ticket import TicketWorkflow, ticket_kind

ORDER_RETRIES = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2,
                            maximum_interval=timedelta(minutes=5),
                            non_retryable_error_types=["ProviderRefused",
                                                       "ProviderNotConfigured"])
# A decision is final (docs/lifecycle.md): the resolution's notice says what was decided,
# with no "reply if it is not fixed" and no survey on closing; "order by hand" carries the
# quote (its lines, and the PDF). Runs from before keep the core's notices.
QUOTE_FINAL_WORDS = "quote-decision-final-words"


@ticket_kind(TicketKind.QUOTE, QuoteView)
@workflow.defn
class QuoteWorkflow(TicketWorkflow):
    state: QuoteRecordState
    kind_keys = sa.QUOTE_KEYS
    # Decided is final (domain/lifecycle.py): resolved, then closed; never reopened.
    allowed = QUOTE_ALLOWED
    publishes_next_due = True

    @workflow.init
    def __init__(self, start: QuoteStart) -> None:
        self.start = start
        self.setup(start.state or self.initial_state(start), start.sla, start.rules)
        self._final_words = workflow.patched(QUOTE_FINAL_WORDS)
        if self.state.request is None:  # a run carried over from before requests were kept
            self.state.request = QuoteIntake.of(start)

    @staticmethod
    def initial_state(start: QuoteStart) -> QuoteRecordState:
        doc = start.document
        state = QuoteRecordState(
            request=QuoteIntake.of(start),
            ticket_id=start.ticket_id, client_id=start.client_id,
            subject=f"Quote: {doc.draft.title}", opened_at=start.opened_at,
            technical_contact=start.requester,
            clock=SlaClockState(priority=Priority.P4, priority_targets=False,
                                opened_at=start.opened_at),
            title=doc.draft.title, request_id=doc.draft.request_id,
            currency=doc.draft.currency, lines=doc.draft.lines, totals=doc.totals,
            valid_until=doc.valid_until,
            pdf_sha256=start.pdf_sha256)
        state.resolution_due = state.valid_until  # queues and the Web UI show the expiry
        state.add_event(TicketEvent(
            at=start.opened_at, kind="opened", by=start.raised_by,
            detail=f"{doc.draft.currency} {doc.totals.total} to {len(start.directors)} "
                   f"director(s); valid until {state.valid_until.isoformat()}"))
        return state

    @staticmethod
    def kind_attributes(state: QuoteRecordState) -> list[SearchAttributePair]:
        return [SearchAttributePair(sa.QUOTE_STATE, state.quote_state.value),
                SearchAttributePair(sa.QUOTE_VALID_UNTIL, state.valid_until)]

    @workflow.run
    async def run(self, start: QuoteStart) -> QuoteView:
        if start.state is None:
            self._send_to_directors("quote_sent",
                                    f"Quote for approval: {start.document.draft.title}")
        await self.run_ticket(fresh=False)  # the directors' e-mail is the opening notice
        return self.state.view()

    def due_instead(self) -> datetime | None:
        return self.state.valid_until if self.state.quote_state is QuoteState.SENT else None

    def next_due(self) -> datetime | None:
        return quote_next_due(self.state, self.auto_close_at())

    def details(self) -> str:
        s = self.state
        return (f"**{s.ticket_id}** quote **{s.quote_state.value}** - {s.currency} "
                f"{s.totals.total} - valid until {s.valid_until:%Y-%m-%d %H:%M} UTC\n\n{s.title}")

    # ------------------------------------------------------------------ reminders, expiry

    def _reminders_due(self) -> list[datetime]:
        s = self.state
        if s.quote_state is not QuoteState.SENT:
            return []
        planned = self.start.reminders
        if planned is None:  # issued before intake worked them out: their replay needs this
            planned = reminders(s.opened_at, self.start.zone)
        return [r for r in planned if r not in s.reminders_sent]

    def moments(self) -> list[tuple[datetime | None, str]]:
        if self.state.quote_state is not QuoteState.SENT:
            return []
        found: list[tuple[datetime | None, str]] = [
            (at, "quote reminder") for at in self._reminders_due()]
        found.append((self.state.valid_until, "quote expires"))
        return found

    def on_moments(self, now: datetime) -> None:
        s = self.state
        for at in self._reminders_due():
            if now >= at:
                s.reminders_sent.append(at)
                left = (s.valid_until - now).days
                self.record_event("quote_reminder", f"{left} day(s) left", due=at)
                self._send_to_directors("quote_reminder", f"Reminder: quote {s.ticket_id} "
                                        f"expires in {left} day(s)")
        if s.quote_state is QuoteState.SENT and now >= s.valid_until:
            s.quote_state = QuoteState.EXPIRED
            self.record_event("quote_expired", "not decided within 14 days", due=s.valid_until)
            self._tell_request(QuoteNews(quote_id=s.ticket_id, quote_state=s.quote_state,
                                         detail="expired without a decision"))
            self.close_ticket(by="system", reason="the quote expired", survey=False)

    # ------------------------------------------------------------------ decisions

    @workflow.query
    def view(self) -> QuoteView:
        return self.state.view()

    @workflow.query
    def document(self) -> QuoteDocument:
        """What the PDF is rendered from, exactly as issued (its SHA-256 is recorded)."""
        return self.start.document

    @workflow.update
    def decide(self, decision: Decision) -> QuoteView:
        self._take(decision)
        return self.state.view()

    @decide.validator
    def _validate_decision(self, decision: Decision) -> None:
        refused = typed_decision_refusal(self.state, decision, self.start.directors,
                                         workflow.now())
        if refused is not None:
            raise ApplicationError(refused[1], type=refused[0])

    @workflow.signal
    def decide_by_email(self, decision: Decision) -> None:
        """An e-mail reply "Approved" from a director's mailbox: the same rule, checked
        here (a signal has no validator); a refused one is recorded, nothing else."""
        refusal = decision_refusal(self.state, decision, self.start.directors, workflow.now())
        if refusal is not None:
            self.state.refused_decisions += 1
            self.record_event("decision_refused", f"{decision.channel.value} from "
                              f"{decision.director_email or '?'}: {refusal}", by=decision.by)
            self.mark_changed(publish=False)
            return
        self._take(decision)

    @workflow.signal
    def confirm_by_link(self, request: ConfirmByLink) -> None:
        """A director's "Approved" by mail that could not count (unauthenticated, or not
        to their own reply address): recorded, and that director is sent their link to
        confirm - once per quote, so forged mail cannot make the desk mail them again."""
        s = self.state
        director = request.director_email.lower()
        if (s.quote_state is not QuoteState.SENT or director in s.confirmations_asked
                or director not in {d.lower() for d in self.start.directors}):
            return
        s.confirmations_asked.append(director)
        self.record_event("confirm_by_link_asked", f"{director}: {request.reason}"[:300],
                          by=request.by or "system")
        self.queue_notice("quote_confirm", f"Please confirm by your link: quote {s.ticket_id}",
                          [director], approval=ApprovalLink(quote_id=s.ticket_id,
                                                            director_email=director,
                                                            expires_at=s.valid_until))
        self.mark_changed(publish=False)

    def _take(self, decision: Decision) -> None:
        """The one place a decision takes effect; the same decision twice changes nothing."""
        s = self.state
        if s.decision is not None:
            return
        now = workflow.now()
        s.decision = DecisionRecord(
            approve=decision.approve, reason=decision.reason, by=decision.by,
            director_email=decision.director_email, channel=decision.channel,
            ip=decision.ip, at=now, pdf_sha256=s.pdf_sha256)
        s.quote_state = QuoteState.APPROVED if decision.approve else QuoteState.DECLINED
        verb = "approved" if decision.approve else "declined"
        self.record_event(f"quote_{verb}", f"by {decision.director_email} via "
                          f"{decision.channel.value}; PDF sha256 {s.pdf_sha256[:16]}…"
                          + (f"; {decision.reason}" if decision.reason else ""), by=decision.by)
        if decision.approve:
            self.start_beside(self._order())
        else:
            self._tell_request(QuoteNews(quote_id=s.ticket_id, quote_state=s.quote_state,
                                         detail=f"declined: {decision.reason}"))
            self.apply_transition(Transition.made(Status.RESOLVED, decision.by,
                                                  f"declined: {decision.reason}"))
        self.mark_changed()

    async def _order(self) -> None:
        """Parts ordered the same day: the procurement hook, retried while it is down."""
        s = self.state
        draft = self.start.document.draft
        try:
            order = await workflow.execute_activity_method(
                ProcurementActivities.place_order,
                OrderRequest(quote_id=s.ticket_id, client_id=s.client_id,
                             request_id=s.request_id, title=s.title, currency=s.currency,
                             lines=s.lines, total=str(s.totals.total),
                             install_days=draft.install_days, zone=self.start.zone),
                start_to_close_timeout=timedelta(minutes=2), retry_policy=ORDER_RETRIES,
                summary=f"order the parts of {s.ticket_id}")
        except ActivityError as err:
            s.order_failed = str(getattr(err.cause, "message", None) or err)[:500]
            self.record_event("order_failed", f"{s.order_failed} - order by hand")
            self.queue_notice("order_failed", f"Order by hand: quote {s.ticket_id}",
                              self.assignee_mail(),
                              document=self.start.document if self._final_words else None)
            self.mark_changed(publish=False)
            if self.ends_by_kind_rules:  # the decision is made: the order is the agent's from here
                self._tell_request(QuoteNews(quote_id=s.ticket_id, quote_state=s.quote_state,
                                             detail="approved; the parts are ordered by hand"))
                self.apply_transition(Transition.made(
                    Status.RESOLVED, "system",
                    f"approved; the order is handed to an agent: {s.order_failed}"))
            return
        s.order = order
        schedule = (f"order {order.order_id}: parts expected {order.eta.isoformat()}, "
                    f"install on {order.install_on.isoformat()}")
        self.record_event("ordered", schedule)
        self.queue_notice("quote_ordered", f"Approved and ordered: {s.title} - install on "
                          f"{order.install_on.isoformat()}", [], requester=True)
        self._tell_request(QuoteNews(quote_id=s.ticket_id, quote_state=s.quote_state,
                                     detail=schedule, install_at=order.install_at))
        self.apply_transition(Transition.made(Status.RESOLVED, "system", schedule))

    # ------------------------------------------------------------------ final words

    def notice_of_status(self, request: Transition) -> bool:
        """Resolved: the directors and the requester are told what was decided, by whom
        and when - never "reply if it is not fixed" (a decision is final)."""
        s = self.state
        if not self._final_words or request.to is not Status.RESOLVED:
            return False
        words = decision_facts(s.decision, request.by, workflow.now(), request.reason)
        self.queue_notice("quote_decided", f"Quote {words['decision'].lower()}: {s.title}",
                          list(self.start.directors), requester=True, facts=words)
        return True

    def surveys_on_close(self) -> bool:
        """No "how did we do?" on a decided quote: nothing was fixed to rate."""
        return not self._final_words

    # ------------------------------------------------------------------ revisions

    @workflow.update
    def supersede(self, request: Supersede) -> QuoteView:
        s = self.state
        s.quote_state = QuoteState.SUPERSEDED
        s.superseded_by = request.by_quote
        self.record_event("quote_superseded", f"revised as {request.by_quote}", by=request.by)
        self.close_ticket(by=request.by, reason=f"revised as {request.by_quote}", survey=False)
        return s.view()

    @supersede.validator
    def _validate_supersede(self, request: Supersede) -> None:
        s = self.state
        if s.quote_state is not QuoteState.SENT:
            raise ApplicationError(f"quote {s.ticket_id} is {s.quote_state.value}: only a "
                                   "quote still waiting for a decision can be revised",
                                   type=Refusal.INVALID_TRANSITION)

    # ------------------------------------------------------------------ helpers

    def _send_to_directors(self, event: str, subject: str) -> None:
        """One notice per director: each gets their own signed link, and the PDF."""
        s = self.state
        for director in self.start.directors:
            self.queue_notice(event, subject, [director], document=self.start.document,
                              approval=ApprovalLink(quote_id=s.ticket_id, director_email=director,
                                                    expires_at=s.valid_until))

    def _tell_request(self, news: QuoteNews) -> None:
        request_id = self.state.request_id
        if request_id is None:
            return

        async def tell() -> None:
            handle = workflow.get_external_workflow_handle(
                workflow_id(TicketKind.SERVICE_REQUEST, request_id))
            try:
                await handle.signal("quote_news", news)
            except Exception as exc:  # the request ended: the quote's own record stands
                self.record_event("request_not_told", f"{request_id}: {type(exc).__name__}")

        self.start_beside(tell())
