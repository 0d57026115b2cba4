"""Record a workflow history for the replay tests (house rule 8).

    .venv/bin/python -m tests.histories.record NAME
        (offboarding_* a user exit, offboarding_outage_* one cut off mid-outage,
         onboarding_* / onboarding_cancel_* a new user,
         onboarding_undo_* a new user's cancellation cut off mid-undo,
         quote_* a quote, service_request_* a service request, alert_episode_* an alert,
         post_mortem_* a post-mortem, directory_user_* a SCIM user (scim_user_tickets_* one
         opening its own tickets), numbering_v1 both
         ticket_sequence_v1 and idempotency_shard_v1)

Runs one scripted incident lifecycle on a time-skipping server (timers, activities,
updates and signals all appear) and writes tests/histories/NAME.json. Commit the file
before changing the incident workflow's command sequence; test_replay.py then proves the
change is replay-safe (or behind workflow.patched()).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.attachments import Attachment, AttachmentIn, Channel, FilesHeld, FilesReleased
from domain.onboarding import JoinerCall
from domain.provider_steps import ProviderResult
from domain.sla import Priority
from domain.tenants import load_config
from domain.tickets import CommentIn, Status, Transition
from temporal_client import data_converter
from tests.conftest import BIN, DEMO_CONFIG, make_settings, register_search_attributes
from tests.workflows.support import incident_worker, make_start, next_local, start_incident
from worker import activities
from workflows.incident import IncidentWorkflow

HERE = Path(__file__).parent


@contextlib.asynccontextmanager
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server with the search attributes registered."""
    # No codec even if keys are in the environment: committed histories must replay
    # anywhere, without a key (their data is synthetic).
    plain = data_converter(make_settings(codec_keys={}, codec_key_id=None))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=plain)
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


def save(name: str, history) -> Path:
    path = HERE / f"{name}.json"
    path.write_text(history.to_json())
    return path


async def record(name: str) -> Path:
    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        opened = next_local(await env.get_current_time(), weekday=0, hour=9)
        await env.sleep(opened - await env.get_current_time())
        async with incident_worker(env.client, config, "record"):
            handle = await start_incident(env.client, make_start(opened, Priority.P1), "record")
            await env.sleep(timedelta(minutes=16))  # response warnings, breach, first rung
            await handle.execute_update(IncidentWorkflow.acknowledge,
                                        Transition(to=Status.ACKNOWLEDGED, by="agent"))
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.PENDING, by="agent"))
            await handle.signal(IncidentWorkflow.comment,
                                CommentIn(body="screenshot attached", by="jo",
                                          from_requester=True))
            await env.sleep(timedelta(minutes=5))
            # The reply ends pending (docs/lifecycle.md); before that rule an agent did.
            if (await handle.query(IncidentWorkflow.view)).status is Status.PENDING:
                await handle.execute_update(IncidentWorkflow.transition,
                                            Transition(to=Status.IN_PROGRESS, by="agent"))
            await env.sleep(timedelta(minutes=50))  # the second rung (breach + 1 h)
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.RESOLVED, by="agent",
                                                   preventable=False))
            await handle.execute_update(IncidentWorkflow.transition,
                                        Transition(to=Status.CLOSED, by="agent"))
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


async def record_offboarding(name: str) -> Path:
    """A user exit: a 20-minute identity outage, a returned phone, a wiped laptop, the
    30-day purge (stand-in providers, as in tests/workflows/test_offboarding_timers.py)."""
    from temporalio.worker import Worker

    from domain.offboarding import HardwareReturn
    from tests.workflows import test_offboarding_timers as exits
    from workflows.offboarding import OffboardingWorkflow

    async with time_skipping() as env:
        effective = await exits.opened_now(env)
        exits.identity_down_until = effective + timedelta(minutes=20)
        form = exits.exit_form(hardware=[{"serial": "PF3X9K", "managed_device_id": "dev-1"},
                                         {"serial": "PHONE-7", "kind": "phone"}])
        async with Worker(env.client, task_queue="record", workflows=[OffboardingWorkflow],
                          activities=exits.STAND_INS):
            handle = await exits.start_exit(env, "record", form, effective)
            await env.sleep(timedelta(hours=2))
            await handle.execute_update(OffboardingWorkflow.hardware_returned,
                                        HardwareReturn(serial="PHONE-7", by="agent"))
            await env.sleep(timedelta(days=31))
            with contextlib.suppress(RPCError):  # done and purged, it may have ended itself
                await handle.terminate("recorded")
            history = await handle.fetch_history()
        return save(name, history)


