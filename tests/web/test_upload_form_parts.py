"""A form upload carries one file: a second file part (named 'file' again, or any part
with a file name) is refused with 422 naming 'file', and neither file is listed or kept
(outside review: `curl -F file=@a -F file=@b` answered 201 and dropped b without a word).
Fields beside the file are read past as before."""

from __future__ import annotations

import pytest

from tests.web.test_files import open_ticket, png, stored_objects


async def listed(desk, ticket: str) -> list[str]:
    answer = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                 headers=desk.as_("belton", "agent"))
    return [a["name"] for a in answer.json()["attachments"]]


@pytest.mark.parametrize(("first", "second"), [("file", "file"), ("file", "other"),
                                               ("other", "file")])
async def test_another_file_in_the_form_is_refused_and_nothing_kept(files_desk, first, second):
    desk = files_desk
    ticket = await open_ticket(desk)
    sent = await desk.http.post(f"/v1/tickets/{ticket}/attachments", files=[
        (first, ("a.png", png(8, seed=1), "image/png")),
        (second, ("b.png", png(8, seed=2), "image/png"))], headers=desk.as_("belton",
                                                                             "requester"))
    assert sent.status_code == 422, sent.text
    assert [e["field"] for e in sent.json()["errors"]] == ["file"]
    assert "one file per request" in sent.json()["detail"]
    assert await listed(desk, ticket) == []
    assert await stored_objects(desk, desk.client_id("belton")) == []


async def test_fields_beside_the_one_file_are_read_past(files_desk):
    desk = files_desk
    ticket = await open_ticket(desk)
    sent = await desk.http.post(f"/v1/tickets/{ticket}/attachments",
                                data={"before": "x", "after": "y" * 1000},
                                files={"file": ("a.png", png(8, seed=3), "image/png")},
                                headers=desk.as_("belton", "requester"))
    assert sent.status_code == 201, sent.text
    assert await listed(desk, ticket) == ["a.png"]
