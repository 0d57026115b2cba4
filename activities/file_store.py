"""Ticket files in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Cloudflare R2,
Backblaze B2, SeaweedFS: one code path, through ``obstore``), sealed with the desk's keys
(:mod:`activities.sealed_file`).

A file streams in once: sealed as it comes, hashed, counted against its limit, and written
to a temporary object; only when it is whole is it moved to its content address
(``<client>/<sha256>``; the same file twice is stored once per client). A file cut short or
over its limit leaves nothing behind. Which tickets hold a file is recorded beside it
(``refs/<client>/<sha256>/<ticket>``), so a file is deleted once the last of its client's
tickets lets go of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import obstore
from obstore.store import S3Store

from activities.sealed_file import FileSealer
from domain.attachments import (
    SNIFF_BYTES,
    object_key,
    reference_key,
    reference_prefix,
    sniff,
    staging_key,
)
from domain.settings import Settings

READ_CHUNK_BYTES = 256 * 1024
# Parts of one upload in flight to the store at once (each up to obstore's 5 MiB chunk):
# what an upload may hold in memory is this many chunks, whatever the file's size.
PUT_CONCURRENCY = 2


class FileTooLarge(Exception):
    """The stream went past its limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over {limit:,} bytes")
        self.limit = limit


class FileStoreUnavailable(Exception):
    """Object storage did not answer or refused: try again later."""


