"""Ticket files in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, Cloudflare R2,
Backblaze B2, SeaweedFS: one code path, through ``obstore``), sealed with the desk's keys
(:mod:`activities.sealed_file`).

A file streams in once: sealed as it comes, hashed and counted against its limit, into an
object of its own (``<client>/data/<random>``). Which tickets hold a file is recorded
beside it (``refs/<client>/<sha256>/<ticket>/<attempt>``), so it is deleted once the last
of its client's tickets lets go of it. Once a ticket holds it, its content address
(``<client>/<sha256>``, a few bytes naming that object) is written if the client has no
such file yet; if it has, the new copy is deleted: the same file twice is kept once per
client. One client's address never names another client's object. Uploads waiting for
their ticket are staged under ``staging/<client>/`` (a bucket lifecycle rule clears the
ones never claimed), and copied out of it, inside the store, once their ticket holds them.

A release and an upload of the same file for another ticket may run at once. An upload
that finds an address keeps its own copy (its ``spare``) until its ticket's mark is
written; only then does it delete the copy, if the address names a whole file that no
release has marked, or give the address its copy (:meth:`FileStore.hold`). A release
writes a marker for the object the address names (``refs/<client>/released/<name>``)
before it looks for marks a second time, and deletes the object only if there are none;
it never writes or deletes the address. Whichever comes first, the other sees it: an
upload that looked before the marker had its mark written before, and stops the release;
one that looks after gives the address its own copy - after its mark, so no release
deletes it. A marker names an object, not the address, so a late one cannot hide a copy
an upload gave the address meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import obstore
from obstore.store import S3Store

from activities.sealed_file import FileSealer
from domain.attachments import (
    SNIFF_BYTES,
    data_key,
    mark_key,
    object_key,
    reference_key,
    reference_prefix,
    release_marker_key,
    sniff,
    staging_key,
    ticket_marks_prefix,
)
from domain.recent import Recent
from domain.settings import Settings

READ_CHUNK_BYTES = 1024 * 1024
# Parts of one upload in flight to the store at once (each a part_bytes() chunk): what an
# upload may hold in memory is this many chunks, whatever the file's size.
PUT_CONCURRENCY = 2
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's smallest part, the last one apart


def part_bytes(expected: int | None) -> int:
    """The multipart part size for an object of about ``expected`` bytes (None: not
    known). A part leaves for the store once it is full, so the part holding the file's
    last bytes leaves only when they have arrived, and the upload then waits for the
    store to take all of it. With parts that leave a last part of about half a part, the
    part before it is on its way while the last bytes arrive: a 25 MiB upload's wait
    after its last byte fell from ~60 to ~45 ms here. Never more than 8.4 MiB."""
    whole = 0 if expected is None else int(expected / MIN_PART_BYTES - 0.5)
    if whole < 1:
        return MIN_PART_BYTES
    return max(MIN_PART_BYTES, math.ceil(expected / (whole + 0.5)))


@dataclass(frozen=True)
class SizeHint:
    """What a sender said of a file's size: its ``length``, ``exact`` for a raw body's (the
    file goes up in one streamed PUT), else about (a form's, less its framing: it cuts the
    parts); ``None`` when it did not say."""

    length: int | None = None
    exact: bool = False


UNKNOWN_SIZE = SizeHint()


class FileTooLarge(Exception):
    """The stream went past its limit; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over {limit:,} bytes")
        self.limit = limit


class FileStoreUnavailable(Exception):
    """Object storage did not answer or refused: try again later."""


def _why(exc: BaseException) -> str:
    """What went wrong, for FileStoreUnavailable (some errors say nothing: their type)."""
    return (str(exc) or repr(exc))[:300]


class FileNotStored(Exception):
    """No such file for this client."""


@dataclass(frozen=True)
class StoredFile:
    """``spare``: this upload's own copy (its object, or its staged upload), which
    :meth:`FileStore.hold` gives the file's address or deletes once a ticket holds it."""

    sha256: str
    size: int
    content_type: str
    spare: str | None = None


@dataclass(frozen=True)
class StagedFile:
    staging_key: str
    file: StoredFile


REMEMBERED_OBJECTS = 10_000
REMEMBERED_SECONDS = 300.0
# How long a URL signed for one streamed PUT may be used: it is used at once, but the
# store checks it against its own clock, which may be behind ours.
SIGNED_PUT_VALID = timedelta(minutes=5)