async def record_offboarding_outage(name: str) -> Path:
    """offboarding_outage_*: a user exit cut off while the identity provider is down (the
    exit terminated 10 minutes into a 2-hour outage, its account steps still retrying)."""
    from temporalio.worker import Worker

    from tests.workflows import test_offboarding_timers as exits
    from workflows.offboarding import OffboardingWorkflow

    async with time_skipping() as env:
        effective = await exits.opened_now(env)
        exits.identity_down_until = effective + timedelta(hours=2)
        async with Worker(env.client, task_queue="record", workflows=[OffboardingWorkflow],
                          activities=exits.STAND_INS):
            handle = await exits.start_exit(env, "record", exits.exit_form(), effective)
            await env.sleep(timedelta(minutes=10))
            await handle.terminate("recorded mid-outage")
            history = await handle.fetch_history()
        return save(name, history)


async def record_onboarding(name: str) -> Path:
    """A new user (stand-in providers, as in tests/workflows/test_onboarding_timers.py):
    onboarding_* - an exhausted licence pool, an agent's retry, ready, one MFA reminder,
    enrolled, resolved; onboarding_cancel_* - HR cancels while the laptop is not enrolled."""
    from temporalio.worker import Worker

    from domain.onboarding import Cancellation, RetrySteps
    from tests.workflows import test_onboarding_timers as joiners
    from workflows.onboarding import OnboardingWorkflow

    cancel = name.startswith("onboarding_cancel")
    async with time_skipping() as env:
        opened, starts = await joiners.monday_morning(env)
        joiners.reset(pool_empty=not cancel,
                      device_enrolled_at=None if cancel else opened + timedelta(hours=1),
                      mfa_enrolled_at=starts + timedelta(days=3, hours=3))
        async with Worker(env.client, task_queue="record", workflows=[OnboardingWorkflow],
                          activities=joiners.STAND_INS):
            handle = await joiners.start_joiner(env, "record", opened, starts)
            await env.sleep(timedelta(hours=3))
            if cancel:
                await handle.execute_update(OnboardingWorkflow.cancel,
                                            Cancellation(reason="offer withdrawn", by="hr"))
            else:
                joiners.behaviour["pool_empty"] = False
                await handle.execute_update(OnboardingWorkflow.retry_steps,
                                            RetrySteps(note="bought seats", by="agent"))
            await env.sleep(starts + timedelta(days=5) - await env.get_current_time())
            await handle.terminate("recorded")
            history = await handle.fetch_history()
        return save(name, history)


@activity.defn(name="delete_account")
async def delete_account_down(call: JoinerCall) -> ProviderResult:
    """The identity provider is down for the undo of the account."""
    raise ApplicationError("Graph: provider error (503): Service Unavailable",
                           type="ProviderUnavailable")


async def record_mid_saga(name: str) -> Path:
    """onboarding_undo_*: a run cut off in the middle of its saga. The laptop is never
    enrolled, HR cancels after 3 hours, the undo starts newest first and the identity
    provider is down for delete_account: the history ends (terminated) while that undo is
    still being retried. Replaying it checks that a run recorded mid-saga keeps its path."""
    from temporalio.client import WorkflowUpdateStage
    from temporalio.worker import Worker

    from domain.onboarding import Cancellation
    from tests.workflows import test_onboarding_timers as joiners
    from workflows.onboarding import OnboardingWorkflow

    stand_ins = [a for a in joiners.STAND_INS
                 if activity._Definition.must_from_callable(a).name != "delete_account"]
    async with time_skipping() as env:
        opened, starts = await joiners.monday_morning(env)
        joiners.reset()  # the laptop never enrols: its build is retrying when HR cancels
        async with Worker(env.client, task_queue="record", workflows=[OnboardingWorkflow],
                          activities=[*stand_ins, delete_account_down]):
            handle = await joiners.start_joiner(env, "record", opened, starts)
            await env.sleep(timedelta(hours=3))
            await handle.start_update(  # accepted before time moves on
                OnboardingWorkflow.cancel, Cancellation(reason="offer withdrawn", by="hr"),
                wait_for_stage=WorkflowUpdateStage.ACCEPTED)
            await env.sleep(timedelta(minutes=30))
            await handle.terminate("recorded mid-saga")
            history = await handle.fetch_history()
        return save(name, history)


