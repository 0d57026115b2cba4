"""Mail with files to a ticket that has no room for them is refused whole (413 from the
hook, 552 from the listener), before anything of it is stored or done: before, the
message's note was kept on the ticket, naming files the ticket never got, and a new
ticket was opened without its files (outside reviews). A message whose ticket cannot be
reached now leaves no copy of a file behind for its retry to add to."""

from __future__ import annotations

import contextlib

import obstore

import desk.mail as desk_mail
from activities.file_store import FileStoreUnavailable
from desk.errors import unanswered
from tests.conftest import file_settings, isolated, running_desk
from tests.web.test_email_inbound import GATEWAY, JO, mail
from tests.web.test_files import open_ticket, png, upload


@contextlib.asynccontextmanager
async def one_file_desk(dev_client, config, task_queue, local_s3):
    """A desk whose clients' tickets hold one file each."""
    base = isolated(config)
    one_file = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_files_per_ticket": 1})})
        for c in base.clients]})
    async with running_desk(dev_client, one_file, file_settings(
            local_s3, task_queue=task_queue)) as desk:
        yield desk


async def mail_two_photos(desk, seeds: tuple[int, int]):
    """A new message from Jo with two distinct PNGs, through the inbound hook."""
    message = mail(JO, "Two photos", "Both attached.")
    for seed in seeds:
        message.add_attachment(png(8, seed=seed), maintype="image", subtype="png",
                               filename=f"{seed}.png")
    return await desk.http.post("/v1/email/inbound", content=bytes(message), headers=GATEWAY)


async def sealed_objects(desk) -> list:
    return await obstore.list(desk.state.files.store,
                              prefix=f"{desk.client_id('belton')}/data/").collect_async()


async def test_files_to_a_full_ticket_leave_the_ticket_as_it_was(dev_client, config,
                                                                 task_queue, local_s3):
    async with one_file_desk(dev_client, config, task_queue, local_s3) as desk:
        ticket = await open_ticket(desk)
        assert (await upload(desk, ticket, "a.png", png(8, seed=31))).status_code == 201
        agent = desk.as_("belton", "agent")
        before = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
        message = mail(JO, f"Re: [{ticket}] more photos", "Another one attached.")
        message.add_attachment(png(8, seed=32), maintype="image", subtype="png",
                               filename="b.png")
        answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                      headers=GATEWAY)
        assert answer.status_code == 413, answer.text
        after = (await desk.http.get(f"/v1/tickets/{ticket}", headers=agent)).json()
        assert after["comments_total"] == before["comments_total"]
        assert [a["name"] for a in after["attachments"]] == ["a.png"]
        assert len(await sealed_objects(desk)) == 1  # b.png was never stored
        assert "max_files_per_ticket" in answer.text  # which limit, for the bounce
        assert "holds" not in answer.text  # not what the ticket holds: any sender reads it


async def test_more_files_than_a_new_ticket_takes_open_no_ticket(dev_client, config,
                                                                 task_queue, local_s3):
    async with one_file_desk(dev_client, config, task_queue, local_s3) as desk:
        answer = await mail_two_photos(desk, seeds=(33, 34))
        assert answer.status_code == 413, answer.text
        listed = await desk.http.get("/v1/tickets", headers=desk.as_("belton", "agent"))
        assert listed.json()["tickets"] == []  # the sender's fixed resend opens the one
        assert await sealed_objects(desk) == []


async def test_a_message_whose_ticket_does_not_answer_leaves_no_copy(
        dev_client, config, task_queue, local_s3, monkeypatch):
    """The client has the file already (another ticket): the message's copy waits for its
    ticket, which does not answer; the copy goes, and the sender's server sends it again."""
    async with one_file_desk(dev_client, config, task_queue, local_s3) as desk:
        ticket = await open_ticket(desk)
        image = png(8, seed=35)
        assert (await upload(desk, ticket, "a.png", image)).status_code == 201
        assert len(await sealed_objects(desk)) == 1

        async def no_answer(ref):
            raise unanswered()

        monkeypatch.setattr(desk_mail, "held_files", no_answer)
        message = mail(JO, "The same photo", "Attached again.")
        message.add_attachment(image, maintype="image", subtype="png", filename="a.png")
        answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                      headers=GATEWAY)
        assert answer.status_code == 503, answer.text
        assert len(await sealed_objects(desk)) == 1  # no copy left behind



async def test_a_message_whose_second_file_fails_to_store_leaves_no_copy(files_desk,
                                                                         monkeypatch):
    """The store takes the first file and fails on the second: the message is answered
    503 (the sender's server sends it again) and the first file's copy goes."""
    desk = files_desk
    store = desk.state.files
    put_bytes = store.put_bytes
    calls = []

    async def second_fails(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise FileStoreUnavailable("the store did not answer")
        return await put_bytes(*args, **kwargs)

    monkeypatch.setattr(store, "put_bytes", second_fails)
    answer = await mail_two_photos(desk, seeds=(36, 37))
    assert answer.status_code == 503, answer.text
    assert len(calls) == 2
    assert await sealed_objects(desk) == []