class FileStore:
    def __init__(self, store: S3Store, sealer: FileSealer,
                 http: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.sealer = sealer
        self.http = http  # streamed PUTs (None: every file goes up in parts)
        # Content address -> the object it names, as this process last wrote or read it:
        # a download skips a trip to the address. A file deleted since is not found, and
        # the address is asked again; an entry ends after a few minutes anyway, in case
        # other hands took the address and left the object (an operator, a bucket rule).
        # An address only ever names one of its own client's objects.
        self.objects: Recent[str, str] = Recent(REMEMBERED_OBJECTS, REMEMBERED_SECONDS)

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
        # No SHA-256 of each request's body for its signature (UNSIGNED-PAYLOAD, as the
        # AWS SDKs send over HTTPS): the seal already authenticates every segment, and
        # that hash of every byte cost the API and the store CPU on each upload.
        store = S3Store(settings.s3_bucket, client_options=options, unsigned_payload=True,
                        retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
                        **config)
        # The system's trust store (a store behind a private CA), and no cap on
        # connections: each upload streams on its own (httpx's default pool of 100 would
        # make the 101st wait, and fail).
        http = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=5),
                                 limits=httpx.Limits(max_connections=None),
                                 verify=ssl.create_default_context())
        return cls(store, FileSealer(keys, settings.codec_key_id), http)

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()

    async def put(self, client_id: str, chunks: AsyncIterator[bytes], max_bytes: int,
                  hint: SizeHint = UNKNOWN_SIZE) -> StoredFile:
        """Store a file for ``client_id`` as it streams (``hint``: what the sender said of
        its size); :class:`FileTooLarge` past ``max_bytes`` (nothing kept),
        :class:`FileStoreUnavailable` if the store fails."""
        data = data_key(client_id, uuid.uuid4().hex)
        file = await self._write(data, chunks, max_bytes, hint)
        return replace(file, spare=data)  # addressed once a ticket holds it: hold()

    async def stage(self, client_id: str, chunks: AsyncIterator[bytes], max_bytes: int,
                    hint: SizeHint = UNKNOWN_SIZE) -> StagedFile:
        """Store a streamed file that waits for its ticket (an upload at intake): its
        ticket's :meth:`hold` takes it (:meth:`staged_copy`)."""
        staging = staging_key(client_id, uuid.uuid4().hex)
        return StagedFile(staging_key=staging,
                          file=await self._write(staging, chunks, max_bytes, hint))

    async def _write(self, key: str, chunks: AsyncIterator[bytes], max_bytes: int,
                     hint: SizeHint) -> StoredFile:
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
                    if len(head) < SNIFF_BYTES:
                        head.extend(chunk[:SNIFF_BYTES - len(head)])
                    yield chunk
            except BaseException as exc:
                failed = exc
                raise

        sealed = self.sealer.seal(counted(), READ_CHUNK_BYTES, digest)
        expected = None if hint.length is None else self.sealer.sealed_size(hint.length)
        try:
            if hint.exact and expected is not None and self.http is not None:
                await self._stream(key, sealed, expected)
            else:
                await obstore.put_async(self.store, key, sealed,
                                        max_concurrency=PUT_CONCURRENCY,
                                        chunk_size=part_bytes(expected))
        except Exception as exc:
            with contextlib.suppress(Exception):  # the store may be down: nothing to undo
                await self._forget(key)
            if failed is not None:
                raise failed from None
            raise FileStoreUnavailable(_why(exc)) from exc
        return StoredFile(sha256=digest.hexdigest(), size=size, content_type=sniff(bytes(head)))

    async def _stream(self, key: str, sealed: AsyncIterator[bytes | memoryview],
                      length: int) -> None:
        """One PUT of ``length`` bytes sent as they are sealed, to a URL the store's own
        client signs: the store takes the file while it arrives, where a part of a
        multipart upload leaves only once it is full and the upload then waits for the
        store to take the last of them (a 25 MiB upload's wait after its last byte, ~45
        ms in parts, is ~30 here), and no part is held in memory."""
        assert self.http is not None
        url = await obstore.sign_async(self.store, "PUT", key, SIGNED_PUT_VALID)
        answer = await self.http.put(url, content=sealed,
                                     headers={"Content-Length": str(length)})
        if answer.status_code >= 300:
            raise FileStoreUnavailable(f"the store answered {answer.status_code}: "
                                       f"{answer.text[:200]}")

    def staged_copy(self, client_id: str, staging: str) -> str:
        """A staged upload of ``client_id``'s as the spare copy :meth:`hold` takes (moved
        to the file's address, or deleted if the client has the file);
        :class:`FileNotStored` for another client's."""
        if not staging.startswith(staging_key(client_id, "")):
            raise FileNotStored(staging)  # one client's upload never lands in another's
        return staging

    async def _copy_staged(self, client_id: str, staging: str, sha256: str) -> str:
        data = data_key(client_id, uuid.uuid4().hex)
        try:
            await obstore.copy_async(self.store, staging, data)
        except FileNotFoundError as exc:
            raise FileNotStored(sha256) from exc
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc
        return data

    async def put_bytes(self, client_id: str, data: bytes, max_bytes: int) -> StoredFile:
        async def one() -> AsyncIterator[bytes]:
            for start in range(0, len(data), READ_CHUNK_BYTES):
                yield data[start:start + READ_CHUNK_BYTES]
            if not data:
                yield b""

        return await self.put(client_id, one(), max_bytes, SizeHint(len(data), exact=True))

    async def read(self, client_id: str, sha256: str,
                   piece_bytes: int = READ_CHUNK_BYTES) -> AsyncIterator[memoryview]:
        """The file's bytes as they stream, in pieces of about ``piece_bytes``;
        :class:`FileNotStored` if there is none."""
        address = object_key(client_id, sha256)
        try:
            got = None
            known = self.objects.get(address)
            if known is not None:  # read here before: no trip to the address
                try:
                    got = await obstore.get_async(self.store, known)
                except FileNotFoundError:  # deleted, or stored anew since: ask again
                    self.objects.drop(address)
            if got is None:
                data = await self._data_of(client_id, sha256)
                got = await obstore.get_async(self.store, data)
                self.objects.put(address, data)
        except FileNotFoundError as exc:
            raise FileNotStored(sha256) from exc
        except FileNotStored:
            raise
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc
        return self.sealer.open(got.stream(min_chunk_size=READ_CHUNK_BYTES), piece_bytes)

    async def _data_of(self, client_id: str, sha256: str) -> str:
        """The object a content address names (always one of the same client's)."""
        data = await self._pointer(object_key(client_id, sha256))
        if not data.startswith(data_key(client_id, "")):
            raise FileNotStored(sha256)
        return data

    async def has_upload(self, client_id: str, staging: str, sha256: str) -> bool:
        """Whether a staged upload (or the file it became) is still in the store."""
        if not staging.startswith(staging_key(client_id, "")):
            return False
        try:
            await obstore.head_async(self.store, staging)
        except FileNotFoundError:
            return await self.exists(client_id, sha256)
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc
        return True

    async def exists(self, client_id: str, sha256: str) -> bool:
        """Whether the client has the file: the object its address names (read until a
        release deletes it, marked or not)."""
        try:
            await obstore.head_async(self.store, await self._data_of(client_id, sha256))
        except (FileNotFoundError, FileNotStored):
            return False
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc
        return True

    async def hold(self, client_id: str, sha256: str, ticket_id: str,
                   spare: str | None = None) -> str:
        """Record that ``ticket_id`` holds the file (before the ticket lists it), then
        :meth:`keep_one_copy` of the upload's ``spare`` (deleted as well if this fails).
        The mark this attempt wrote, for :meth:`take_back` if the ticket does not list it."""
        mark = mark_key(client_id, sha256, ticket_id, uuid.uuid4().hex)
        try:
            await self._put(mark, b"")
        except BaseException:
            with contextlib.suppress(Exception):  # it may have been written: taken back
                await self.take_back(client_id, sha256, mark)
            if spare is not None:
                await self.discard(client_id, spare)
            raise
        if spare is not None:
            try:
                await self.keep_one_copy(client_id, sha256, spare)
            except BaseException:
                with contextlib.suppress(Exception):  # the ticket will not list it
                    await self.take_back(client_id, sha256, mark)
                raise
        return mark

    async def discard(self, client_id: str, spare: str) -> None:
        """Delete an upload's spare copy that no ticket will hold (its upload failed); a
        staged upload stays for its intake's retry (a bucket rule clears it)."""
        if spare.startswith(data_key(client_id, "")):
            with contextlib.suppress(Exception):  # the store may be down: a leak at worst
                await self._forget(spare)

    async def keep_one_copy(self, client_id: str, sha256: str, spare: str) -> None:
        """Once a ticket's mark holds the file: the spare copy goes if the address names
        the whole file and no release has marked it, or becomes the file if not (a release
        under way may delete a marked object). If this fails before the address is
        written, the copy goes (the upload fails); once it is written, never: the address
        may name it (a leak at worst)."""
        address = object_key(client_id, sha256)
        try:
            if await self._live(client_id, sha256):
                await self.discard(client_id, spare)  # a staged upload stays for a replay
                return
            data = spare
            if not spare.startswith(data_key(client_id, "")):  # staged: its own object
                data = await self._copy_staged(client_id, spare, sha256)
        except BaseException:
            await self.discard(client_id, spare)
            raise
        await self._put(address, data.encode())
        self.objects.put(address, data)
        if data != spare:
            await self._forget(spare)

    async def _live(self, client_id: str, sha256: str) -> bool:
        """Whether the address names the file's object, present, and no release has
        marked that object (it may be deleted any moment)."""
        try:
            pointer = await self._pointer(object_key(client_id, sha256))
            # The marker first: a release deletes the object before its marker, so an
            # object seen after no marker was seen is one no release had decided to delete.
            return (pointer.startswith(data_key(client_id, ""))
                    and not await self._present(release_marker_key(client_id, pointer))
                    and await self._present(pointer))
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc

    async def release(self, client_id: str, sha256: str, ticket_id: str) -> bool:
        """``ticket_id`` lets go of the file (every mark it has); the file itself is
        deleted once no ticket of the client holds it. True if it was deleted. Safe to
        run twice."""
        await self._forget(reference_key(client_id, sha256, ticket_id))
        marks = obstore.list(self.store, prefix=ticket_marks_prefix(client_id, sha256,
                                                                    ticket_id))
        async for chunk in marks:
            for meta in chunk:
                await self._forget(meta["path"])
        return await self._let_go(client_id, sha256)

    async def take_back(self, client_id: str, sha256: str, mark: str) -> bool:
        """One attempt's mark taken back (its ticket did not list the file); the file is
        deleted if nothing else holds it. True if it was deleted."""
        if not mark.startswith(reference_prefix(client_id, sha256)):
            raise ValueError(f"not a mark of this file: {mark!r}")
        await self._forget(mark)
        return await self._let_go(client_id, sha256)

    async def _let_go(self, client_id: str, sha256: str) -> bool:
        """Delete the file if no ticket holds it. The object the address names is marked
        first and the marks are looked at again: a ticket that held the file meanwhile
        keeps it (its upload either saw no marker, and its mark is seen now, or saw one
        and gave the address its own copy). Nothing writes or deletes the address here:
        an upload may be giving it its copy."""
        address = object_key(client_id, sha256)
        if await self._held(client_id, sha256):
            return False
        try:
            data = await self._pointer(address)
        except FileNotFoundError:
            return True  # gone already
        if not data.startswith(data_key(client_id, "")):
            return True  # names nothing of this client's
        marker = release_marker_key(client_id, data)
        self.objects.drop(address)
        await self._put(marker, b"")
        if await self._held(client_id, sha256):  # held since: the file stays (marked)
            return False
        await self._forget(data)
        await self._forget(marker)  # the object is gone: nothing can take it any more
        return True

    async def _held(self, client_id: str, sha256: str) -> bool:
        async for held in obstore.list(self.store, prefix=reference_prefix(client_id, sha256),
                                       chunk_size=1):
            if held:
                return True
        return False

    async def _pointer(self, address: str) -> str:
        pointer = await obstore.get_async(self.store, address)
        return bytes(await pointer.bytes_async()).decode("ascii", "replace")

    async def _present(self, key: str) -> bool:
        try:
            await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return False
        return True

    async def _put(self, key: str, data: bytes) -> None:
        try:
            await obstore.put_async(self.store, key, data)
        except Exception as exc:
            raise FileStoreUnavailable(_why(exc)) from exc

    async def _forget(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)
