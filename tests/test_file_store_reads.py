"""A process remembers which object a content address names, so a download skips a trip
to the address (activities/file_store.py); against the real S3 server, with a second
FileStore playing the worker that deletes files: what it deleted is gone for the first
(FileNotStored, never a stale read), and the same file stored anew reads again."""

from __future__ import annotations

import os
import uuid

import pytest

from activities.file_store import FileNotStored, FileStore
from tests.conftest import file_settings


async def read_all(store: FileStore, client_id: str, sha256: str) -> bytes:
    return b"".join([bytes(p) async for p in await store.read(client_id, sha256)])


async def test_a_remembered_object_is_asked_again_once_it_is_gone(local_s3):
    api, worker = (FileStore.from_settings(file_settings(local_s3)) for _ in range(2))
    client_id = f"c{uuid.uuid4().hex[:10]}"
    data = os.urandom(200_000)
    file = await api.put_bytes(client_id, data, 1024 * 1024)
    await api.hold(client_id, file.sha256, "BEL-000001")
    assert await read_all(api, client_id, file.sha256) == data  # remembered from the put

    # The worker lets the last ticket go of it: deleted, address and object.
    assert await worker.release(client_id, file.sha256, "BEL-000001")
    with pytest.raises(FileNotStored):
        await read_all(api, client_id, file.sha256)

    # Sent again (by the worker's side, so into a new object): the API reads the new one.
    await worker.put_bytes(client_id, data, 1024 * 1024)
    assert await read_all(api, client_id, file.sha256) == data
