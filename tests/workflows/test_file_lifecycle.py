"""A file lives as long as a ticket holds it (issue 21), under time skipping, against a
real S3 server: a ticket lets go of its files at the end of its life, an exit when its
archive is purged (a legal hold keeps them), and a file held by two tickets goes with the
last of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.worker import Worker

from activities.file_store import FileStore
from activities.files import FileActivities
from domain.attachments import Attachment, AttachmentIn, Channel
from domain.offboarding import LegalHold
from domain.sla import Priority
from domain.tickets import Status, Transition
from tests.conftest import file_settings
from tests.workflows.support import (
    events,
    incident_worker,
    make_start,
    next_local,
    start_incident,
)
from tests.workflows.test_incident_timers import skip_to
from tests.workflows.test_offboarding_timers import (
    STAND_INS,
    exit_form,
    opened_now,
    start_exit,
)
from workflows.incident import IncidentWorkflow
from workflows.offboarding import OffboardingWorkflow


async def stored(store: FileStore, client_id: str, ticket_id: str, data: bytes) -> AttachmentIn:
    """A file put in the store and marked as held by ``ticket_id``, as the API does."""
    file = await store.put_bytes(client_id, data, 1024 * 1024)
    await store.hold(client_id, file.sha256, ticket_id, file.spare)
    return AttachmentIn(files=[Attachment(
        sha256=file.sha256, name="shot.png", content_type=file.content_type, size=file.size,
        by="requester:test", at=datetime.now(UTC), channel=Channel.API)])


async def closed_and_finished(handle) -> None:
    for to in (Status.RESOLVED, Status.CLOSED):
        await handle.execute_update(IncidentWorkflow.transition, Transition(to=to, by="agent"))
    await handle.result()  # time skips past the reopen window and the survey


async def test_a_file_goes_with_the_last_ticket_that_holds_it(ts_env, config, task_queue,
                                                               local_s3):
    settings = file_settings(local_s3)
    store = FileStore.from_settings(settings)
    opened = next_local(await ts_env.get_current_time(), weekday=1, hour=9)
    await skip_to(ts_env, opened)
    async with incident_worker(ts_env.client, config, task_queue, settings):
        first = await start_incident(ts_env.client, make_start(opened, Priority.P4), task_queue)
        second = await start_incident(ts_env.client, make_start(opened, Priority.P4),
                                      task_queue)
        data = b"\x89PNG\r\n\x1a\n lifecycle " + opened.isoformat().encode()
        for handle in (first, second):
            await handle.execute_update(IncidentWorkflow.attach,
                                        await stored(store, "belton", handle.id.split(":")[1],
                                                     data))
        sha = (await first.query(IncidentWorkflow.view)).attachments[0].sha256

        await closed_and_finished(first)
        view = await first.query(IncidentWorkflow.view)
        assert view.files_released_at is not None
        assert "0 deleted" in events(view, "files_released")[0].detail
        assert await store.exists("belton", sha)  # the second ticket still holds it

        await closed_and_finished(second)
        view = await second.query(IncidentWorkflow.view)
        assert "1 deleted" in events(view, "files_released")[0].detail
        assert not await store.exists("belton", sha)


async def test_an_exit_keeps_its_files_on_legal_hold_and_purges_them_after(ts_env, task_queue,
                                                                          local_s3):
    settings = file_settings(local_s3)
    store = FileStore.from_settings(settings)
    effective = await opened_now(ts_env)
    files = FileActivities(store)
    async with Worker(ts_env.client, task_queue=task_queue, workflows=[OffboardingWorkflow],
                      activities=[*STAND_INS, *files.all()]):
        handle = await start_exit(ts_env, task_queue, exit_form(hardware=[]), effective)
        ticket = handle.id.split(":")[1]
        attach = await stored(store, "belton", ticket, b"%PDF-1.7 resignation letter")
        await handle.execute_update(OffboardingWorkflow.attach, attach)
        sha = attach.files[0].sha256
        await ts_env.sleep(timedelta(days=1))
        await handle.execute_update(OffboardingWorkflow.set_legal_hold, LegalHold(
            hold=True, reason="litigation notice from counsel", by="director:ana"))
        await ts_env.sleep(timedelta(days=40))
        assert await store.exists("belton", sha)  # on hold past the 30 days: kept
        await handle.execute_update(OffboardingWorkflow.set_legal_hold, LegalHold(
            hold=False, reason="matter settled", by="director:ana"))
        await ts_env.sleep(timedelta(hours=1))
        view = await handle.query(OffboardingWorkflow.view)
        assert view.purged_at is not None and view.files_released_at is not None
        assert not await store.exists("belton", sha)
        await handle.result()  # purged, the (closed) exit's life ended by itself
