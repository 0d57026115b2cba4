"""Files sealed at rest (activities/sealed_file.py): what goes in comes out, whatever the
sizes of the pieces it arrives and is read in; any change to a sealed object, cutting it
short, reordering its segments or an unknown key fails the open; rotation reads old files."""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.sealed_file import SEGMENT_BYTES, TAG_BYTES, FileSealer, SealError

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


async def pieces(data: bytes, size: int):
    for start in range(0, len(data), size):
        yield data[start:start + size]
    if not data:
        yield b""


def seal(sealer: FileSealer, data: bytes, piece: int = 4096,
         piece_bytes: int = SEGMENT_BYTES) -> bytes:
    async def run() -> bytes:
        return b"".join([c async for c in sealer.seal(pieces(data, piece), piece_bytes)])
    return asyncio.run(run())


def open_(sealer: FileSealer, sealed: bytes, piece: int = 4096,
          piece_bytes: int = SEGMENT_BYTES) -> bytes:
    async def run() -> bytes:
        return b"".join([c async for c in sealer.open(pieces(sealed, piece), piece_bytes)])
    return asyncio.run(run())


SIZES = st.sampled_from([0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1,
                         3 * SEGMENT_BYTES, 3 * SEGMENT_BYTES + 7]) | st.integers(0, 300_000)


@settings(max_examples=40, deadline=None)
@given(size=SIZES, piece_in=st.integers(1, 200_000), piece_out=st.integers(1, 200_000),
       sealed_piece=st.integers(1, 5 * SEGMENT_BYTES),
       opened_piece=st.integers(1, 5 * SEGMENT_BYTES))
def test_what_is_sealed_opens_whatever_the_pieces(size, piece_in, piece_out, sealed_piece,
                                                  opened_piece):
    sealer = FileSealer({"a": KEY_A}, "a")
    data = os.urandom(size)
    sealed = seal(sealer, data, piece_in, sealed_piece)
    # However it was cut into pieces, the object is the same segments (only the nonce
    # prefix differs from run to run): its length says so.
    whole_segments, rest = divmod(size, SEGMENT_BYTES)
    segments = max(1, whole_segments + (1 if rest else 0))
    assert len(sealed) == len(b"TDF1") + 1 + 1 + 8 + size + segments * TAG_BYTES
    assert sealer.sealed_size(size) == len(sealed)  # what an upload's parts are cut by
    assert data[:16] not in sealed or size < 16
    assert open_(sealer, sealed, piece_out, opened_piece) == data


def test_every_change_to_the_object_fails_the_open():
    sealer = FileSealer({"a": KEY_A}, "a")
    data = os.urandom(3 * SEGMENT_BYTES + 100)
    sealed = seal(sealer, data)
    header = len(b"TDF1") + 1 + 1 + 8
    segment = SEGMENT_BYTES + TAG_BYTES
    damaged = {
        "a flipped bit": sealed[:header + 10] + bytes([sealed[header + 10] ^ 1])
        + sealed[header + 11:],
        "the last segment dropped": sealed[:header + 3 * segment],
        "the last two segments dropped": sealed[:header + 2 * segment],
        "only the tag of the last segment left": sealed[:header + 3 * segment + 10],
        "cut inside a segment": sealed[:-50],
        "two segments swapped": sealed[:header] + sealed[header + segment:header + 2 * segment]
        + sealed[header:header + segment] + sealed[header + 2 * segment:],
        "the header's nonce changed": sealed[:header - 1] + b"\0" + sealed[header:],
        "no header": sealed[:3],
    }
    for what, bad in damaged.items():
        for opened_piece in (SEGMENT_BYTES, 8 * SEGMENT_BYTES):  # segment by segment or many
            with pytest.raises(SealError):
                open_(sealer, bad, piece_bytes=opened_piece)
                pytest.fail(f"{what} opened in pieces of {opened_piece}")


def test_rotation_reads_old_files_and_an_unknown_key_is_named():
    old = FileSealer({"2026-01": KEY_A}, "2026-01")
    sealed = seal(old, b"written under the old key")
    rotated = FileSealer({"2026-01": KEY_A, "2026-07": KEY_B}, "2026-07")
    assert open_(rotated, sealed) == b"written under the old key"
    assert b"2026-07" in seal(rotated, b"new")[:20]
    with pytest.raises(SealError, match="2026-01"):
        open_(FileSealer({"2026-07": KEY_B}, "2026-07"), sealed)
    # Relabelling an object with another configured key id does not make it open.
    relabelled = seal(rotated, b"x").replace(b"2026-07", b"2026-01", 1)
    with pytest.raises(SealError):
        open_(rotated, relabelled)
