"""User exits under time skipping, with stand-in providers (the workflow's timing is under
test here; the HTTP adapters are tested against local Graph/SentinelOne servers):
access revoked within the hour through a 20-minute identity-provider outage; a 70-minute
outage breaches at 60 minutes and climbs the ladder; unreturned hardware is wiped after its
window; the archive is purged at 30 days unless on legal hold."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from domain.offboarding import (
    ExitForm,
    HardwareReturn,
    LegalHold,
    OffboardingStart,
    ProviderCall,
)
from domain.provider_steps import ProviderResult
from domain.sla.deadlines import snapshot_for
from tests.workflows.support import (
    belton_without_holidays,
    delivered_quietly,
    events,
    next_local,
    notice_stand_ins,
    start_ticket,
)
from workflows.offboarding import OffboardingWorkflow

calls: list[tuple[str, datetime]] = []
identity_down_until: datetime | None = None


def _outage(name: str) -> None:
    now = activity.info().current_attempt_scheduled_time
    calls.append((name, now))
    if identity_down_until is not None and now < identity_down_until:
        raise ApplicationError("Graph: provider error (503): Service Unavailable")


@activity.defn(name="disable_account")
async def disable_account(call: ProviderCall) -> ProviderResult:
    _outage("disable_account")
    return ProviderResult(detail="disabled")


@activity.defn(name="revoke_sessions")
async def revoke_sessions(call: ProviderCall) -> ProviderResult:
    _outage("revoke_sessions")
    return ProviderResult(detail="revoked")


@activity.defn(name="remove_licences")
async def remove_licences(call: ProviderCall) -> ProviderResult:
    calls.append(("remove_licences", activity.info().current_attempt_scheduled_time))
    return ProviderResult(detail="2 licence(s) returned to the pool")


@activity.defn(name="remove_all_groups")
async def remove_all_groups(call: ProviderCall) -> ProviderResult:
    calls.append(("remove_all_groups", activity.info().current_attempt_scheduled_time))
    return ProviderResult(detail="removed from 3 group(s)")


@activity.defn(name="disconnect_edr")
async def disconnect_edr(call: ProviderCall) -> ProviderResult:
    calls.append(("disconnect_edr", activity.info().current_attempt_scheduled_time))
    return ProviderResult(detail="1 endpoint(s) disconnected")


@activity.defn(name="wipe_device")
async def wipe_device(call: ProviderCall) -> ProviderResult:
    when = activity.info().current_attempt_scheduled_time
    calls.append((f"wipe_device {call.device.serial}", when))
    return ProviderResult(detail="wipe sent")


@activity.defn(name="confirm_wipe")
async def confirm_wipe(call: ProviderCall) -> ProviderResult:
    calls.append((f"confirm_wipe {call.device.serial}",
                  activity.info().current_attempt_scheduled_time))
    return ProviderResult(detail="wipe confirmed")


@activity.defn(name="purge_mailbox")
async def purge_mailbox(call: ProviderCall) -> ProviderResult:
    calls.append(("purge_mailbox", activity.info().current_attempt_scheduled_time))
    return ProviderResult(detail="purged")


STAND_INS = [disable_account, revoke_sessions, remove_all_groups, remove_licences, disconnect_edr,
             wipe_device, confirm_wipe, purge_mailbox, *notice_stand_ins(delivered_quietly)]


def exit_form(**changes) -> ExitForm:
    form = {"employee": {"name": "Jo Tran", "email": "jo.tran@harbourside.example"},
            "user_principal_name": "jo.tran@harbourside.example",
            "manager": {"name": "Mia Chen", "email": "mia.chen@harbourside.example"},
            "last_working_day": "2026-12-04", "immediate": True,
            "hardware": [{"serial": "PF3X9K", "managed_device_id": "dev-1"}]}
    form.update(changes)
    return ExitForm.model_validate(form)


async def start_exit(env, task_queue: str, form: ExitForm, effective: datetime,
                     client_id: str = "belton"):
    start = OffboardingStart(
        ticket_id=f"TST-{uuid.uuid4().int % 10**6:06d}", client_id=client_id,
        opened_at=effective, raised_by="hr:test", form=form, effective_at=effective,
        sla=snapshot_for(belton_without_holidays(), effective))
    return await start_ticket(env.client, OffboardingWorkflow, start, task_queue, days=100)


async def opened_now(env) -> datetime:
    effective = next_local(await env.get_current_time(), weekday=4, hour=17, minute=30)
    await env.sleep(effective - await env.get_current_time())
    return effective


async def test_a_20_minute_identity_outage_still_revokes_within_the_hour(ts_env, task_queue):
    global identity_down_until
    calls.clear()
    effective = await opened_now(ts_env)
    identity_down_until = effective + timedelta(minutes=20)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_exit(ts_env, task_queue, exit_form(), effective)
        await ts_env.sleep(timedelta(hours=2))
        view = await handle.query(OffboardingWorkflow.view)
    assert view.access_revoked_at is not None
    assert timedelta(minutes=20) <= view.access_revoked_at - effective < timedelta(minutes=22)
    assert view.revoke_seconds < 3600 and not view.breached
    attempts = [t for name, t in calls if name == "disable_account"]
    assert len(attempts) > 5  # retried throughout the outage
    assert not events(view, "sla_breached") and not events(view, "escalated")
    # Licences and EDR did not wait for the identity provider.
    assert all(t - effective < timedelta(seconds=5)
               for name, t in calls if name in ("remove_all_groups", "remove_licences",
                                                 "disconnect_edr"))
    await handle.terminate("test done")


async def test_a_70_minute_outage_breaches_at_60_minutes_and_escalates(ts_env, task_queue):
    global identity_down_until
    calls.clear()
    effective = await opened_now(ts_env)
    identity_down_until = effective + timedelta(minutes=70)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_exit(ts_env, task_queue, exit_form(), effective)
        await ts_env.sleep(timedelta(hours=2))
        view = await handle.query(OffboardingWorkflow.view)
    warnings = events(view, "sla_warning:access_revoked")
    assert [w.due - effective for w in warnings] == [timedelta(minutes=30),
                                                     timedelta(minutes=45)]
    [breach] = events(view, "sla_breached:access_revoked")
    assert breach.due == effective + timedelta(hours=1)
    assert breach.at - breach.due < timedelta(seconds=1)
    rungs = events(view, "escalated")
    assert rungs and rungs[0].due == breach.due  # first rung at once
    assert rungs[1].due == breach.due + timedelta(hours=1)  # the ladder kept climbing
    assert timedelta(minutes=70) <= view.access_revoked_at - effective < timedelta(minutes=72)
    await handle.terminate("test done")


async def test_unreturned_laptop_is_wiped_and_data_purged_at_30_days(ts_env, task_queue):
    global identity_down_until
    identity_down_until = None
    calls.clear()
    effective = await opened_now(ts_env)
    form = exit_form(hardware=[{"serial": "PF3X9K", "managed_device_id": "dev-1"},
                               {"serial": "PHONE-7", "kind": "phone",
                                "managed_device_id": "dev-2"}], return_window_days=14)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_exit(ts_env, task_queue, form, effective)
        await ts_env.sleep(timedelta(days=3))
        await handle.signal("comment", {"body": "phone handed back", "by": "agent:sam"})
        returned = await handle.execute_update(
            OffboardingWorkflow.hardware_returned,
            HardwareReturn(serial="PHONE-7", condition="screen cracked", by="agent:sam"))
        assert returned.devices[1].returned_at is not None
        await ts_env.sleep(timedelta(days=31))
        view = await handle.query(OffboardingWorkflow.view)
    wipes = [(name, t - effective) for name, t in calls if name.startswith("wipe_device")]
    assert wipes and wipes[0][0] == "wipe_device PF3X9K"
    assert timedelta(days=14) <= wipes[0][1] < timedelta(days=14, seconds=5)
    assert [(c.serial, c.event) for c in view.custody] == [
        ("PHONE-7", "returned"), ("PF3X9K", "wipe_requested"), ("PF3X9K", "wiped"),
        ("PF3X9K", "wipe_confirmed")]
    purges = [t - effective for name, t in calls if name == "purge_mailbox"]
    assert len(purges) == 1 and timedelta(days=30) <= purges[0] < timedelta(days=30, seconds=5)
    assert view.purged_at is not None and view.status.value in ("resolved", "closed")
    # Done (resolved, closed) before the purge, the exit's life ends with it.
    assert (await handle.result()).purged_at == view.purged_at


async def test_legal_hold_prevents_the_purge(ts_env, task_queue):
    global identity_down_until
    identity_down_until = None
    calls.clear()
    effective = await opened_now(ts_env)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=STAND_INS):
        handle = await start_exit(ts_env, task_queue, exit_form(hardware=[]), effective)
        await ts_env.sleep(timedelta(days=1))
        await handle.execute_update(OffboardingWorkflow.set_legal_hold, LegalHold(
            hold=True, reason="litigation notice from counsel", by="director:ana"))
        await ts_env.sleep(timedelta(days=40))
        view = await handle.query(OffboardingWorkflow.view)
        # Done before the hold, the exit closed; the hold keeps it (and its data) alive.
        assert view.legal_hold and view.purged_at is None and view.status.value == "closed"
        assert not [name for name, _ in calls if name == "purge_mailbox"]
        assert events(view, "legal_hold")[0].detail == "litigation notice from counsel"
        # Released on day 41: the archive is past its 30 days, so it is purged at once.
        await handle.execute_update(OffboardingWorkflow.set_legal_hold, LegalHold(
            hold=False, reason="matter settled", by="director:ana"))
        await ts_env.sleep(timedelta(hours=1))
        view = await handle.query(OffboardingWorkflow.view)
    assert view.purged_at is not None and view.status.value == "closed"
    assert len([name for name, _ in calls if name == "purge_mailbox"]) == 1
    assert (await handle.result()).purged_at == view.purged_at  # its life ended