async def record_quote(name: str) -> Path:
    """quote_*: a quote issued, reminded on day 7, approved, ordered; service_request_*:
    a basic request paused a day, then resolved after its warnings."""
    from temporalio.worker import Worker

    from domain.quotes import Channel, Decision
    from domain.tickets import Status, Transition
    from tests.workflows import test_quote_timers as quotes
    from tests.workflows import test_service_request_timers as requests
    from workflows.quote import QuoteWorkflow
    from workflows.service_request import ServiceRequestWorkflow

    async with time_skipping() as env:
        if name.startswith("quote"):
            opened = await env.get_current_time()
            async with Worker(env.client, task_queue="record", workflows=[QuoteWorkflow],
                              activities=quotes.STAND_INS):
                handle = await quotes.issue(env, "record", opened)
                await env.sleep(timedelta(days=8))
                await handle.execute_update(QuoteWorkflow.decide, Decision(
                    approve=True, by="director:mia", director_email=quotes.DIRECTOR,
                    channel=Channel.API, ip="127.0.0.1"))
                await env.sleep(timedelta(hours=1))
                await handle.terminate("recorded")
                history = await handle.fetch_history()
        else:
            opened = await requests.monday_10(env)
            async with Worker(env.client, task_queue="record",
                              workflows=[ServiceRequestWorkflow], activities=requests.NOTICES):
                handle = await requests.start_request(env, "record", opened, requests.form())
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.PENDING, by="agent", reason="which drive?"))
                await env.sleep(timedelta(days=1))
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.IN_PROGRESS, by="agent"))
                await env.sleep(timedelta(days=4))
                await handle.execute_update(ServiceRequestWorkflow.transition, Transition(
                    to=Status.RESOLVED, by="agent", reason="granted"))
                await env.sleep(timedelta(hours=1))
                await handle.terminate("recorded")
                history = await handle.fetch_history()
        return save(name, history)


async def record_alert_episode(name: str) -> Path:
    """An alert: fired (an incident), repeated, resolved, fired again within the flap window
    (reopened), resolved again; then the window runs out and the episode ends."""
    from tests.workflows import test_alert_episode as alerts
    from workflows.alert_episode import AlertEpisodeWorkflow

    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        async with alerts.episode_worker(env.client, config, "record"):
            now = await env.get_current_time()
            handle = await env.client.start_workflow(
                AlertEpisodeWorkflow.run, alerts.episode_start("record"),
                id="alert:belton:record", task_queue="record",
                execution_timeout=timedelta(days=30))
            fire, resolve = AlertEpisodeWorkflow.fire, AlertEpisodeWorkflow.resolve
            await handle.execute_update(fire, alerts.firing(now, now))         # opened
            await env.sleep(timedelta(minutes=5))
            await handle.execute_update(fire, alerts.firing(now, now))         # repeat
            await handle.execute_update(resolve, alerts.ending(now))           # resolved
            await env.sleep(timedelta(minutes=2))
            again = await env.get_current_time()
            await handle.execute_update(fire, alerts.firing(again, again))     # reopened
            await env.sleep(timedelta(minutes=3))
            await handle.execute_update(resolve, alerts.ending(again))         # resolved
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


