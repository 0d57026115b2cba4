"""What makes a download quicker without changing who may have it (issue 21's bench): a
ticket this replica has seen list a file (it just took the upload, or it answered a
download) is not asked again, since a ticket's list only grows; locating the ticket for
the caller still comes first (another client's credential: 404), and a file not seen
listed is still asked for (not listed: 404)."""

from __future__ import annotations

import hashlib

import pytest

import desk.files
from desk.listed_files import ListedFiles
from domain.attachments import Attachment, Channel
from tests.web.test_files import open_ticket, png, upload

pytestmark = pytest.mark.devserver


def tickets_list_nothing(monkeypatch) -> list[str]:
    """Every ticket asked for its files from now on answers none, and is noted."""
    asked = []

    async def nothing(ref):
        asked.append(ref.ticket_id)
        return []
    monkeypatch.setattr(desk.files, "held_files", nothing)
    return asked


async def test_a_file_just_uploaded_is_served_without_asking_the_ticket_again(
        files_desk, monkeypatch):
    d = files_desk
    ticket = await open_ticket(d)
    image = png(16, seed=7)
    sha = hashlib.sha256(image).hexdigest()
    assert (await upload(d, ticket, "a.png", image)).status_code == 201
    asked = tickets_list_nothing(monkeypatch)
    got = await d.http.get(f"/v1/tickets/{ticket}/attachments/{sha}",
                           headers=d.as_("belton", "agent"))
    assert got.status_code == 200 and got.content == image
    assert asked == []
    # Remembered or not, another client's credential never reaches the ticket.
    theirs = await d.http.get(f"/v1/tickets/{ticket}/attachments/{sha}",
                              headers=d.as_("plexacet", "agent"))
    assert theirs.status_code == 404 and got.content not in theirs.content
    # A file not seen listed is asked for (and is not listed: 404).
    unseen = await d.http.get(f"/v1/tickets/{ticket}/attachments/{'0' * 64}",
                              headers=d.as_("belton", "agent"))
    assert unseen.status_code == 404 and asked == [ticket]


async def test_a_download_remembers_what_the_ticket_answered(files_desk, monkeypatch):
    d = files_desk
    ticket = await open_ticket(d)
    image = png(16, seed=8)
    sha = hashlib.sha256(image).hexdigest()
    assert (await upload(d, ticket, "a.png", image)).status_code == 201
    d.state.listed_files = ListedFiles()  # another replica's view: it took no upload
    first = await d.http.get(f"/v1/tickets/{ticket}/attachments/{sha}",
                             headers=d.as_("belton", "requester"))
    assert first.status_code == 200 and first.content == image
    asked = tickets_list_nothing(monkeypatch)
    again = await d.http.get(f"/v1/tickets/{ticket}/attachments/{sha}",
                             headers=d.as_("belton", "requester"))
    assert again.status_code == 200 and again.content == image and asked == []


def attachment(sha: str) -> Attachment:
    return Attachment(sha256=sha, name="a.png", content_type="image/png", size=1, by="x",
                      at="2026-12-06T00:00:00Z", channel=Channel.API)


def test_what_is_remembered_is_bounded_in_tickets_and_time():
    clock = [1000.0]
    listed = ListedFiles(tickets=2, seconds=60, clock=lambda: clock[0])
    listed.remember("T-1", [attachment("a" * 64)])
    listed.remember("T-1", [attachment("b" * 64)])  # added to, not replaced
    assert listed.get("T-1", "a" * 64) and listed.get("T-1", "b" * 64)
    assert listed.get("T-1", "c" * 64) is None
    listed.remember("T-2", [])
    listed.remember("T-3", [])  # a third ticket: the one remembered longest ago goes
    assert listed.get("T-1", "a" * 64) is None
    listed.remember("T-2", [attachment("a" * 64)])
    clock[0] += 61
    assert listed.get("T-2", "a" * 64) is None  # after its time: ask the ticket again
