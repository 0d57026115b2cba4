"""What the files throughput work (issue 21's bench) relies on in the sealed format: the
digest fed while sealing (in a worker thread) is the file's SHA-256, however the file
arrives; a download's object opens as its chunks arrive (the store's first 1 MiB chunk
gives its segments at once, not only once a second chunk has come); what is opened
straight from a chunk does not change when the chunk's buffer is reused afterwards."""

from __future__ import annotations

import asyncio
import hashlib
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from activities.sealed_file import SEALED_SEGMENT_BYTES, SEGMENT_BYTES, FileSealer
from desk.files import SEND_BYTES

KEY = os.urandom(32)
MIB = 1024 * 1024


async def pieces(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start:start + size]
    if not data:
        yield b""


async def sealed_with_digest(sealer: FileSealer, data: bytes, piece: int,
                             piece_bytes: int) -> tuple[bytes, str]:
    digest = hashlib.sha256()
    sealed = b"".join([bytes(c) async for c in sealer.seal(pieces(data, piece), piece_bytes,
                                                           digest)])
    return sealed, digest.hexdigest()


@settings(max_examples=30, deadline=None)
@given(size=st.sampled_from([0, 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 5 * SEGMENT_BYTES + 3])
       | st.integers(0, 600_000), piece=st.integers(1, 300_000),
       piece_bytes=st.integers(1, 5 * SEGMENT_BYTES))
def test_the_digest_fed_while_sealing_is_the_files_sha256(size, piece, piece_bytes):
    sealer = FileSealer({"a": KEY}, "a")
    data = os.urandom(size)
    sealed, sha = asyncio.run(sealed_with_digest(sealer, data, piece, piece_bytes))
    assert sha == hashlib.sha256(data).hexdigest()

    async def opened() -> bytes:
        return b"".join([bytes(c) async for c in sealer.open(pieces(sealed, 70_000))])
    assert asyncio.run(opened()) == data


def sealed(sealer: FileSealer, data: bytes) -> bytes:
    async def run() -> bytes:
        return b"".join([bytes(c) async for c in sealer.seal(pieces(data, MIB), MIB)])
    return asyncio.run(run())


def test_a_chunk_of_a_piece_gives_its_segments_before_the_next_chunk_arrives():
    sealer = FileSealer({"a": KEY}, "a")
    data = os.urandom(4 * MIB)
    whole = sealed(sealer, data)
    given = []

    async def chunks():  # as obstore streams an object: chunks of (at least) 1 MiB
        for start in range(0, len(whole), MIB):
            given.append(start)
            yield whole[start:start + MIB]

    async def run() -> tuple[list[int], bytes]:
        chunks_before_each_piece, got = [], []
        async for piece in sealer.open(chunks(), SEND_BYTES):
            chunks_before_each_piece.append(len(given))
            got.append(bytes(piece))
        return chunks_before_each_piece, b"".join(got)

    chunks_before_each_piece, got = asyncio.run(run())
    assert got == data
    # The first chunk's 15 whole segments go out before a second chunk is asked for (a
    # download's first byte waits for 1 MiB from the store, not 2).
    assert chunks_before_each_piece[0] == 1


def test_opened_pieces_do_not_change_when_the_chunks_buffer_is_reused():
    """Pieces are opened from the chunks' own buffers (no copy in between): what was
    given must still be the file after the buffer it came from is written over."""
    sealer = FileSealer({"a": KEY}, "a")
    data = os.urandom(3 * SEALED_SEGMENT_BYTES + 5)
    buffer = bytearray(sealed(sealer, data))

    async def reused_buffer():
        yield memoryview(buffer)

    async def run() -> list[bytes]:
        kept = [piece async for piece in sealer.open(reused_buffer(), SEGMENT_BYTES)]
        buffer[:] = bytes(len(buffer))  # the source scribbled over once it was read
        return [bytes(p) for p in kept]

    assert b"".join(asyncio.run(run())) == data
