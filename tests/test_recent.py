"""domain/recent.py: a bounded map whose entries end after their time, the least recently
used going first (what the file store, the listed-files cache and the ticket directory
remember); and the room one more file has on a ticket (domain/attachments.py)."""

from __future__ import annotations

from domain.attachments import Attachment, Channel, FileLimits, room_for_file
from domain.recent import Recent


def test_entries_end_after_their_time_and_the_least_used_goes_first():
    clock = [0.0]
    recent: Recent[str, int] = Recent(2, seconds=10, clock=lambda: clock[0])
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # used: "b" is now the least recently used
    recent.put("c", 3)
    assert (recent.get("a"), recent.get("b"), recent.get("c")) == (1, None, 3)
    clock[0] = 11
    assert recent.get("a") is None and recent.get("c") is None
    recent.put("d", 4)
    recent.drop("d")
    assert recent.get("d") is None


def test_the_room_for_a_file_is_the_smaller_of_its_limit_and_the_tickets_rest():
    limits = FileLimits(max_file_bytes=10_000, max_ticket_bytes=15_000)
    held = [Attachment(sha256="a" * 64, name="a", content_type="text/plain", size=9_000,
                       by="x", at="2026-12-07T00:00:00Z", channel=Channel.API)]
    assert room_for_file([], limits) == 10_000
    assert room_for_file(held, limits) == 6_000
