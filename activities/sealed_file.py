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
from collections.abc import AsyncIterator, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"TDF1"
SEGMENT_BYTES = 64 * 1024
TAG_BYTES = 16
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

    async def seal(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The sealed object of the file ``chunks`` carry, as it comes."""
        prefix = os.urandom(PREFIX_BYTES)
        header = self._header(self.key_id, prefix)
        cipher = self._ciphers[self.key_id]
        yield header
        pending = bytearray()
        index = 0
        async for chunk in chunks:
            pending += chunk
            # Keep at least one byte back: the last segment is only known at the end.
            start = 0
            with memoryview(pending) as view:
                while len(pending) - start > SEGMENT_BYTES:
                    sealed = cipher.encrypt(prefix + index.to_bytes(4, "big"),
                                            view[start:start + SEGMENT_BYTES], header + _MORE)
                    yield sealed
                    start += SEGMENT_BYTES
                    index += 1
            del pending[:start]  # once per chunk, not once per segment
        yield cipher.encrypt(prefix + index.to_bytes(4, "big"), bytes(pending), header + _LAST)

    async def open(self, sealed: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The file inside a sealed object, segment by segment; :class:`SealError` if any
        part of it was changed, cut short or sealed with a key id not configured."""
        buffer = bytearray()
        header: bytes | None = None
        cipher: AESGCM | None = None
        prefix = b""
        index = 0
        size = SEGMENT_BYTES + TAG_BYTES
        async for chunk in sealed:
            buffer += chunk
            if header is None:
                if len(buffer) < len(MAGIC) + 1:
                    continue
                if bytes(buffer[:len(MAGIC)]) != MAGIC:
                    raise SealError("not a sealed file (no TDF1 header)")
                id_len = buffer[len(MAGIC)]
                end = len(MAGIC) + 1 + id_len + PREFIX_BYTES
                if len(buffer) < end:
                    continue
                header = bytes(buffer[:end])
                key_id = header[len(MAGIC) + 1:len(MAGIC) + 1 + id_len].decode("ascii", "replace")
                cipher = self._ciphers.get(key_id)
                if cipher is None:
                    raise SealError(f"the file was sealed with key id {key_id!r}, which is not "
                                    "configured: add it to TEMPODESK_CODEC_KEYS")
                prefix = header[-PREFIX_BYTES:]
                del buffer[:end]
            # More than a whole segment buffered: the first one is not the last.
            start = 0
            with memoryview(buffer) as view:
                while cipher is not None and len(buffer) - start > size:
                    opened = _open(cipher, prefix, index, view[start:start + size],
                                   header + _MORE)
                    yield opened
                    start += size
                    index += 1
            del buffer[:start]
        if header is None or cipher is None:
            raise SealError("the sealed file is cut short (no header)")
        yield _open(cipher, prefix, index, bytes(buffer), header + _LAST)


def _open(cipher: AESGCM, prefix: bytes, index: int, segment: bytes | memoryview,
          aad: bytes) -> bytes:
    try:
        return cipher.decrypt(prefix + index.to_bytes(4, "big"), segment, aad)
    except InvalidTag as exc:
        raise SealError(f"segment {index} of the sealed file does not authenticate: the "
                        "object was changed or cut short") from exc
