"""A ticket whose answer to "list this file" is lost (its worker slow or gone, the update
taken by Temporal and applied later, or already) keeps the file: the upload answers 503
and its mark stays, whether or not the ticket lists it yet (outside reviews: the mark was
taken back and a file the ticket lists deleted). A mark kept for a file the ticket never
lists is a leak, never a loss."""

from __future__ import annotations

import desk.files as desk_files
from desk.errors import unanswered
from tests.web.test_files import open_ticket, png, stored_objects, upload


async def test_a_file_listed_while_the_answer_was_lost_is_kept(files_desk, monkeypatch):
    desk = files_desk
    ticket = await open_ticket(desk)
    asked = desk_files.answered

    async def answer_lost(state, call):
        result = await asked(state, call)
        if getattr(call, "__name__", "") == "execute_update":  # the ticket's attach
            raise unanswered()
        return result

    monkeypatch.setattr(desk_files, "answered", answer_lost)
    image = png(8, seed=41)
    sent = await upload(desk, ticket, "a.png", image)
    assert sent.status_code == 503, sent.text
    monkeypatch.undo()
    agent = desk.as_("belton", "agent")
    listed = (await desk.http.get(f"/v1/tickets/{ticket}/attachments", headers=agent)).json()
    [file] = listed["attachments"]
    read = await desk.http.get(f"/v1/tickets/{ticket}/attachments/{file['sha256']}",
                               headers=agent)
    assert read.status_code == 200 and read.content == image


async def test_a_file_whose_answer_never_came_is_kept(files_desk, monkeypatch):
    desk = files_desk
    ticket = await open_ticket(desk)

    async def no_answer(state, call):
        if getattr(call, "__name__", "") == "execute_update":
            call.close()  # not sent here; it might have been, and be applied later
            raise unanswered()
        return await asked(state, call)

    asked = desk_files.answered
    monkeypatch.setattr(desk_files, "answered", no_answer)
    sent = await upload(desk, ticket, "b.png", png(8, seed=42))
    assert sent.status_code == 503, sent.text
    assert len(await stored_objects(desk, desk.client_id("belton"))) == 1  # kept
