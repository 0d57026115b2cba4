"""A new user: account, licences, groups and devices ready by the start, then the account
confirmation, the MFA walk-through (with reminders) and a 30-minute security induction.

On the ticket core: "ready by the start" is an extra target on the ticket's SLA clock
(warnings, breach, the escalation ladder). Provider calls run beside the clock, retried
for as long as a provider is down. A licence pool that is exhausted, or a step a provider
refuses, waits for an agent (``retry_steps`` once mended); it does not fail the ticket.
HR's cancellation undoes every step that was started, newest first (a saga).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.onboarding import OnboardingActivities
    from activities.providers import ProviderActivities
    from domain.ids import SagaPass, TicketKind
    from domain.lifecycle import onboarding_next_due, onboarding_resolution
    from domain.notifications import Invite
    from domain.offboarding import ProviderCall
    from domain.onboarding import (
        INDUCTION_MINUTES,
        MFA_REMINDERS_MAX,
        READY_TARGET,
        READY_WARNINGS,
        Cancellation,
        ExpediteDecision,
        JoinerCall,
        JoinerIntake,
        JoinerStep,
        MfaEnrolled,
        OnboardingStart,
        OnboardingState,
        OnboardingView,
        RetrySteps,
        personal_contact,
    )
    from domain.provider_steps import StepState
    from domain.refusals import Refusal
    from domain.sla.clock import ClockTarget, SlaClockState
    from domain.sla.policy import Priority
    from domain.tickets import DONE, Status, TicketEvent, Transition
    from workflows.provider_steps import ProviderSteps
    from workflows.ticket import TicketWorkflow, ticket_kind

# A cancelled step's activity is allowed to finish before it is undone, so nothing it
# creates outlives the compensation.
WAIT = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
_UNDO = {
    JoinerStep.CREATE_ACCOUNT: OnboardingActivities.delete_account,
    JoinerStep.ADD_GROUPS: OnboardingActivities.remove_groups,
    JoinerStep.BUILD_DEVICE: OnboardingActivities.release_device,
}


def _device_step(hostname: str) -> str:
    return f"{JoinerStep.BUILD_DEVICE.value} {hostname}"


@ticket_kind(TicketKind.ONBOARDING, OnboardingView)
@workflow.defn
class OnboardingWorkflow(ProviderSteps, TicketWorkflow):
    state: OnboardingState
    publishes_next_due = True

    @workflow.init
    def __init__(self, start: OnboardingStart) -> None:
        self.start = start
        self.setup(start.state or self.initial_state(start), start.sla, start.rules)
        if self.state.request is None:  # a run carried over from before requests were kept
            self.state.request = JoinerIntake.of(start.form)
        self.setup_steps()
        self._provisioning: asyncio.Task[None] | None = None
        self._checking_mfa = False

    def busy_beside(self) -> bool:
        return super().busy_beside() or self._provisioning is not None

    @staticmethod
    def initial_state(start: OnboardingStart) -> OnboardingState:
        form = start.form
        ready = ClockTarget(name=READY_TARGET, due_at=start.starts_at, warnings=READY_WARNINGS)
        steps = [StepState(name=step.value) for step in (
            JoinerStep.CREATE_ACCOUNT, JoinerStep.ASSIGN_LICENCES, JoinerStep.ADD_GROUPS)]
        steps += [StepState(name=_device_step(d.hostname)) for d in form.hardware]
        state = OnboardingState(
            request=JoinerIntake.of(start.form),
            ticket_id=start.ticket_id, client_id=start.client_id,
            subject=f"New user: {form.employee.name}, {form.title}", opened_at=start.opened_at,
            technical_contact=form.manager.email,
            clock=SlaClockState(priority=Priority.P3, priority_targets=False,
                                opened_at=start.opened_at, extra=[ready]),
            employee=form.employee.name, user_principal_name=form.user_principal_name,
            title=form.title, manager=form.manager.name, starts_at=start.starts_at,
            expedited=start.expedited, steps=steps, induction_at=start.induction_at,
            **personal_contact(form))
        detail = f"starts {start.starts_at.isoformat()}"
        if start.expedited:
            detail += f"; less than the contract's {start.notice} notice: waits for an " \
                      "agent to approve the expedite"
        state.add_event(TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                    detail=detail))
        return state

    @workflow.run
    async def run(self, start: OnboardingStart) -> OnboardingView:
        await self.run_ticket(fresh=start.state is None)
        return self.state.view()

    def step_subject(self) -> str:
        return self.state.employee

    # ------------------------------------------------------------------ the core's hooks

    def moments(self) -> list[tuple[datetime | None, str]]:
        found: list[tuple[datetime | None, str]] = []
        if self._may_provision():
            found.append((self.state.opened_at, "provision the account and devices"))
        check = self._mfa_check_at()
        if check is not None and not self._checking_mfa:
            found.append((check, "MFA enrolment check"))
        return found

    def on_moments(self, now: datetime) -> None:
        if self._may_provision():
            self._provisioning = asyncio.create_task(self._provision())
        check = self._mfa_check_at()
        if check is not None and now >= check and not self._checking_mfa:
            self._checking_mfa = True
            self.start_beside(self._check_mfa())

    def due_instead(self) -> datetime | None:
        """Until ready, the ready target (the start) is the SLA instant queues sort by."""
        ready = self.state.ready_at is not None
        return self.clock.due(READY_TARGET) if self.ends_by_kind_rules and not ready else None

    def next_due(self) -> datetime | None:
        return onboarding_next_due(self.state, self._mfa_check_at(), self.auto_close_at())

    def details(self) -> str:
        s = self.state
        done = sum(1 for st in s.steps if st.done_at)
        extra = f"\n\n{done}/{len(s.steps)} steps done"
        if s.waiting_for_agent:
            extra += f"\n\n**Waiting for an agent:** {s.waiting_for_agent}"
        return super().details() + extra

    def _may_provision(self) -> bool:
        s = self.state
        if self._provisioning is not None or s.cancelled_at is not None or s.status in DONE:
            return False
        if s.expedited and s.expedite_approved_at is None:
            return False
        if self._handed_over_once and self._step(JoinerStep.CREATE_ACCOUNT.value).needs_agent:
            return False  # every other step needs the account: the agent acts first
        return any(st.done_at is None and not st.needs_agent for st in s.steps)

    def _mfa_check_at(self) -> datetime | None:
        """After the induction (where the walk-through happens), then each business day."""
        s = self.state
        if (s.ready_at is None or s.mfa_enrolled_at is not None or s.induction_at is None
                or s.cancelled_at is not None or s.mfa_reminders >= MFA_REMINDERS_MAX):
            return None
        first = s.induction_at + timedelta(minutes=INDUCTION_MINUTES)
        return self.business_after(first, f"{s.mfa_reminders}bd") if s.mfa_reminders else first

    # ------------------------------------------------------------------ provisioning

    def _step(self, name: str) -> StepState:
        return next(st for st in self.state.steps if st.name == name)

    def _joiner_call(self, step: str, key: str, device=None) -> JoinerCall:
        s, form, start = self.state, self.start.form, self.start
        return JoinerCall(
            client_id=s.client_id, ticket_id=s.ticket_id, step=step, step_key=key,
            user_principal_name=s.user_principal_name, display_name=s.employee,
            title=form.title, department=form.department,
            usage_location=start.usage_location, licences=start.licences,
            groups=start.groups, mailboxes=form.mailbox_access, device=device)

    async def _provision(self) -> None:
        """The account first; then licences, groups and every device at once."""
        account = self._step(JoinerStep.CREATE_ACCOUNT.value)
        try:
            created = await self._do(account, OnboardingActivities.create_account,
                                     self._provision_call(JoinerStep.CREATE_ACCOUNT))
        except asyncio.CancelledError:  # withdrawn while the account was being retried
            self._provisioning = None
            raise
        if not created:
            self._provisioning = None
            return
        work = [self._do(self._step(JoinerStep.ASSIGN_LICENCES.value),
                         OnboardingActivities.assign_licences,
                         self._provision_call(JoinerStep.ASSIGN_LICENCES)),
                self._do(self._step(JoinerStep.ADD_GROUPS.value),
                         OnboardingActivities.add_groups,
                         self._provision_call(JoinerStep.ADD_GROUPS))]
        for device in self.start.form.hardware:
            work.append(self._do(self._step(_device_step(device.hostname)),
                                 OnboardingActivities.build_device,
                                 self._provision_call(JoinerStep.BUILD_DEVICE, device)))
        try:
            await asyncio.gather(*work)
        finally:
            self._provisioning = None  # a retry after an agent's fix starts afresh
        self._check_ready()

    def _provision_call(self, kind: JoinerStep, device=None) -> JoinerCall:
        """The call of a provisioning step, keyed by its kind (and device)."""
        name = _device_step(device.hostname) if device else kind.value
        key = self.step_key(kind.value, SagaPass.DO, device.hostname if device else None)
        return self._joiner_call(name, key, device)

    async def _do(self, step: StepState, activity, call: JoinerCall) -> bool:
        if step.done_at is not None:
            return True
        result = await self.run_step(step, activity, call, cancellation=WAIT)
        if result is None:
            self.state.waiting_for_agent = f"{step.name}: {step.last_error}"
            self.mark_changed(wake=False)  # the loop waits for nothing here
        return result is not None

    def _check_ready(self) -> None:
        s = self.state
        if s.ready_at is not None or not all(st.done_at for st in s.steps):
            return
        now = workflow.now()
        s.ready_at = now
        s.waiting_for_agent = None
        self.clock.meet(READY_TARGET, now)
        early = s.starts_at - now
        self.record_event("ready", "account, licences, groups and devices ready "
                          + (f"{_hours(early)} before the start" if early >= timedelta(0)
                             else f"{_hours(-early)} after the start"))
        self.queue_notice("account_confirmation", f"Account ready: {s.employee} "
                          f"({s.user_principal_name})", [], requester=True)
        s.confirmation_sent_at = now
        if s.induction_at is not None:
            self.queue_notice("induction_invite", f"Security induction: {s.employee}", [],
                              requester=True, invite=Invite(
                                  uid=f"{workflow.info().workflow_id}:induction",
                                  starts_at=s.induction_at, minutes=INDUCTION_MINUTES,
                                  summary=f"Security and MFA induction: {s.employee}",
                                  attendees=[s.user_principal_name, s.technical_contact]))
        if self.ends_by_kind_rules:
            self._after_ready()
        self.mark_changed()  # the notices above woke the loop already

    def _after_ready(self) -> None:
        """Ready: the ticket is being worked (the induction and MFA are next), or done if
        no induction was booked (domain/lifecycle.py decides)."""
        s = self.state
        done = onboarding_resolution(s)
        if done is not None and s.status not in DONE:
            self.apply_transition(Transition(to=Status.RESOLVED, by="system", reason=done))
        elif s.status in (Status.NEW, Status.ACKNOWLEDGED):
            next_step = (f"induction at {s.induction_at.isoformat()}" if s.induction_at
                         else "MFA enrolment")
            self.apply_transition(Transition(to=Status.IN_PROGRESS, by="system",
                                             reason=f"ready; next: {next_step}"))

    async def _check_mfa(self) -> None:
        s = self.state
        check = s.mfa_reminders + 1  # each check is a step of its own
        step = self.other_step(f"check MFA enrolment {check}")
        result = await self.run_step(step, OnboardingActivities.check_mfa, self._joiner_call(
            step.name, self.step_key("check_mfa", SagaPass.DO, str(check))))
        self._checking_mfa = False
        if s.mfa_enrolled_at is not None or s.cancelled_at is not None:
            return
        if result is not None and result.detail.startswith("enrolled"):
            self._mfa_done(by="system", detail=result.detail)
            return
        s.mfa_reminders += 1
        self.record_event("mfa_reminder", f"reminder {s.mfa_reminders} of {MFA_REMINDERS_MAX}")
        self.queue_notice("mfa_reminder", f"Please set up multi-factor sign-in: {s.employee}",
                          [s.user_principal_name], requester=True)
        if s.mfa_reminders >= MFA_REMINDERS_MAX:
            s.waiting_for_agent = (f"{s.employee} has not enrolled in MFA after "
                                   f"{MFA_REMINDERS_MAX} reminders: call them")
            self.queue_notice("mfa_overdue", f"MFA not set up: {s.employee}", self.assignee_mail())
        self.mark_changed()

    def _mfa_done(self, by: str, detail: str) -> None:
        s = self.state
        s.mfa_enrolled_at = workflow.now()
        s.waiting_for_agent = None
        self.record_event("mfa_enrolled", detail, by=by)
        self.mark_changed(publish=False)
        if s.status not in DONE:
            self.apply_transition(Transition(to=Status.RESOLVED, by="system", reason=(
                "account, licences, groups and devices ready; MFA enrolled")))

    # ------------------------------------------------------------------ cancellation (saga)

    async def _compensate(self, reason: str, by: str) -> None:
        """Undo every step that was started, newest first. Each undo is safe to run twice
        and on a step that never took effect (deleting a missing account is done)."""
        if self._provisioning is not None:
            self._provisioning.cancel()
            # WAIT_CANCELLATION_COMPLETED: returns once every running activity has ended.
            await asyncio.gather(self._provisioning, return_exceptions=True)
        started = [st for st in self.state.steps if st.started_at is not None]
        started.sort(key=lambda st: (st.started_at, self.state.steps.index(st)), reverse=True)
        for step in started:
            if step.undone_at is None:
                await self._undo(step)
        s = self.state
        s.compensated_at = workflow.now()
        undone = ", ".join(st.name for st in started) or "nothing had started"
        self.record_event("compensated", f"undone, newest first: {undone}")
        self.apply_transition(Transition.made(Status.RESOLVED, by, f"cancelled: {reason}"))

    async def _undo(self, step: StepState) -> None:
        kind = JoinerStep(step.name.split(" ")[0])
        undo = self.other_step(f"undo {step.name}")
        device = next((d for d in self.start.form.hardware
                       if _device_step(d.hostname) == step.name), None)
        key = self.step_key(kind.value, SagaPass.UNDO, device.hostname if device else None)
        if kind is JoinerStep.ASSIGN_LICENCES:  # the leavers' activity, shared
            call = ProviderCall(client_id=self.state.client_id, ticket_id=self.state.ticket_id,
                                user_principal_name=self.state.user_principal_name,
                                step=undo.name, step_key=key)
            result = await self.run_step(undo, ProviderActivities.remove_licences, call)
        else:
            result = await self.run_step(undo, _UNDO[kind],
                                         self._joiner_call(undo.name, key, device))
        if result is not None:
            step.undone_at = workflow.now()

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> OnboardingView:
        return self.state.view()

    @workflow.update
    def decide_expedite(self, request: ExpediteDecision) -> OnboardingView:
        s = self.state
        if request.approve:
            s.expedite_approved_by = request.by
            s.expedite_approved_at = workflow.now()
            self.record_event("expedite_approved", request.reason, by=request.by)
            self.mark_changed(publish=False)
        else:
            self.record_event("expedite_declined", request.reason, by=request.by)
            s.cancelled_at = workflow.now()
            s.cancel_reason = f"expedite declined: {request.reason or 'no reason given'}"
            self.apply_transition(Transition.made(Status.RESOLVED, request.by, s.cancel_reason))
        return s.view()

    @decide_expedite.validator
    def _validate_expedite(self, request: ExpediteDecision) -> None:
        s = self.state
        if not s.expedited:
            raise ApplicationError("this new user was given the contract's notice: there is "
                                   "no expedite to decide", type=Refusal.INVALID_TRANSITION)
        if s.expedite_approved_at is not None:
            raise ApplicationError(f"the expedite was approved already by "
                                   f"{s.expedite_approved_by}", type=Refusal.ALREADY_DONE)
        self._check_open()
        if not request.approve and not request.reason.strip():
            raise ApplicationError("say why the expedite is declined in 'reason': HR is told",
                                   type=Refusal.INVALID)

    @workflow.update
    async def cancel(self, request: Cancellation) -> OnboardingView:
        """HR withdraws the new user: everything done so far is undone, newest first; the
        answer comes once it is (a provider outage makes it wait, retried)."""
        s = self.state
        s.cancelled_at = workflow.now()
        s.cancel_reason = request.reason
        self.record_event("cancelled", request.reason, by=request.by)
        self.mark_changed(publish=False)
        await self._compensate(request.reason, request.by)
        return s.view()

    @cancel.validator
    def _validate_cancel(self, request: Cancellation) -> None:
        self._check_open()

    @workflow.update
    def retry_steps(self, request: RetrySteps) -> OnboardingView:
        s = self.state
        for step in s.steps:
            if step.needs_agent:
                step.needs_agent = False
                step.last_error = None
        s.waiting_for_agent = None
        self.record_event("steps_retried", request.note, by=request.by)
        # the loop starts provisioning again (once a running pass ends)
        self.mark_changed(publish=False)
        return s.view()

    @retry_steps.validator
    def _validate_retry(self, request: RetrySteps) -> None:
        self._check_open()
        if not any(st.needs_agent for st in self.state.steps):
            raise ApplicationError("no step is waiting for an agent",
                                   type=Refusal.INVALID_TRANSITION)
        # Steps still in progress (a device awaited, backing off for minutes) do not make
        # the agent come back later: the refused steps run again once the pass ends.

    @workflow.update
    def mfa_enrolled(self, request: MfaEnrolled) -> OnboardingView:
        self._mfa_done(by=request.by, detail="seen by an agent")
        return self.state.view()

    @mfa_enrolled.validator
    def _validate_mfa(self, request: MfaEnrolled) -> None:
        self._check_open()
        if self.state.ready_at is None:
            raise ApplicationError("the account is not ready yet: MFA comes after it",
                                   type=Refusal.INVALID_TRANSITION)
        if self.state.mfa_enrolled_at is not None:
            raise ApplicationError("MFA enrolment was recorded already", type=Refusal.ALREADY_DONE)

    def _check_open(self) -> None:
        s = self.state
        if s.cancelled_at is not None:
            raise ApplicationError(f"this new user was cancelled: {s.cancel_reason}",
                                   type=Refusal.INVALID_TRANSITION)
        if s.status in DONE:
            raise ApplicationError(f"the ticket is {s.status.value}: raise a new one",
                                   type=Refusal.INVALID_TRANSITION)


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
