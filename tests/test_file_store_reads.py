"""A process remembers which object a content address names, so a download skips a trip
to the address (activities/file_store.py); against the real S3 server, with a second
FileStore playing the worker that deletes files: what it deleted is gone for the first
(FileNotStored, never a stale read), the same file stored anew reads again, and an entry
ends after its time even when other hands took the address but not the object; and a
release that failed midway is finished by its retry (tests/test_file_release_race.py:
a release and an upload of the same file at once)."""

from __future__ import annotations

import os
import uuid

import obstore
import pytest

from activities.file_store import FileNotStored, FileStore
from domain.attachments import object_key, reference_key
from tests.conftest import file_settings


async def read_all(store: FileStore, client_id: str, sha256: str) -> bytes:
    return b"".join([bytes(p) async for p in await store.read(client_id, sha256)])


def pair(local_s3) -> tuple[FileStore, FileStore, str]:
    """The API's store, the worker's, and a client of their own."""
    api, worker = (FileStore.from_settings(file_settings(local_s3)) for _ in range(2))
    return api, worker, f"c{uuid.uuid4().hex[:10]}"


async def test_a_remembered_object_is_asked_again_once_it_is_gone(local_s3):
    api, worker, client_id = pair(local_s3)
    data = os.urandom(200_000)
    file = await api.put_bytes(client_id, data, 1024 * 1024)
    await api.hold(client_id, file.sha256, "BEL-000001", file.spare)
    address = object_key(client_id, file.sha256)
    assert api.objects.get(address) is not None  # known from the put: no trip to it
    assert await read_all(api, client_id, file.sha256) == data

    # The worker lets the last ticket go of it: the object deleted, the address left.
    assert await worker.release(client_id, file.sha256, "BEL-000001")
    with pytest.raises(FileNotStored):
        await read_all(api, client_id, file.sha256)
    assert api.objects.get(address) is None

    # Stored anew by the worker's side for another ticket (a new object, given the
    # address once the ticket holds it) and read: remembered again. Then deleted and
    # stored anew once more while the API still remembers the old object: it finds that
    # gone, asks the address, and reads the new one.
    for ticket in ("BEL-000002", "BEL-000003"):
        again = await worker.put_bytes(client_id, data, 1024 * 1024)
        await worker.hold(client_id, file.sha256, ticket, again.spare)
        assert await read_all(api, client_id, file.sha256) == data
        assert await worker.release(client_id, file.sha256, ticket)


async def test_an_entry_ends_after_its_time(local_s3):
    """The address deleted by other hands (an operator, a bucket rule), the object left: a
    process that remembered the object serves it only until its entry ends, then answers
    gone."""
    api, _, client_id = pair(local_s3)
    file = await api.put_bytes(client_id, os.urandom(1000), 1024 * 1024)
    await api.hold(client_id, file.sha256, "BEL-000001", file.spare)
    await obstore.delete_async(api.store, object_key(client_id, file.sha256))
    # Within its time the entry is what the read follows: the object, without the address.
    assert len(await read_all(api, client_id, file.sha256)) == 1000
    api.objects.seconds = 0.0
    with pytest.raises(FileNotStored):
        await read_all(api, client_id, file.sha256)


class FailingOnce(FileStore):
    """A store whose first deletion of one kind of key fails (the store hiccups): of the
    sealed ``object`` or of the ticket's ``mark``."""

    fails_on = "object"
    failed = False

    async def _forget(self, key: str) -> None:
        kind = "object" if "/data/" in key else "address" if "refs/" not in key else "mark"
        if kind == self.fails_on and not self.failed:
            self.failed = True
            raise OSError("the store did not answer")
        await super()._forget(key)


def failing_once(local_s3, on: str) -> tuple[FailingOnce, str]:
    made, _, client_id = pair(local_s3)
    store = FailingOnce(made.store, made.sealer, made.http)
    store.fails_on = on
    return store, client_id


async def left_in_bucket(store: FileStore, client_id: str) -> dict[str, bytes]:
    """Every object of the client's, marks and staged uploads included, and what it holds."""
    left = {}
    for prefix in (f"{client_id}/", f"refs/{client_id}/", f"staging/{client_id}/"):
        for meta in await obstore.list(store.store, prefix=prefix).collect_async():
            got = await obstore.get_async(store.store, meta["path"])
            left[meta["path"]] = bytes(await got.bytes_async())
    return left


@pytest.mark.parametrize("on", ["object", "mark"])
async def test_a_release_that_failed_midway_is_finished_by_its_retry(local_s3, on):
    """The worker's release is retried after a failure on either deletion: of the file
    only its address is left, naming an object that is gone (an object nothing names any
    more would never be deleted), and no release marker."""
    store, client_id = failing_once(local_s3, on)
    file = await store.put_bytes(client_id, os.urandom(1000), 1024 * 1024)
    await store.hold(client_id, file.sha256, "BEL-000001", file.spare)
    with pytest.raises(OSError):
        await store.release(client_id, file.sha256, "BEL-000001")
    assert await store.release(client_id, file.sha256, "BEL-000001")  # the retry
    address = object_key(client_id, file.sha256)
    [(path, named)] = (await left_in_bucket(store, client_id)).items()
    assert path == address and named.decode().startswith(f"{client_id}/data/")
    assert not await store.exists(client_id, file.sha256)


@pytest.mark.parametrize("staged", [False, True], ids=["put", "staged"])
async def test_the_same_file_after_a_failed_release_is_kept(local_s3, staged):
    """A release that marked the object and failed on deleting it, not retried yet: the
    same file sent again (for another ticket, directly or staged at intake) is kept and
    reads back, instead of being taken for a copy of a file that is going; the release's
    retry then leaves it alone."""
    store, client_id = failing_once(local_s3, "object")
    data = os.urandom(5000)
    file = await store.put_bytes(client_id, data, 1024 * 1024)
    await store.hold(client_id, file.sha256, "BEL-000001", file.spare)
    with pytest.raises(OSError):
        await store.release(client_id, file.sha256, "BEL-000001")
    # Still read (its object is there until the release's retry deletes it), but never
    # taken for a file to keep a copy of: it is marked.
    assert await store.exists(client_id, file.sha256)
    if staged:
        async def one():
            yield data

        upload = await store.stage(client_id, one(), 1024 * 1024)
        spare = store.staged_copy(client_id, upload.staging_key)
    else:
        spare = (await store.put_bytes(client_id, data, 1024 * 1024)).spare
    await store.hold(client_id, file.sha256, "BEL-000002", spare)  # takes the address
    assert await read_all(store, client_id, file.sha256) == data
    assert not await store.release(client_id, file.sha256, "BEL-000001")  # the retry
    assert await read_all(store, client_id, file.sha256) == data


async def test_a_mark_written_before_marks_were_per_attempt_is_let_go(local_s3):
    """Buckets hold marks of the older shape, ``refs/<client>/<sha>/<ticket>``: they
    still hold the file, and the ticket's release takes them back with its own."""
    store, _, client_id = pair(local_s3)
    file = await store.put_bytes(client_id, os.urandom(1000), 1024 * 1024)
    await obstore.put_async(store.store, reference_key(client_id, file.sha256, "BEL-000001"),
                            b"")
    await store.hold(client_id, file.sha256, "BEL-000002", file.spare)
    assert not await store.release(client_id, file.sha256, "BEL-000002")  # the old one holds
    assert await store.release(client_id, file.sha256, "BEL-000001")
    assert not await store.exists(client_id, file.sha256)
