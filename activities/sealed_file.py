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

import os
from collections.abc import AsyncIterator, Iterator, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TDF1"
SEGMENT_BYTES = 64 * 1024
TAG_BYTES = 16
SEALED_SEGMENT_BYTES = SEGMENT_BYTES + TAG_BYTES
PREFIX_BYTES = 8
_LAST = b"\x01"
_MORE = b"\x00"


class SealError(ValueError):
    """A sealed object that cannot be opened: damaged, cut short or an unknown key."""


class FileSealer:
    def __init__(self, keys: Mapping[str, bytes], key_id: str) -> None:
        if key_id not in keys:
            raise ValueError(f"key id {key_id!r} is not among the keys: {sorted(keys)}")
        self.key_id = key_id
        self._ciphers = {name: AESGCM(key) for name, key in keys.items()}

    def _header(self, key_id: str, prefix: bytes) -> bytes:
        raw_id = key_id.encode()
        return MAGIC + bytes([len(raw_id)]) + raw_id + prefix

    async def seal(self, chunks: AsyncIterator[bytes],
                   piece_bytes: int = SEGMENT_BYTES) -> AsyncIterator[bytes | memoryview]:
        """The sealed object of the file ``chunks`` carry, as it comes, in pieces of about
        ``piece_bytes`` (whole segments sealed straight into their piece: a store's client
        takes a few large pieces far faster than one per 64 KiB segment)."""
        per_piece = max(1, piece_bytes // SEGMENT_BYTES)
        prefix = os.urandom(PREFIX_BYTES)
        header = self._header(self.key_id, prefix)
        cipher = self._ciphers[self.key_id]
        yield header
        pending = bytearray()
        index = 0
        async for chunk in chunks:
            pending += chunk
            # Keep at least one byte back: the last segment is only known at the end.
            ready = (len(pending) - 1) // SEGMENT_BYTES
            if ready < per_piece:
                continue
            yield _seal_segments(cipher, header, index, pending, ready, last=False)
            index += ready
            del pending[:ready * SEGMENT_BYTES]  # once per piece, not once per segment
        yield _seal_segments(cipher, header, index, pending,
                             max(0, len(pending) - 1) // SEGMENT_BYTES + 1, last=True)

    async def open(self, sealed: AsyncIterator[bytes],
                   piece_bytes: int = SEGMENT_BYTES) -> AsyncIterator[memoryview]:
        """The file inside a sealed object, in pieces of about ``piece_bytes`` (whole
        segments, each opened straight into its piece: the file is copied once on the
        way out, not once per step); :class:`SealError` if any part of it was changed,
        cut short or sealed with a key id not configured."""
        per_piece = max(1, piece_bytes // SEGMENT_BYTES)
        buffer = bytearray()
        header: bytes | None = None
        cipher: AESGCM | None = None
        index = 0
        async for chunk in sealed:
            buffer += chunk
            if header is None:
                header, cipher = self._read_header(buffer)
                if header is None:
                    continue
                del buffer[:len(header)]
            # A segment with bytes after it is not the last one; open those a piece at a time.
            ready = (len(buffer) - 1) // SEALED_SEGMENT_BYTES
            if ready < per_piece:
                continue
            piece = _open_segments(cipher, header, index, buffer, ready, last=False)
            index += ready
            del buffer[:ready * SEALED_SEGMENT_BYTES]  # once per piece, not per segment
            yield piece
        if header is None or cipher is None:
            raise SealError("the sealed file is cut short (no header)")
        yield _open_segments(cipher, header, index, buffer,
                             max(0, len(buffer) - 1) // SEALED_SEGMENT_BYTES + 1, last=True)

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


def _seal_segments(cipher: AESGCM, header: bytes, first_index: int, buffer: bytearray,
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


def _open_segments(cipher: AESGCM, header: bytes, first_index: int, buffer: bytearray,
                   count: int, *, last: bool) -> memoryview:
    """The first ``count`` segments of ``buffer`` opened into one piece (the last of them
    the object's last segment if ``last``)."""
    sealed_size = len(buffer) if last else count * SEALED_SEGMENT_BYTES
    if sealed_size < count * TAG_BYTES:
        raise SealError("the sealed file is cut short (a segment without its tag)")
    out = memoryview(bytearray(sealed_size - count * TAG_BYTES))
    with memoryview(buffer) as source:
        for n, (nonce, start, end, aad, index) in enumerate(_segments(
                header, first_index, count, SEALED_SEGMENT_BYTES, sealed_size, last)):
            try:
                cipher.decrypt_into(nonce, source[start:end], aad,
                                    out[start - n * TAG_BYTES:end - (n + 1) * TAG_BYTES])
            except (InvalidTag, ValueError) as exc:
                raise SealError(f"segment {index} of the sealed file does not authenticate: "
                                "the object was changed or cut short") from exc
    return out
