"""Mail with files to a ticket that has no room for them is refused whole (413 from the
hook, 552 from the listener), before anything of it is stored or done: before, the
message's note was kept on the ticket, naming files the ticket never got (outside
review)."""

from __future__ import annotations

import obstore

from tests.conftest import file_settings, isolated, running_desk
from tests.web.test_email_inbound import GATEWAY, JO, mail
from tests.web.test_files import open_ticket, png, upload


async def test_files_to_a_full_ticket_leave_the_ticket_as_it_was(dev_client, config,
                                                                 task_queue, local_s3):
    base = isolated(config)
    one_file = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_files_per_ticket": 1})})
        for c in base.clients]})
    async with running_desk(dev_client, one_file, file_settings(
            local_s3, task_queue=task_queue)) as desk:
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
        stored = await obstore.list(desk.state.files.store,
                                    prefix=f"{desk.client_id('belton')}/data/").collect_async()
        assert len(stored) == 1  # b.png was never stored
        assert "max_files_per_ticket" in answer.text  # which limit, for the bounce
        assert "holds" not in answer.text  # not what the ticket holds: any sender reads it
