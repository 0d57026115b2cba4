"""A ticket letting go of a file while an upload of the same file for another ticket of
the client is under way, against the real S3 server, at each point where they can cross
(activities/file_store.py): the upload's file is never lost. Before, an upload that found
the file already stored deleted its own copy at once, and a release that had looked for
holders just before deleted the one both tickets then named."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable

import pytest

from activities.file_store import FileStore
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
    """The upload finds the file stored and keeps its copy; the release then finds no
    holder and deletes the stored one; the upload's hold gives the address its copy."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    assert copy.spare is not None  # the client has the file: this copy waits
    assert await worker.release(client_id, sha256, "BEL-000001")
    await api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert await read_anew(local_s3, client_id, sha256) == data
    assert len([k for k in await left_in_bucket(api, client_id) if "/data/" in k]) == 1


async def test_a_hold_while_a_release_looks(local_s3):
    """The release found no holder; before it marks the address, the upload holds the
    file and deletes its copy (the address still named the file): the release's second
    look finds the new holder and gives the address back."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    worker.meanwhile = lambda: api.hold(client_id, sha256, "BEL-000002", copy.spare)
    assert not await worker.release(client_id, sha256, "BEL-000001")
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_an_upload_after_the_address_is_marked_released(local_s3):
    """The release marked the address released; the upload keeps its copy (it takes the
    address only once its ticket holds the file) and the release, finding no holder yet,
    deletes the old object."""
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
    """A release whose first deletion of a sealed object, or first giving back of an
    address, fails (the store hiccups, or the worker dies there): Temporal retries it."""

    fails = "object"

    async def _forget(self, key: str) -> None:
        if self.fails == "object" and "/data/" in key:
            self.fails = ""
            raise OSError("the store did not answer")
        await super()._forget(key)

    async def _give_back(self, client_id: str, address: str) -> None:
        if self.fails == "give back":
            self.fails = ""
            raise OSError("the store did not answer")
        await super()._give_back(client_id, address)


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


async def test_a_release_that_failed_before_giving_the_address_back(local_s3):
    """The upload held the file and deleted its copy before the release marked the
    address; the release then failed before giving it back. Its retry finds the holder
    first and gives the address back, so the file reads again."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)
    copy = await api.put_bytes(client_id, data, LIMIT)
    release = failing_once(worker, "give back")
    release.meanwhile = lambda: api.hold(client_id, sha256, "BEL-000002", copy.spare)
    with pytest.raises(OSError):
        await release.release(client_id, sha256, "BEL-000001")
    assert not await release.release(client_id, sha256, "BEL-000001")  # the retry
    assert await read_anew(local_s3, client_id, sha256) == data


async def test_a_staged_upload_settled_across_a_release(local_s3):
    """The same for a file uploaded before its ticket: settled while the file was stored
    (the staged upload waits), the release runs, then the ticket holds it."""
    worker, api, client_id, data, sha256 = await held_by_one(local_s3)

    async def one():
        yield data

    staged = await api.stage(client_id, one(), LIMIT)
    spare = await api.settle(client_id, staged.staging_key, sha256)
    assert spare == staged.staging_key
    assert await worker.release(client_id, sha256, "BEL-000001")
    await api.hold(client_id, sha256, "BEL-000002", spare)
    assert await read_anew(local_s3, client_id, sha256) == data
    assert not [k for k in await left_in_bucket(api, client_id) if "staging/" in k]
