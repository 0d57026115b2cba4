"""A user exit: access revoked within 1 hour of the effective time, hardware back or
wiped, licences recycled, data archived 30 days then purged (unless on legal hold).

On the ticket core: the 1-hour promise is an extra target on the ticket's SLA clock
(warnings at 30 and 45 minutes, breach, the escalation ladder). The provider calls run
beside the clock, retried for as long as a provider is down (workflows/provider_steps.py:
each attempt shows on the step), so an outage delays no warning or escalation; a step a
provider refuses outright ends with a note for an agent. When everything is done the
ticket resolves itself (and closes 3 BD later).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.providers import ProviderActivities
    from domain.ids import SagaPass, TicketKind
    from domain.lifecycle import (
        OFFBOARDING_ALLOWED,
        offboarding_next_due,
        offboarding_work_done,
    )
    from domain.offboarding import (
        ACCESS_STEPS,
        ACCESS_TARGET,
        ACCESS_WARNINGS,
        ACCESS_WITHIN_SECONDS,
        ARCHIVE_DAYS,
        CustodyEntry,
        DeviceState,
        ExitIntake,
        HardwareReturn,
        LegalHold,
        OffboardingStart,
        OffboardingState,
        OffboardingView,
        ProviderCall,
        RevocationStep,
        exit_contact,
    )
    from domain.provider_steps import StepState
    from domain.refusals import Refusal
    from domain.sla.clock import ClockTarget, SlaClockState
    from domain.sla.deadlines import ResolvedTarget
    from domain.sla.policy import Priority
    from domain.sla.timeline import US
    from domain.tickets import DONE, Status, TicketEvent, Transition
    from workflows.provider_steps import ProviderSteps
    from workflows.ticket import TicketWorkflow, ticket_kind

_ACTIVITY = {
    RevocationStep.DISABLE_ACCOUNT: ProviderActivities.disable_account,
    RevocationStep.REVOKE_SESSIONS: ProviderActivities.revoke_sessions,
    RevocationStep.REMOVE_GROUPS: ProviderActivities.remove_all_groups,
    RevocationStep.REMOVE_LICENCES: ProviderActivities.remove_licences,
    RevocationStep.DISCONNECT_EDR: ProviderActivities.disconnect_edr,
}


# Group removal joined the revocation steps later: exits recorded before it replay without.
LEAVER_GROUPS = "leaver-groups"
WIPE_CONFIRMATION = "wipe-confirmation"  # likewise: the wipe's confirmation came later


@ticket_kind(TicketKind.OFFBOARDING, OffboardingView)
@workflow.defn
class OffboardingWorkflow(ProviderSteps, TicketWorkflow):
    state: OffboardingState
    # Reopened only while resolved, never once closed (domain/lifecycle.py).
    allowed = OFFBOARDING_ALLOWED
    publishes_next_due = True

    @workflow.init
    def __init__(self, start: OffboardingStart) -> None:
        self.start = start
        self.setup(start.state or self.initial_state(start), start.sla, start.rules)
        if self.state.request is None:  # a run carried over from before requests were kept
            self.state.request = ExitIntake.of(start.form)
        # Exits carried over from before the leaver rule named the leaver: not any more.
        self.state.technical_contact = exit_contact(start.form)
        self.setup_steps()
        self._revoking = False
        self._wiping: set[str] = set()
        self._purging = False

    @staticmethod
    def initial_state(start: OffboardingStart) -> OffboardingState:
        form = start.form
        access = ClockTarget(
            name=ACCESS_TARGET, starts_at=start.effective_at, warnings=ACCESS_WARNINGS,
            length=ResolvedTarget(micros=ACCESS_WITHIN_SECONDS * US, business=False))
        state = OffboardingState(
            request=ExitIntake.of(start.form),
            ticket_id=start.ticket_id, client_id=start.client_id,
            subject=f"User exit: {form.employee.name}", opened_at=start.opened_at,
            technical_contact=exit_contact(form),
            clock=SlaClockState(priority=Priority.P2, priority_targets=False,
                                opened_at=start.opened_at, extra=[access]),
            employee=form.employee.name, user_principal_name=form.user_principal_name,
            effective_at=start.effective_at,
            steps=[StepState(name=step.value) for step in RevocationStep],
            devices=[DeviceState(device=d) for d in form.hardware],
            return_by=start.effective_at + timedelta(days=form.return_window_days),
            purge_at=start.effective_at + timedelta(days=ARCHIVE_DAYS),
            legal_hold=form.legal_hold)
        when = "now" if form.immediate else f"at {start.effective_at.isoformat()}"
        state.add_event(TicketEvent(at=start.opened_at, kind="opened", by=start.raised_by,
                                    detail=f"access ends {when}; reason: {form.reason or '-'}"))
        return state

    @workflow.run
    async def run(self, start: OffboardingStart) -> OffboardingView:
        await self.run_ticket(fresh=start.state is None)
        return self.state.view()

    # ------------------------------------------------------------------ the core's hooks

    def due_instead(self) -> datetime | None:
        """Until access is revoked, the 1-hour promise is the SLA instant queues sort by."""
        revoked = self.state.access_revoked_at is not None
        return self.clock.due(ACCESS_TARGET) if self.ends_by_kind_rules and not revoked else None

    def next_due(self) -> datetime | None:
        return offboarding_next_due(self.state, self.auto_close_at())

    def finish_at(self) -> datetime | None:
        """Resolved once the work is done, the exit lives on (closed) until its archive is
        purged - or, on legal hold, until the hold is released and it is purged."""
        s = self.state
        if self.ends_by_kind_rules and (self.busy_beside() or (
                s.purged_at is None and not self._handed_over(PURGE_STEP))):
            return None
        return super().finish_at()

    def moments(self) -> list[tuple[datetime | None, str]]:
        """Instants still to act on in this run (one acted on is never returned again, or
        the loop would wake at a past instant forever)."""
        s = self.state
        found: list[tuple[datetime | None, str]] = []
        if self._revocation_due():
            found.append((s.effective_at, "effective time: revoke access"))
        if self._unreturned():
            found.append((s.return_by, "hardware return window ends: remote wipe"))
        if self._unconfirmed():
            found.append((s.return_by, "confirm the remote wipe"))
        if self._purge_due():
            found.append((s.purge_at, f"{ARCHIVE_DAYS}-day archive ends: purge"))
        return found

    def on_moments(self, now: datetime) -> None:
        s = self.state
        if self._revocation_due() and now >= s.effective_at:
            self._revoking = True
            if self.ends_by_kind_rules and s.status in (Status.NEW, Status.ACKNOWLEDGED):
                self.apply_transition(Transition(to=Status.IN_PROGRESS, by="system",
                                                 reason="the effective time: revoking access"))
            self.start_beside(self._revoke())
        if now >= s.return_by:
            for device in self._unreturned():
                serial = device.device.serial
                self._wiping.add(serial)
                if not self._wipe_requested(serial):  # a new run goes on with the wipe
                    s.custody.append(CustodyEntry(serial=serial, at=now, by="system",
                                                  event="wipe_requested",
                                                  condition="not returned in time"))
                self.start_beside(self._wipe(device))
            for device in self._unconfirmed():
                self._wiping.add(device.device.serial)
                self.start_beside(self._confirm_wipe(device))
        if self._purge_due() and now >= s.purge_at:
            self._purging = True
            self.record_event("purge_started", f"the {ARCHIVE_DAYS}-day archive has ended")
            self.start_beside(self._purge())

    def _revocation_due(self) -> bool:
        return not self._revoking and any(st.done_at is None and not st.needs_agent
                                          for st in self.state.steps)

    def _unreturned(self) -> list[DeviceState]:
        return [d for d in self.state.devices if d.returned_at is None and d.wiped_at is None
                and d.device.serial not in self._wiping
                and not self._handed_over(_wipe_step(d.device.serial))]

    def _unconfirmed(self) -> list[DeviceState]:
        """Wiped in an earlier run whose confirmation was still being retried when the
        ticket continued as new (the run that wipes a device confirms it itself)."""
        if not self._retried_here:
            return []
        return [d for d in self.state.devices if d.wiped_at is not None
                and d.wipe_confirmed_at is None and d.device.serial not in self._wiping
                and not self._handed_over(_confirm_step(d.device.serial))]

    def _purge_due(self) -> bool:
        s = self.state
        return (s.purged_at is None and not s.legal_hold and not self._purging
                and not self._handed_over(PURGE_STEP))

    def _handed_over(self, name: str) -> bool:
        """Whether the step called ``name`` was handed to an agent (in any run), so no new
        run starts it again. Runs from before the workflow's own retries: never."""
        return self._retried_here and any(
            st.name == name and st.needs_agent for st in self.state.other_steps)

    def _wipe_requested(self, serial: str) -> bool:
        return self._retried_here and any(
            c.serial == serial and c.event == "wipe_requested" for c in self.state.custody)

    # ------------------------------------------------------------------ work beside the clock

    def _call(self, step: str, key: str, device=None) -> ProviderCall:
        s = self.state
        return ProviderCall(client_id=s.client_id, ticket_id=s.ticket_id, step=step,
                            step_key=key, user_principal_name=s.user_principal_name,
                            device=device)

    def step_subject(self) -> str:
        return self.state.employee

    async def _run_step(self, step: StepState, activity, key_step: str,
                        device=None) -> bool:
        """Run ``step``, keyed ``key_step`` (and the device's serial, if any)."""
        key = self.step_key(key_step, SagaPass.DO, device.serial if device else None)
        return await self.run_step(step, activity, self._call(step.name, key, device)) \
            is not None

    async def _revoke(self) -> None:
        s = self.state
        if not workflow.patched(LEAVER_GROUPS):  # exits started before groups were removed
            s.steps = [st for st in s.steps if st.name != RevocationStep.REMOVE_GROUPS]
        self.record_event("revoking", "disable account, revoke sessions, remove groups, recycle "
                          "licences, disconnect EDR: all at once")
        by_name = {step.name: step for step in s.steps}

        async def one(step: StepState) -> None:
            if step.done_at is None:
                await self._run_step(step, _ACTIVITY[RevocationStep(step.name)], step.name)
            if (s.access_revoked_at is None
                    and all(by_name[n.value].done_at for n in ACCESS_STEPS)):
                self._access_revoked()

        await asyncio.gather(*(one(step) for step in s.steps))
        self._maybe_resolve()

    def _access_revoked(self) -> None:
        s = self.state
        now = workflow.now()
        s.access_revoked_at = now
        s.revoke_seconds = int((now - s.effective_at).total_seconds())
        s.archived_at = now
        self.clock.meet(ACCESS_TARGET, now)
        self.record_event("access_revoked", f"{s.revoke_seconds} s after the effective time "
                          f"(promise: {ACCESS_WITHIN_SECONDS // 60} min)")
        self.queue_notice("access_revoked", f"Access revoked: {s.employee}", [], requester=True)
        self.mark_changed()  # the notice above woke the loop already

    async def _wipe(self, device: DeviceState) -> None:
        step = self.other_step(_wipe_step(device.device.serial))
        if await self._run_step(step, ProviderActivities.wipe_device, "wipe_device",
                                device.device):
            device.wiped_at = workflow.now()
            self.state.custody.append(CustodyEntry(
                serial=device.device.serial, at=device.wiped_at, by="system",
                event="wiped", condition="not returned: remote wipe sent"))
            if workflow.patched(WIPE_CONFIRMATION):
                await self._confirm_wipe(device)
        self._maybe_resolve()

    async def _confirm_wipe(self, device: DeviceState) -> None:
        """Intune reports the wipe done once the device has checked in and erased itself
        (retried until then: a device kept offline stays unconfirmed, and says so)."""
        step = self.other_step(_confirm_step(device.device.serial))
        if await self._run_step(step, ProviderActivities.confirm_wipe, "confirm_wipe",
                                device.device):
            device.wipe_confirmed_at = workflow.now()
            self.state.custody.append(CustodyEntry(
                serial=device.device.serial, at=device.wipe_confirmed_at, by="Intune",
                event="wipe_confirmed", condition="the device reported the wipe done"))

    async def _purge(self) -> None:
        step = self.other_step(PURGE_STEP)
        if await self._run_step(step, ProviderActivities.purge_mailbox, "purge_mailbox"):
            self.state.purged_at = workflow.now()
            await self.release_files("the 30-day archive was purged")
        self._maybe_resolve()
        if self.ends_by_kind_rules:
            # the loop sees the purge done (the exit's life may end)
            self.mark_changed(publish=False)

    def _maybe_resolve(self) -> None:
        """All done (or handed to an agent): the ticket resolves itself."""
        s = self.state
        if s.status in DONE:
            return
        if self.ends_by_kind_rules:
            if offboarding_work_done(s):
                kept = ("on legal hold" if s.legal_hold
                        else f"purged on {s.purge_at:%Y-%m-%d}" if s.purged_at is None
                        else "purged")
                self.apply_transition(Transition(
                    to=Status.RESOLVED, by="system",
                    reason=f"access revoked, hardware back or wiped; archive {kept}"))
            return
        steps_done = all(st.done_at or st.needs_agent for st in s.steps)
        devices_done = all(d.returned_at or d.wiped_at for d in s.devices)
        data_done = s.purged_at is not None  # a legal hold keeps the ticket (and data) alive
        if steps_done and devices_done and data_done and not any(
                st.needs_agent for st in s.steps):
            self.apply_transition(Transition(to=Status.RESOLVED, by="system",
                                             reason="access revoked, hardware back or "
                                                    "wiped, data purged or on hold"))

    # ------------------------------------------------------------------ messages

    @workflow.query
    def view(self) -> OffboardingView:
        return self.state.view()

    @workflow.update
    def hardware_returned(self, request: HardwareReturn) -> OffboardingView:
        s = self.state
        device = next(d for d in s.devices if d.device.serial == request.serial)
        device.returned_at = workflow.now()
        s.custody.append(CustodyEntry(serial=request.serial, at=device.returned_at,
                                      by=request.by, event="returned",
                                      condition=request.condition))
        self.record_event("hardware_returned", f"{request.serial}: {request.condition or 'ok'}",
                          by=request.by)
        self.mark_changed(publish=False)
        self._maybe_resolve()
        return s.view()

    @hardware_returned.validator
    def _validate_return(self, request: HardwareReturn) -> None:
        device = next((d for d in self.state.devices if d.device.serial == request.serial),
                      None)
        if device is None:
            serials = ", ".join(d.device.serial for d in self.state.devices) or "none"
            raise ApplicationError(f"no device {request.serial} on this exit; listed: {serials}",
                                   type=Refusal.INVALID)
        if device.returned_at is not None:
            raise ApplicationError(f"{request.serial} was returned already",
                                   type=Refusal.ALREADY_DONE)
        if device.wiped_at is not None:
            raise ApplicationError(f"{request.serial} was wiped already: record it as received "
                                   "in a comment", type=Refusal.INVALID_TRANSITION)

    @workflow.update
    def set_legal_hold(self, request: LegalHold) -> OffboardingView:
        """On hold the archive is kept and the ticket stays alive (on hold while its work
        goes on; resolved or closed once it is done), so releasing the hold later still
        purges (at once if the 30 days are over)."""
        s = self.state
        s.legal_hold = request.hold
        self.record_event("legal_hold" if request.hold else "legal_hold_released", request.reason,
                          by=request.by)
        status = Status.ON_HOLD if request.hold else Status.IN_PROGRESS
        # a hold on a finished exit reopens nothing
        done = self.ends_by_kind_rules and s.status in DONE
        if s.status is not status and status in self.allowed[s.status] and not done:
            self.apply_transition(Transition(to=status, by=request.by, reason=request.reason))
        self.mark_changed(publish=False)
        return s.view()

    @set_legal_hold.validator
    def _validate_hold(self, request: LegalHold) -> None:
        if self.state.purged_at is not None:
            raise ApplicationError("the data was purged already: nothing is left to hold",
                                   type=Refusal.EXPIRED)
        if request.hold == self.state.legal_hold:
            raise ApplicationError("the legal hold is already " + ("on" if request.hold
                                                                   else "off"),
                                   type=Refusal.ALREADY_DONE)


# The names of the steps beside the revocation, as they are kept in the state (a new run
# finds a step handed to an agent by its name: one spelling for both places).
PURGE_STEP = "purge mailbox and data"


def _wipe_step(serial: str) -> str:
    return f"wipe {serial}"


def _confirm_step(serial: str) -> str:
    return f"confirm wipe {serial}"
