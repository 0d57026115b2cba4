"""Files encrypted at rest with the desk's own keys (the payload codec's AES-256-GCM keys
and key ids, so rotation works the same way), in segments, so a file is sealed and opened
as it streams and never held whole in memory.

Layout of a sealed object::

    b"TDF1" | len(key id) (1 byte) | key id | nonce prefix (8 random bytes) | segments

Segment *i* is AES-GCM over at most :data:`SEGMENT_BYTES` of the file, its nonce the
prefix followed by *i* (4 bytes, big-endian), its associated data the header and one byte
saying whether it is the last segment (the STREAM construction, Hoang-Reyhanitabar-
Rogaway-Vizar 2015): segments cannot be reordered, dropped, cut short or moved to another
object or key id without the open failing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TDF1"
SEGMENT_BYTES = 64 * 1024
TAG_BYTES = 16
SEALED_SEGMENT_BYTES = SEGMENT_BYTES + TAG_BYTES
PREFIX_BYTES = 8
_LAST = b"\x01"
_MORE = b"\x00"


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


class _Hashing:
    """A digest fed in a worker thread, one piece at a time and in order: at most one
    piece is being hashed while the caller goes on (so at most one more piece is held)."""

    def __init__(self, digest: Digest | None) -> None:
        self._digest = digest
        self._running: asyncio.Future[None] | None = None

    async def feed(self, data: memoryview) -> None:
        if self._digest is None:
            return
        await self.finish()  # the piece before first: a digest is fed in order
        self._running = asyncio.get_running_loop().run_in_executor(
            _HASHERS, self._digest.update, data)

    async def finish(self) -> None:
        """Wait for the piece being hashed (the thread holds its own reference to the
        piece, so a stream that failed may stop waiting)."""
        running, self._running = self._running, None
        if running is not None:
            await running


# Hashing threads, shared by every upload of the process: a hash of a 1 MiB piece takes
# about a millisecond, so a few threads keep up with many uploads.
_HASHERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="file-hash")


class SealError(ValueError):
    """A sealed object that cannot be opened: damaged, cut short or an unknown key."""


class FileSealer:
    def __init__(self, keys: Mapping[str, bytes], key_id: str) -> None:
        if key_id not in keys:
            raise ValueError(f"key id {key_id!r} is not among the keys: {sorted(keys)}")
        self.key_id = key_id
        self._ciphers = {name: AESGCM(key) for name, key in keys.items()}

    def sealed_size(self, plain_bytes: int) -> int:
        """The size of the object a ``plain_bytes`` file is sealed into: the header, the
        file, and a tag for each segment (an empty file is one empty segment)."""
        segments = max(1, -(-plain_bytes // SEGMENT_BYTES))
        return (len(self._header(self.key_id, bytes(PREFIX_BYTES))) + plain_bytes
                + segments * TAG_BYTES)

    def _header(self, key_id: str, prefix: bytes) -> bytes:
        raw_id = key_id.encode()
        return MAGIC + bytes([len(raw_id)]) + raw_id + prefix

    async def seal(self, chunks: AsyncIterator[bytes],
                   piece_bytes: int = SEGMENT_BYTES,
                   digest: Digest | None = None) -> AsyncIterator[bytes | memoryview]:
        """The sealed object of the file ``chunks`` carry, as it comes, in pieces of about
        ``piece_bytes`` (whole segments sealed straight into their piece: a store's client
        takes a few large pieces far faster than one per 64 KiB segment).

        ``digest`` (e.g. a ``hashlib.sha256()``) is fed the file's bytes, each piece in a
        worker thread while the next piece arrives: hashing is the slowest step of an
        upload (about 1 ms a MiB here, AES-GCM a tenth of that) and hashlib lets go of the GIL,
        so it overlaps the receive instead of standing in line with it."""
        per_piece = max(1, piece_bytes // SEGMENT_BYTES)
        prefix = os.urandom(PREFIX_BYTES)
        header = self._header(self.key_id, prefix)
        cipher = self._ciphers[self.key_id]
        hashing = _Hashing(digest)
        yield header
        parts: list[bytes] = []  # the chunks of the next piece, joined once it is whole
        pending = 0
        index = 0
        try:
            async for chunk in chunks:
                parts.append(chunk)
                pending += len(chunk)
                # Keep at least one byte back: the last segment is only known at the end.
                ready = (pending - 1) // SEGMENT_BYTES
                if ready < per_piece:
                    continue
                plain = b"".join(parts)  # one copy: the piece's own, never changed again
                whole = ready * SEGMENT_BYTES
                parts, pending = [plain[whole:]], pending - whole
                await hashing.feed(memoryview(plain)[:whole])
                yield _seal_segments(cipher, header, index, plain, ready, last=False)
                index += ready
            plain = b"".join(parts)
            await hashing.feed(memoryview(plain))
            yield _seal_segments(cipher, header, index, plain,
                                 max(0, len(plain) - 1) // SEGMENT_BYTES + 1, last=True)
        finally:
            await hashing.finish()

    async def open(self, sealed: AsyncIterator[bytes],
                   piece_bytes: int = SEGMENT_BYTES) -> AsyncIterator[memoryview]:
        """The file inside a sealed object, in pieces of at least ``piece_bytes`` (or
        what is left): whole segments, each opened from the chunk it arrived in straight
        into its piece, so the file is copied once on the way out (only a segment split
        between two chunks is copied to join it); :class:`SealError` if any part of it
        was changed, cut short or sealed with a key id not configured."""
        per_piece = max(1, piece_bytes // SEGMENT_BYTES)
        spans: list[memoryview] = []  # whole segments not opened yet, none of them the last
        waiting = 0  # segments in spans
        carry = bytearray()  # the header, or a segment whose end has not arrived
        header: bytes | None = None
        cipher: AESGCM | None = None
        index = 0
        async for chunk in sealed:
            data = memoryview(chunk)
            if header is None:
                before = len(carry)
                carry += data
                header, cipher = self._read_header(carry)
                if header is None:
                    continue
                data, carry = data[len(header) - before:], bytearray()
            if carry:  # complete the segment begun in an earlier chunk
                need = SEALED_SEGMENT_BYTES - len(carry)
                carry += data[:need]
                data = data[need:]
                if not data:  # it may be the last segment: that is known once more comes
                    continue
                spans.append(memoryview(carry))
                waiting += 1
                carry = bytearray()
            # A segment with bytes after it is not the last one; keep the rest back.
            whole = (len(data) - 1) // SEALED_SEGMENT_BYTES
            if whole > 0:
                spans.append(data[:whole * SEALED_SEGMENT_BYTES])
                waiting += whole
            carry = bytearray(data[max(whole, 0) * SEALED_SEGMENT_BYTES:])
            if waiting >= per_piece:
                yield _open_segments(cipher, header, index, spans, last=False)
                index += waiting
                spans, waiting = [], 0
        if header is None or cipher is None:
            raise SealError("the sealed file is cut short (no header)")
        spans.append(memoryview(carry))
        yield _open_segments(cipher, header, index, spans, last=True)

    def _read_header(self, buffer: bytearray) -> tuple[bytes | None, AESGCM | None]:
        """The header at the start of ``buffer`` and its key's cipher; ``(None, None)``
        until the whole header has arrived."""
        if len(buffer) < len(MAGIC) + 1:
            return None, None
        if bytes(buffer[:len(MAGIC)]) != MAGIC:
            raise SealError("not a sealed file (no TDF1 header)")
        id_len = buffer[len(MAGIC)]
        end = len(MAGIC) + 1 + id_len + PREFIX_BYTES
        if len(buffer) < end:
            return None, None
        header = bytes(buffer[:end])
        key_id = header[len(MAGIC) + 1:len(MAGIC) + 1 + id_len].decode("ascii", "replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealError(f"the file was sealed with key id {key_id!r}, which is not "
                            "configured: add it to TEMPODESK_CODEC_KEYS")
        return header, cipher


def _segments(header: bytes, first_index: int, count: int, segment: int, size: int,
              last: bool) -> Iterator[tuple[bytes, int, int, bytes, int]]:
    """Each of ``count`` segments of ``segment`` bytes in a buffer of ``size``: its nonce,
    where it starts and ends, its associated data (the last one marked so if ``last``)
    and its index."""
    prefix = header[-PREFIX_BYTES:]
    for n in range(count):
        start = n * segment
        end = min(start + segment, size)
        final = last and n == count - 1
        index = first_index + n
        yield prefix + index.to_bytes(4, "big"), start, end, header + (
            _LAST if final else _MORE), index


def _seal_segments(cipher: AESGCM, header: bytes, first_index: int, buffer: bytes,
                   count: int, *, last: bool) -> memoryview:
    """The first ``count`` segments of the file in ``buffer`` sealed into one piece (the
    last of them the object's last segment if ``last``: then all of ``buffer``)."""
    size = len(buffer) if last else count * SEGMENT_BYTES
    out = memoryview(bytearray(size + count * TAG_BYTES))
    with memoryview(buffer) as source:
        for n, (nonce, start, end, aad, _) in enumerate(
                _segments(header, first_index, count, SEGMENT_BYTES, size, last)):
            cipher.encrypt_into(nonce, source[start:end], aad,
                                out[start + n * TAG_BYTES:end + (n + 1) * TAG_BYTES])
    return out


def _open_segments(cipher: AESGCM, header: bytes, first_index: int,
                   spans: list[memoryview], *, last: bool) -> memoryview:
    """The segments in ``spans`` (each span whole sealed segments; if ``last``, the final
    span is the object's last segment) opened, in order, into one piece."""
    sealed: list[memoryview] = []
    for n, span in enumerate(spans):
        final_span = last and n == len(spans) - 1
        if final_span:
            sealed.append(span)
        else:
            sealed.extend(span[start:start + SEALED_SEGMENT_BYTES]
                          for start in range(0, len(span), SEALED_SEGMENT_BYTES))
    if any(len(segment) < TAG_BYTES for segment in sealed):
        raise SealError("the sealed file is cut short (a segment without its tag)")
    out = memoryview(bytearray(sum(len(segment) - TAG_BYTES for segment in sealed)))
    prefix = header[-PREFIX_BYTES:]
    at = 0
    for n, segment in enumerate(sealed):
        index = first_index + n
        final = last and n == len(sealed) - 1
        size = len(segment) - TAG_BYTES
        try:
            cipher.decrypt_into(prefix + index.to_bytes(4, "big"), segment,
                                header + (_LAST if final else _MORE), out[at:at + size])
        except (InvalidTag, ValueError) as exc:
            raise SealError(f"segment {index} of the sealed file does not authenticate: "
                            "the object was changed or cut short") from exc
        at += size
    return out
