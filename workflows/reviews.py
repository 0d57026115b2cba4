"""Client reviews as workflows: what a review schedule starts, the NPS survey of a
half-year, and the QBR of a quarter.

* :class:`ReviewKickoffWorkflow` is what each client's Temporal Schedule (``nps:<client>``,
  ``qbr:<client>``) starts. It asks an activity which period the fired instant covers (time
  zones stay outside workflows) and starts that period's workflow under its business key,
  ``nps:<client>:<half>`` or ``qbr:<client>:<quarter>``: a second firing in the same period
  (a trigger by hand, a catch-up) finds it already there and starts nothing.
* :class:`NpsSurveyWorkflow` mails each contact a signed link, takes one answer each until
  the survey closes, then keeps the result (queried by the QBR) for the configured time.
* :class:`QbrWorkflow` has an activity compile the figures, another mail the report to the
  account manager, then keeps the figures, from which the API draws the HTML and the PDF.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.reviews import ReviewActivities
    from domain import search_attributes as sa
    from domain.nps import (
        Invitation,
        NpsInvite,
        NpsReply,
        NpsResponse,
        NpsResult,
        NpsStart,
        respondent_key,
    )
    from domain.qbr import QbrMail, QbrReport, QbrStart
    from domain.refusals import Refusal
    from domain.reviews import Job, KickoffResult, PlanRequest, ReviewKickoff

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
SEND_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))
MAIL_GIVE_UP = timedelta(days=3)


def _keep(until: datetime) -> timedelta:
    return max(until - workflow.now(), timedelta(0))


@workflow.defn
class ReviewKickoffWorkflow:
    @workflow.run
    async def run(self, kickoff: ReviewKickoff) -> KickoffResult:
        info = workflow.info()
        # The instant the schedule fired for; a run started by hand: its own start.
        fired = info.typed_search_attributes.get(SCHEDULED_START) or info.start_time
        plan = await workflow.execute_activity_method(
            ReviewActivities.plan_review,
            PlanRequest(client_id=kickoff.client_id, job=kickoff.job, fired_at=fired),
            start_to_close_timeout=timedelta(minutes=1),
            summary=f"{kickoff.job.value}: which period, from the config")
        attributes = TypedSearchAttributes([SearchAttributePair(sa.CLIENT_ID, kickoff.client_id)])
        common = dict(id=plan.workflow_id, search_attributes=attributes,
                      parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                      id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
        try:
            if kickoff.job is Job.NPS:
                assert plan.nps is not None
                await workflow.start_child_workflow(NpsSurveyWorkflow.run, plan.nps, **common)
            else:
                assert plan.qbr is not None
                await workflow.start_child_workflow(QbrWorkflow.run, plan.qbr, **common)
        except WorkflowAlreadyStartedError:
            return KickoffResult(job=kickoff.job, period=plan.period,
                                 workflow_id=plan.workflow_id, started=False)
        return KickoffResult(job=kickoff.job, period=plan.period,
                             workflow_id=plan.workflow_id, started=True)


@workflow.defn
class NpsSurveyWorkflow:
    @workflow.init
    def __init__(self, start: NpsStart) -> None:
        self.start = start
        self.state = NpsResult(
            client_id=start.client_id, period=start.period, sent_at=start.sent_at,
            closes_at=start.closes_at,
            invitations=[Invitation(respondent=respondent_key(start.client_id, start.period,
                                                              c.email), email=c.email)
                         for c in start.contacts])

    @workflow.run
    async def run(self, start: NpsStart) -> NpsResult:
        workflow.set_current_details(f"NPS {start.period} for {start.client_name}: "
                                     f"{len(start.contacts)} contacts")
        await asyncio.gather(*(self._invite(i) for i in range(len(start.contacts))))
        s = self.state
        with contextlib.suppress(TimeoutError):  # until everyone answered, or it closes
            await workflow.wait_condition(
                lambda: len(s.responses) >= len(s.invitations), timeout=_keep(start.closes_at),
                timeout_summary=f"survey closes {start.closes_at:%Y-%m-%d %H:%M} UTC")
        s.closed = True
        summary = s.summary()
        workflow.set_current_details(f"NPS {start.period}: closed, {summary.responses} of "
                                     f"{summary.invited} answered, NPS {summary.nps}")
        await workflow.wait_condition(workflow.all_handlers_finished)
        await workflow.sleep(_keep(start.keep_until),
                             summary="result kept for the QBRs until then")
        return self.state

    async def _invite(self, index: int) -> None:
        s, contact = self.state.invitations[index], self.start.contacts[index]
        invite = NpsInvite(
            invite_id=f"{workflow.info().workflow_id}:{s.respondent}",
            client_id=self.start.client_id, client_name=self.start.client_name,
            period=self.start.period, contact=contact, respondent=s.respondent,
            sent_at=self.start.sent_at, closes_at=self.start.closes_at)
        try:
            receipt = await workflow.execute_activity_method(
                ReviewActivities.send_nps_invite, invite,
                start_to_close_timeout=timedelta(minutes=2), retry_policy=SEND_RETRY,
                schedule_to_close_timeout=max(_keep(self.start.closes_at),
                                              timedelta(minutes=5)),
                summary=f"NPS survey link to contact {index + 1}")
        except ActivityError as exc:
            s.status, s.detail = "failed", str(exc.cause or exc)[:300]
            return
        s.message_id = receipt.message_id
        s.status = "sent" if receipt.emailed else "skipped"
        s.detail = "; ".join(receipt.skipped)

    @workflow.update
    def answer(self, reply: NpsReply) -> NpsResponse:
        response = NpsResponse(respondent=reply.respondent, score=reply.score,
                               comment=reply.comment, at=workflow.now())
        self.state.responses.append(response)
        return response

    @answer.validator
    def _validate_answer(self, reply: NpsReply) -> None:
        s = self.state
        if s.closed or workflow.now() >= s.closes_at:
            raise ApplicationError("the survey has closed", type=Refusal.EXPIRED)
        if all(i.respondent != reply.respondent for i in s.invitations):
            raise ApplicationError("this link is not one of this survey's",
                                   type=Refusal.NOT_ALLOWED)
        if any(r.respondent == reply.respondent for r in s.responses):
            raise ApplicationError("the survey was already answered", type=Refusal.ALREADY_DONE)

    @workflow.query
    def result(self) -> NpsResult:
        return self.state


@workflow.defn
class QbrWorkflow:
    @workflow.init
    def __init__(self, start: QbrStart) -> None:
        self.report = QbrReport(client_id=start.client_id, quarter=start.period.label)

    @workflow.run
    async def run(self, start: QbrStart) -> QbrReport:
        r = self.report
        workflow.set_current_details(f"QBR {start.period.label} for {start.client_name}")
        r.figures = await workflow.execute_activity_method(
            ReviewActivities.compile_qbr, start, start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(minutes=1),
            summary=f"QBR {start.period.label}: read the quarter's tickets and NPS")
        r.status = "ready"
        if start.period.end > workflow.now() and workflow.patched("qbr-on-demand-interim"):
            # Asked for before the quarter ended: these figures are the quarter so far
            # (served now); its final ones are made, and mailed, when it ends.
            r.status = "interim"
            workflow.set_current_details(f"QBR {start.period.label} for "
                                         f"{start.client_name}: interim, final at its end")
            await workflow.sleep(start.period.end - workflow.now(),
                                 summary=f"{start.period.label} ends: its final figures")
            final = start.model_copy(update={"generated_at": start.period.end})
            r.figures = await workflow.execute_activity_method(
                ReviewActivities.compile_qbr, final,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(minutes=1),
                summary=f"QBR {start.period.label}: the whole quarter, now it has ended")
            r.status = "ready"
        mail = QbrMail(mail_id=workflow.info().workflow_id, recipients=start.recipients,
                       url=start.url, figures=r.figures)
        try:
            receipt = await workflow.execute_activity_method(
                ReviewActivities.send_qbr, mail, start_to_close_timeout=timedelta(minutes=2),
                retry_policy=SEND_RETRY, schedule_to_close_timeout=MAIL_GIVE_UP,
                summary="QBR to the account manager (HTML and PDF)")
            r.emailed, r.message_id = receipt.emailed, receipt.message_id
            r.email_problem = "; ".join(receipt.skipped) or None
        except ActivityError as exc:
            r.email_problem = str(exc.cause or exc)[:300]
        workflow.set_current_details(
            f"QBR {start.period.label} ready; e-mailed to {', '.join(r.emailed) or 'nobody'}"
            + (f" ({r.email_problem})" if r.email_problem else ""))
        await workflow.sleep(_keep(start.keep_until), summary="served at its URL until then")
        return r

    @workflow.query
    def report(self) -> QbrReport:
        return self.report
