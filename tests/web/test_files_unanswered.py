"""A ticket that lists a file and whose answer is lost (its worker slow or gone after
the update applied) keeps the file: the upload answers 503, and the desk asks the ticket
before taking any mark back (outside review: the mark was taken back and the file a
ticket lists deleted). A file the ticket did not list still has its mark taken back."""

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


async def test_a_file_the_ticket_did_not_list_is_let_go(files_desk, monkeypatch):
    desk = files_desk
    ticket = await open_ticket(desk)

    async def no_answer(state, call):
        if getattr(call, "__name__", "") == "execute_update":
            call.close()  # never sent: the ticket does not list it
            raise unanswered()
        return await asked(state, call)

    asked = desk_files.answered
    monkeypatch.setattr(desk_files, "answered", no_answer)
    sent = await upload(desk, ticket, "b.png", png(8, seed=42))
    assert sent.status_code == 503, sent.text
    assert await stored_objects(desk, desk.client_id("belton")) == []  # its mark let go
