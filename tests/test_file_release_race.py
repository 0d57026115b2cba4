"""A ticket letting go of a file while an upload of the same file for another ticket of
the client is under way, against the real S3 server, at each point where they can cross
(activities/file_store.py): the upload's file is never lost. Before, an upload that found
the file already stored deleted its own copy at once, and a release that had looked for
holders just before deleted the one both tickets then named."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable

import pytest

from activities.file_store import FileStore, FileStoreUnavailable
from tests.conftest import file_settings
from tests.test_file_store_reads import left_in_bucket, read_all

LIMIT = 1024 * 1024


class Crossed(FileStore):
    """A store that runs ``meanwhile`` (another process's step) when a release has looked
    for holders ``at`` times (1: after its first look, 2: after its second)."""

    at = 1
    meanwhile: Callable[[], Awaitable[object]] | None = None
    looks = 0

    async def _held(self, client_id: str, sha256: str) -> bool:
        held = await super()._held(client_id, sha256)
        self.looks += 1
        if self.looks == self.at and self.meanwhile is not None:
            await self.meanwhile()
        return held


async def read_anew(local_s3, client_id: str, sha256: str) -> bytes:
    """The file as a process that remembers no address reads it (another API replica)."""
    reader = FileStore.from_settings(file_settings(local_s3))
    try:
        return await read_all(reader, client_id, sha256)
    finally:
        await reader.close()


async def held_by_one(local_s3) -> tuple[Crossed, FileStore, str, bytes, str]:
    """The worker's store (releasing), the API's (uploading), a client whose ticket
    BEL-000001 holds a file, the file and its SHA-256."""
    made = FileStore.from_settings(file_settings(local_s3))
    worker = Crossed(made.store, made.sealer, made.http)
    api = FileStore.from_settings(file_settings(local_s3))
    client_id = f"c{uuid.uuid4().hex[:10]}"
    data = os.urandom(300_000)
    file = await api.put_bytes(client_id, data, LIMIT)
    await api.hold(client_id, file.sha256, "BEL-000001", file.spare)
    return worker, api, client_id, data, file.sha256


async def test_a_release_between_an_upload_and_its_hold(local_s3):
    """The upload keeps its copy until its ticket holds the file; the release meanwhile
    finds no holder and deletes the stored one; the upload's hold gives the address its
    copy."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    assert copy.spare is not None  # every upload's copy waits for its ticket's hold
    assert await worker.release(client_id, sha256, "BEL-000001")
    await api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data
    assert len([k for k in await left_in_bucket(api, client_id) if "/data/" in k]) == 1


async def test_an_upload_after_the_object_is_marked(local_s3):
    """The release marked the object; the upload keeps its copy (it takes the address only
    once its ticket holds the file) and the release, finding no holder yet, deletes the
    old object."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    uploaded = []

    async def upload() -> None:
        uploaded.append(await api.put_bytes(client_id, data, LIMIT))

    worker.at, worker.meanwhile = 2, upload
    assert await worker.release(client_id, sha256, "BEL-000001")
    [copy] = uploaded
    assert copy.spare is not None  # the address is not taken before the ticket's mark
    await api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data


class FailsOnce(Crossed):
    """A release whose first deletion of a sealed object fails (the store hiccups, or the
    worker dies there): Temporal retries it."""

    fails = "object"

    async def _forget(self, key: str) -> None:
        if self.fails == "object" and "/data/" in key:
            self.fails = ""
            raise OSError("the store did not answer")
        await super()._forget(key)


def failing_once(worker: Crossed, fails: str) -> FailsOnce:
    failing = FailsOnce(worker.store, worker.sealer, worker.http)
    failing.fails = fails
    return failing


async def test_an_upload_between_a_failed_release_and_its_retry(local_s3):
    """The release marked the address and failed before deleting the object; an upload
    of the same file comes before the retry, which deletes the old object: the upload's
    copy is kept (it was never given the address before its ticket held the file)."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    release = failing_once(worker, "object")
    with pytest.raises(OSError):
        await release.release(client_id, sha256, "BEL-000001")
    copy = await api.put_bytes(client_id, data, LIMIT)  # mail: its ticket is opened next
    assert await release.release(client_id, sha256, "BEL-000001")  # Temporal's retry
    await api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_a_hold_while_a_release_looks(local_s3):
    """The release found no holder; before it marks the object, the upload holds the file
    and deletes its copy (the address names the file, unmarked): the release's second look
    finds the new holder and leaves the object, and so does its retry. Nothing writes the
    address (a stale write-back by one of two releases at once named a deleted object)."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    worker.meanwhile = lambda: api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert not await worker.release(client_id, sha256, "BEL-000001")
    assert not await worker.release(client_id, sha256, "BEL-000001")  # a retry
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_two_uploads_of_a_file_to_one_ticket_one_failing(local_s3):
    """A double-click: both uploads hold the file for the same ticket; the first is
    listed, the second fails and takes back its own mark only: the file stays."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    second = await api.put_bytes(client_id, data, LIMIT)
    mark = await api.hold(client_id, sha256, "BEL-000001", second.spare)
    assert not await api.take_back(client_id, sha256, mark)  # the first mark still holds
    assert await read_anew(local_s3, client_id, sha256) == data
    assert await worker.release(client_id, sha256, "BEL-000001")  # its end: every mark


class AnswerLost(FileStore):
    """A store that writes an address but whose answer is lost (a timeout after the
    write landed), while ``meanwhile`` runs (another process's step)."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def _put(self, key: str, data: bytes) -> None:
        await super()._put(key, data)
        if "/data/" not in key and not key.startswith("refs/"):
            if self.meanwhile is not None:
                await self.meanwhile()
            raise FileStoreUnavailable("the store did not answer in time")


async def test_a_copy_given_the_address_is_not_deleted_when_the_answer_is_lost(local_s3):
    """An upload gives an address whose object is gone its copy but hears no answer; meanwhile a
    third ticket's upload finds the address naming that copy and deletes its own. The
    first upload fails without deleting the copy the address names."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    assert await worker.release(client_id, sha256, "BEL-000001")  # the object deleted
    lost = AnswerLost(api.store, api.sealer, api.http)
    copy = await lost.put_bytes(client_id, data, LIMIT)

    async def third_upload() -> None:  # finds the address naming the copy: its own goes
        third = await api.put_bytes(client_id, data, LIMIT)
        await api.hold(client_id, sha256, "BEL-000003", third.spare)

    lost.meanwhile = third_upload
    with pytest.raises(FileStoreUnavailable):
        await lost.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_a_staged_upload_settled_across_a_release(local_s3):
    """The same for a file uploaded before its ticket: settled while the file was stored
    (the staged upload waits), the release runs, then the ticket holds it."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)

    async def one():
        yield data

    staged = await api.stage(client_id, one(), LIMIT)
    spare = api.staged_copy(client_id, staged.staging_key)
    assert spare == staged.staging_key
    assert await worker.release(client_id, sha256, "BEL-000001")
    await api.hold(client_id, sha256, "BEL-000002", spare)
    assert await read_anew(local_s3, client_id, sha256) == data
    assert not [k for k in await left_in_bucket(api, client_id) if "staging/" in k]


class PausedOnce(FileStore):
    """A store whose first read of an address (``after = "read"``: a slow release, or an
    attempt past its timeout beside its own retry) or first look for an object (``after
    = "look"``: an upload deciding whether to keep its copy) is followed by
    ``meanwhile`` (another process's steps) before it goes on."""

    after = "read"
    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def _then(self, what: str) -> None:
        if what == self.after and self.meanwhile is not None:
            step, self.meanwhile = self.meanwhile, None
            await step()

    async def _pointer(self, address: str) -> str:
        pointer = await super()._pointer(address)
        await self._then("read")
        return pointer

    async def _present(self, key: str) -> bool:
        found = await super()._present(key)
        await self._then("look")
        return found


async def test_a_late_release_cannot_hide_a_copy_given_the_address(local_s3):
    """Two runs of one release: the first reads the address, then the second marks the
    object and deletes it, and a third ticket's upload gives the address its copy; the
    first run goes on (its marker names the deleted object, not the address) and finds
    the new holder. The file reads. (Before, the first run wrote 'released' over the
    address, which then named the deleted object.)"""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    slow = PausedOnce(worker.store, worker.sealer, worker.http)

    async def the_other_run_then_an_upload() -> None:
        assert await worker.release(client_id, sha256, "BEL-000001")
        copy = await api.put_bytes(client_id, data, LIMIT)
        await api.hold(client_id, sha256, "BEL-000003", copy.spare)

    slow.meanwhile = the_other_run_then_an_upload
    assert not await slow.release(client_id, sha256, "BEL-000001")
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_a_first_upload_is_addressed_only_once_its_ticket_holds_it(local_s3):
    """A mail brings a file the client never had; while its ticket is opened, an upload
    of the same file to another ticket is refused and takes back its mark. The mail's
    copy was not the address yet, so nothing of it is deleted: its ticket holds it and
    reads it. (Before, the mail's put wrote the address, and the refused upload's
    release deleted that object.)"""
    _, api, client_id, _, _ = await held_by_one(local_s3)
    data = os.urandom(100_000)
    mail_copy = await api.put_bytes(client_id, data, LIMIT)  # the mail's ticket opens next
    sha256 = mail_copy.sha256
    other = await api.put_bytes(client_id, data, LIMIT)
    mark = await api.hold(client_id, sha256, "BEL-000007", other.spare)
    assert await api.take_back(client_id, sha256, mark)  # that ticket refused it
    await api.hold(client_id, sha256, "BEL-000008", mail_copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_an_upload_deciding_while_a_release_deletes(local_s3):
    """A release has marked the object and found no holder; an upload's mark comes, and
    while the upload looks (the marker first, then the object), the release deletes the
    object and its marker. The upload saw the marker and gives the address its copy.
    (Looking at the object first, it saw the object, then no marker, and deleted its
    copy of a file that was gone.)"""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    decided, may_go = asyncio.Event(), asyncio.Event()

    async def paused_before_deleting() -> None:
        decided.set()
        await may_go.wait()

    worker.at, worker.meanwhile = 2, paused_before_deleting
    release = asyncio.create_task(worker.release(client_id, sha256, "BEL-000001"))
    await decided.wait()
    upload = PausedOnce(api.store, api.sealer, api.http)
    upload.after = "look"

    async def release_finishes() -> None:
        may_go.set()
        assert await release

    upload.meanwhile = release_finishes
    await upload.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_a_replayed_intake_finds_its_staged_upload_again(local_s3):
    """An intake's staged upload is held while a release looks (the release then marks
    the object, sees the new holder and stops: its marker stays); the intake's answer was
    lost and it is replayed. Its staged upload was left for the bucket rule, so the
    replay takes it again (before, it was deleted, and every replay answered 'Upload
    lost')."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)

    async def one():
        yield data

    staged = await api.stage(client_id, one(), LIMIT)
    worker.meanwhile = lambda: api.hold(client_id, sha256, "BEL-000002",
                                        api.staged_copy(client_id, staged.staging_key))
    assert not await worker.release(client_id, sha256, "BEL-000001")
    assert await api.has_upload(client_id, staged.staging_key, sha256)
    await api.hold(client_id, sha256, "BEL-000002", api.staged_copy(client_id, staged.staging_key))
    assert await read_anew(local_s3, client_id, sha256) == data