async def record_post_mortem(name: str) -> Path:
    """A post-mortem as a preventable P1's close opens it (workflows/incident.py: due
    5 business days later): nobody writes it, three daily overdue reminders, completed."""
    from domain.post_mortems import PostMortemCompletion, PostMortemStart
    from workflows.post_mortem import PostMortemWorkflow

    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        closed = next_local(await env.get_current_time(), weekday=0, hour=11)
        await env.sleep(closed - await env.get_current_time())
        due = next_local(closed, weekday=0, hour=11)  # 5 business days (no holiday)
        start = PostMortemStart(incident="BEL-000007", client_id="belton",
                                subject="Email down for all staff",
                                technical_contact="it@harbourside.example", due_at=due)
        async with incident_worker(env.client, config, "record"):
            handle = await env.client.start_workflow(
                PostMortemWorkflow.run, start, id="postmortem:BEL-000007", task_queue="record",
                static_summary=f"Post-mortem of BEL-000007, due {due:%Y-%m-%d}")
            await env.sleep(due + timedelta(days=2, hours=1) - await env.get_current_time())
            view = await handle.execute_update(PostMortemWorkflow.complete, PostMortemCompletion(
                root_cause="expired certificate", actions="monitor expiry", by="it"))
            assert view.reminders == 3, view
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


async def record_numbering(name: str) -> list[Path]:
    """Two API replicas (desk/ticket_numbers.py, blocks of 4) number tickets from one
    client's sequence, each leasing several blocks; idempotent requests claim keys in one
    shard: a repeat gets its number back, a key 25 hours old is forgotten, and after a
    day without a claim the shard completes. Writes ticket_sequence_* and
    idempotency_shard_* with NAME's suffix."""
    from temporalio.worker import Worker

    from desk.ticket_numbers import TicketNumbers
    from domain.ids import idempotency_workflow_id, sequence_task_queue, sequence_workflow_id
    from workflows.idempotency_shard import IdempotencyShardWorkflow
    from workflows.ticket_sequence import TicketSequenceWorkflow

    suffix = name.removeprefix("numbering")
    first, second = "abc" + "1" * 29, "abc" + "2" * 29  # one shard
    async with time_skipping() as env:
        replicas = [TicketNumbers(env.client, "record", block=4) for _ in range(2)]
        async with Worker(env.client, task_queue=sequence_task_queue("record"),
                          workflows=[TicketSequenceWorkflow, IdempotencyShardWorkflow]):
            for _ in range(5):
                for replica in replicas:
                    await replica.next("REC")
            number, _ = await replicas[0].for_key("REC", first, "1" * 16)
            again, repeat = await replicas[1].for_key("REC", first, "1" * 16)
            assert again == number and repeat.replayed, (number, again)
            await env.sleep(timedelta(hours=23))
            await replicas[1].for_key("REC", second, "2" * 16)
            await env.sleep(timedelta(hours=2))  # the first key is 25 hours old now
            fresh, forgotten = await replicas[0].for_key("REC", first, "1" * 16)
            assert fresh != number and not forgotten.replayed, (number, fresh)
            await env.sleep(timedelta(hours=25))  # a day without a claim: it completes
            shard = env.client.get_workflow_handle(idempotency_workflow_id("REC", first))
            await shard.result()
            sequence = env.client.get_workflow_handle(sequence_workflow_id("REC"))
            await sequence.terminate("recorded")
            return [save(f"ticket_sequence{suffix}", await sequence.fetch_history()),
                    save(f"idempotency_shard{suffix}", await shard.fetch_history())]