class FileNotStored(Exception):
    """No such file for this client."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class StagedFile:
    staging_key: str
    file: StoredFile


class FileStore:
    def __init__(self, store: S3Store, sealer: FileSealer) -> None:
        self.store = store
        self.sealer = sealer

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore | None:
        """The store the settings name, or None when files are not configured."""
        if not settings.s3_bucket:
            return None
        keys = settings.codec_key_bytes
        if not keys or settings.codec_key_id is None:
            raise ValueError("files are sealed with the payload keys: set "
                             "TEMPODESK_CODEC_KEYS and TEMPODESK_CODEC_KEY_ID")
        secret = settings.s3_secret_access_key
        config = {"region": settings.s3_region}
        if settings.s3_endpoint:
            config["endpoint"] = settings.s3_endpoint
        if settings.s3_access_key_id and secret is not None:
            config["access_key_id"] = settings.s3_access_key_id
            config["secret_access_key"] = secret.get_secret_value()
        # A store that is down must fail an upload within seconds (503, Retry-After), not
        # after obstore's default three minutes of retries.
        options: dict = {"connect_timeout": timedelta(seconds=5),
                         "timeout": timedelta(seconds=60)}
        if (settings.s3_endpoint or "").startswith("http://"):
            options["allow_http"] = True
        store = S3Store(settings.s3_bucket, client_options=options,
                        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
                        **config)
        return cls(store, FileSealer(keys, settings.codec_key_id))

    async def put(self, client_id: str, chunks: AsyncIterator[bytes],
                  max_bytes: int) -> StoredFile:
        """Store a file for ``client_id`` as it streams; :class:`FileTooLarge` past
        ``max_bytes`` (nothing kept), :class:`FileStoreUnavailable` if the store fails."""
        staged = await self.stage(client_id, chunks, max_bytes)
        await self.settle(client_id, staged.staging_key, staged.file.sha256)
        return staged.file

    async def stage(self, client_id: str, chunks: AsyncIterator[bytes],
                    max_bytes: int) -> StagedFile:
        """Store a streamed file under a staging key of its own (an upload waiting for
        its ticket): :meth:`settle` moves it to its content address."""
        digest = hashlib.sha256()
        head = bytearray()
        size = 0
        failed: BaseException | None = None  # the caller's stream, not the store

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size, failed
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    digest.update(chunk)
                    if len(head) < SNIFF_BYTES:
                        head.extend(chunk[:SNIFF_BYTES - len(head)])
                    yield chunk
            except BaseException as exc:
                failed = exc
                raise

        staging = staging_key(client_id, uuid.uuid4().hex)
        try:
            await obstore.put_async(self.store, staging, self.sealer.seal(counted()),
                                    max_concurrency=PUT_CONCURRENCY)
        except Exception as exc:
            with contextlib.suppress(Exception):  # the store may be down: nothing to undo
                await self._forget(staging)
            if failed is not None:
                raise failed from None
            raise FileStoreUnavailable(str(exc)[:300]) from exc
        return StagedFile(staging_key=staging, file=StoredFile(
            sha256=digest.hexdigest(), size=size, content_type=sniff(bytes(head))))

    async def settle(self, client_id: str, staging: str, sha256: str) -> None:
        """Move a staged file to its content address (the same file twice is kept once);
        :class:`FileNotStored` if neither is there (a staged upload expired or used)."""
        if not staging.startswith(staging_key(client_id, "")):
            raise FileNotStored(staging)  # one client's upload never lands in another's
        try:
            # Two identical uploads at once both copy: the same file, sealed twice.
            if not await self.exists(client_id, sha256):
                await obstore.copy_async(self.store, staging, object_key(client_id, sha256))
        except FileNotFoundError as exc:
            raise FileNotStored(sha256) from exc
        except FileStoreUnavailable:
            raise
        except Exception as exc:
            raise FileStoreUnavailable(str(exc)[:300]) from exc
        await self._forget(staging)

    async def put_bytes(self, client_id: str, data: bytes, max_bytes: int) -> StoredFile:
        async def one() -> AsyncIterator[bytes]:
            for start in range(0, len(data), READ_CHUNK_BYTES):
                yield data[start:start + READ_CHUNK_BYTES]
            if not data:
                yield b""

        return await self.put(client_id, one(), max_bytes)

    async def read(self, client_id: str, sha256: str) -> AsyncIterator[bytes]:
        """The file's bytes as they stream; :class:`FileNotStored` if there is none."""
        try:
            got = await obstore.get_async(self.store, object_key(client_id, sha256))
        except FileNotFoundError as exc:
            raise FileNotStored(sha256) from exc
        except Exception as exc:
            raise FileStoreUnavailable(str(exc)[:300]) from exc

        async def sealed() -> AsyncIterator[bytes]:
            async for chunk in got.stream(min_chunk_size=READ_CHUNK_BYTES):
                yield bytes(chunk)

        return self.sealer.open(sealed())

    async def has_upload(self, client_id: str, staging: str, sha256: str) -> bool:
        """Whether a staged upload (or the file it became) is still in the store."""
        if not staging.startswith(staging_key(client_id, "")):
            return False
        try:
            await obstore.head_async(self.store, staging)
        except FileNotFoundError:
            return await self.exists(client_id, sha256)
        except Exception as exc:
            raise FileStoreUnavailable(str(exc)[:300]) from exc
        return True

    async def exists(self, client_id: str, sha256: str) -> bool:
        try:
            await obstore.head_async(self.store, object_key(client_id, sha256))
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise FileStoreUnavailable(str(exc)[:300]) from exc
        return True

    async def hold(self, client_id: str, sha256: str, ticket_id: str) -> None:
        """Record that ``ticket_id`` holds the file (before the ticket lists it)."""
        try:
            await obstore.put_async(self.store, reference_key(client_id, sha256, ticket_id),
                                    b"")
        except Exception as exc:
            raise FileStoreUnavailable(str(exc)[:300]) from exc

    async def release(self, client_id: str, sha256: str, ticket_id: str) -> bool:
        """``ticket_id`` lets go of the file; the file itself is deleted once no ticket
        of the client holds it. True if it was deleted. Safe to run twice."""
        await self._forget(reference_key(client_id, sha256, ticket_id))
        async for held in obstore.list(self.store, prefix=reference_prefix(client_id, sha256),
                                       chunk_size=1):
            if held:
                return False
        await self._forget(object_key(client_id, sha256))
        return True

    async def _forget(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)
