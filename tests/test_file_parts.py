"""How an upload is cut into multipart parts (activities/file_store.py ``part_bytes``):
every part but the last at least S3's minimum, a bounded part (an upload holds a few in
memory), and for a size known in advance a last part of about half a part, so the part
before it leaves for the store while the last bytes are still arriving."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from activities.file_store import MIN_PART_BYTES, part_bytes

MIB = 1024 * 1024


@given(st.integers(0, 1024 ** 3) | st.sampled_from([
    MIN_PART_BYTES - 1, MIN_PART_BYTES, int(7.5 * MIB), int(12.5 * MIB) - 1, 25 * MIB]))
def test_parts_are_valid_bounded_and_leave_a_half_part_last(expected):
    part = part_bytes(expected)
    assert MIN_PART_BYTES <= part <= int(8.4 * MIB)
    if expected >= 7.5 * MIB:
        last = expected - (expected - 1) // part * part
        assert 0.45 * part <= last <= 0.55 * part, (expected, part, last)


def test_an_unknown_size_gets_the_smallest_part():
    assert part_bytes(None) == MIN_PART_BYTES