async def record_directory_user(name: str) -> Path:
    """A SCIM user as the routes drive it (api/routes/scim.py): created with a start date
    and linked to its onboarding, PATCHed (a new title, then a rename), deactivated (the
    user exit claimed once, a second claim refused, the exit linked), then deleted."""
    from datetime import UTC, datetime

    from temporalio.worker import Worker

    from desk.directory import Directory
    from domain.directory_user import (
        Deletion,
        DirectoryUser,
        ExitClaim,
        Replacement,
        TicketLink,
    )
    from domain.ids import TicketKind, directory_user_key
    from workflows.directory_user import DirectoryUserWorkflow as Wf

    async with time_skipping() as env:
        now = datetime.fromtimestamp((await env.get_current_time()).timestamp(), UTC)
        name_ = "jo.tran@harbourside.example"
        resource = {"userName": name_, "active": True, "title": "Analyst",
                    "name": {"givenName": "Jo", "familyName": "Tran"}}
        user = DirectoryUser(client_id="belton", user_id=directory_user_key("belton", name_),
                             resource=resource, created_at=now, modified_at=now)
        directory = Directory(env.client, "record")

        async def unlisted(*_) -> None:  # the time-skipping server has no visibility store
            return None

        directory._listed = unlisted
        async with Worker(env.client, task_queue="record", workflows=[Wf]):
            await directory.create(user, name_)

            async def update(message, arg):
                return await directory.update("belton", user.user_id, message, arg)

            await update(Wf.link_ticket, TicketLink(kind=TicketKind.ONBOARDING,
                                                    ticket_id="BEL-000101"))
            await env.sleep(timedelta(days=30))
            resource = {**resource, "title": "Senior analyst"}
            await update(Wf.replace, Replacement(resource=resource, expected_version=1))
            resource = {**resource, "userName": "jo.nguyen@harbourside.example"}
            await update(Wf.replace, Replacement(resource=resource, expected_version=2))
            await env.sleep(timedelta(days=200))
            resource = {**resource, "active": False}
            await update(Wf.replace, Replacement(resource=resource, expected_version=3))
            claim = await update(Wf.claim_exit, ExitClaim(by="integration:okta"))
            second = await update(Wf.claim_exit, ExitClaim(by="integration:okta"))
            assert claim.granted and not second.granted
            await update(Wf.link_ticket, TicketLink(kind=TicketKind.OFFBOARDING,
                                                    ticket_id="BEL-000188"))
            await update(Wf.delete, Deletion(expected_version=4))
            handle = directory.handle("belton", user.user_id)
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


async def record_scim_user_tickets(name: str) -> Path:
    """scim_user_tickets_*: a SCIM user whose workflow opens its own tickets (patch
    tickets-opened-in-workflow): created with its onboarding, which the run opens and
    links (the API's same order answered, a second one refused), deactivated with its user
    exit opened whole by one update (``leave``; a second ``open_exit`` refused), then
    deleted. scim_user_withdrawn_*: the same hire deactivated before the start instead
    (``withdraw_hire``: stored, the onboarding cancelled by an activity, noted). The
    children and the activity are stand-ins."""
    from datetime import UTC, datetime

    from desk.directory import Directory
    from domain.directory_user import (
        Deletion,
        DirectoryUser,
        ExitOrder,
        Leaving,
        OnboardingOrder,
        Replacement,
        Withdrawing,
    )
    from domain.ids import directory_user_key
    from domain.offboarding import OffboardingStart
    from domain.onboarding import OnboardingStart, induction_slot
    from domain.sla.deadlines import snapshot_for
    from tests.histories.stand_ins import (
        OffboardingStandIn,
        OnboardingStandIn,
        withdraw_hire_stand_in,
    )
    from tests.workflows.support import belton_without_holidays
    from tests.workflows.test_offboarding_timers import exit_form
    from tests.workflows.test_onboarding_timers import joiner_form
    from workflows.directory_user import DirectoryUserWorkflow as Wf

    async with time_skipping() as env:
        now = datetime.fromtimestamp((await env.get_current_time()).timestamp(), UTC)
        name_ = "sam.lee@harbourside.example"
        resource = {"userName": name_, "active": True, "title": "Paralegal"}
        user = DirectoryUser(client_id="belton", user_id=directory_user_key("belton", name_),
                             resource=resource, created_at=now, modified_at=now)
        directory = Directory(env.client, "record")

        async def unlisted(*_) -> None:  # the time-skipping server has no visibility store
            return None

        directory._listed = unlisted
        sla = snapshot_for(belton_without_holidays(), now)
        starts = now + timedelta(days=14)
        joiner = OnboardingStart(
            ticket_id="BEL-000301", client_id="belton", opened_at=now, raised_by="integration:okta",
            form=joiner_form(), starts_at=starts, licences=["SPE_E3"], groups=["g-staff"],
            usage_location="AU", notice="3bd", induction_at=induction_slot(sla.timeline(), starts),
            sla=sla)
        async with Worker(env.client, task_queue="record",
                          workflows=[Wf, OnboardingStandIn, OffboardingStandIn],
                          activities=[withdraw_hire_stand_in]):
            order = OnboardingOrder(start=joiner, summary="BEL-000301 new user")
            await directory.create(user, name_, onboarding=order)  # the run opens it

            async def update(message, arg):
                return await directory.update("belton", user.user_id, message, arg)

            onboarded = await update(Wf.open_onboarding, order)  # answered once linked
            again = await update(Wf.open_onboarding, OnboardingOrder(
                start=joiner.model_copy(update={"ticket_id": "BEL-000302"}),
                summary="BEL-000302 new user"))
            assert onboarded.opened and not again.opened
            if name.startswith("scim_user_withdrawn"):  # deactivated before the start
                withdrawn = await update(Wf.withdraw_hire, Withdrawing(replacement=Replacement(
                    resource={**resource, "active": False}, expected_version=1),
                    by="integration:okta"))
                assert withdrawn.withdrawn and withdrawn.user.version == 3
                await update(Wf.delete, Deletion(expected_version=3))
                handle = directory.handle("belton", user.user_id)
                await handle.result()
                return save(name, await handle.fetch_history())
            await env.sleep(timedelta(days=200))
            left = datetime.fromtimestamp((await env.get_current_time()).timestamp(), UTC)
            resource = {**resource, "active": False}

            def leaver(ticket: str) -> ExitOrder:
                return ExitOrder(start=OffboardingStart(
                    ticket_id=ticket, client_id="belton", opened_at=left,
                    raised_by="integration:okta", form=exit_form(), effective_at=left,
                    sla=snapshot_for(belton_without_holidays(), left)),
                    summary=f"{ticket} user exit")

            exited = await update(Wf.leave, Leaving(replacement=Replacement(
                resource=resource, expected_version=1), exit=leaver("BEL-000388")))
            twice = await update(Wf.open_exit, leaver("BEL-000389"))
            assert exited.opened and not twice.opened
            await update(Wf.delete, Deletion(expected_version=2))
            handle = directory.handle("belton", user.user_id)
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


@activity.defn(name="release_files")
async def release_files_stand_in(held: FilesHeld) -> FilesReleased:
    return FilesReleased(deleted=len(held.sha256s), kept=0)


async def record_incident_files(name: str) -> Path:
    """incident_files_*: an incident with a file on it lets go of the file at the end of
    its life (workflows/ticket.py, patch files-released-at-end-of-life)."""
    async with time_skipping() as env:
        config = load_config(DEMO_CONFIG)
        opened = next_local(await env.get_current_time(), weekday=0, hour=9)
        await env.sleep(opened - await env.get_current_time())
        settings = make_settings()
        async with httpx.AsyncClient() as http, Worker(
                env.client, task_queue="record", workflows=[IncidentWorkflow],
                activities=[*(a for a in activities(settings, config, http)
                              if getattr(a, "__name__", "") != "release_files"),
                            release_files_stand_in]):
            handle = await start_incident(env.client, make_start(opened, Priority.P3), "record")
            await handle.execute_update(IncidentWorkflow.attach, AttachmentIn(files=[Attachment(
                sha256="ab" * 32, name="shot.png", content_type="image/png", size=1234,
                by="requester:belton-requester", at=opened, channel=Channel.API)]))
            for to in (Status.RESOLVED, Status.CLOSED):
                await handle.execute_update(IncidentWorkflow.transition,
                                            Transition(to=to, by="agent"))
            await handle.result()
            history = await handle.fetch_history()
        return save(name, history)


RECORDERS = {"offboarding_outage": record_offboarding_outage,
             "scim_user_tickets": record_scim_user_tickets,
             "scim_user_withdrawn": record_scim_user_tickets,
             "incident_files": record_incident_files,
             "offboarding": record_offboarding, "onboarding_undo": record_mid_saga,
             "onboarding": record_onboarding,
             "quote": record_quote, "service_request": record_quote,
             "alert_episode": record_alert_episode, "post_mortem": record_post_mortem,
             "numbering": record_numbering, "directory_user": record_directory_user}


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "incident_v1"
    recorder = next((r for prefix, r in RECORDERS.items() if name.startswith(prefix)), record)
    written = asyncio.run(recorder(name))
    for path in written if isinstance(written, list) else [written]:
        print(path)
