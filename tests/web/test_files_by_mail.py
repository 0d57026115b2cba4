"""Files sent to the desk by mail are kept (issue 21): a real multipart message with a PNG
and a PDF through the `tempodesk smtp` command, both files on the ticket, downloadable
byte-identical, sealed in the bucket; an inline image and a forwarded message are files
too; a store that cannot take them now makes the sender's server try again."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import smtplib
import sys
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest
from temporalio.client import Client

from api.smtp import serve_smtp
from domain.tenants import load_config
from temporal_client import INTERCEPTORS, data_converter
from tests.conftest import FILE_KEYS, file_settings, isolated, running_desk
from tests.peers import free_port
from tests.processes import drill_config
from tests.web.helpers import eventually
from tests.web.test_email_inbound import GATEWAY, JO, mail
from tests.web.test_files import png, sealed_bytes, store_down_desk

pytestmark = pytest.mark.devserver
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
       b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def with_files(message: EmailMessage, image: bytes) -> EmailMessage:
    message.add_attachment(image, maintype="image", subtype="png", filename="screen.png")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="quote.pdf")
    return message


async def files_of(desk, ticket: str) -> list[dict]:
    answer = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                 headers=desk.as_("belton", "agent"))
    return answer.json()["attachments"]


async def test_a_mail_with_a_png_and_a_pdf_through_tempodesk_smtp(dev_client, task_queue,
                                                                   local_s3, tmp_path):
    path, client_id, _ = drill_config(tmp_path / "mail.yaml")
    config = load_config(path)
    settings = file_settings(local_s3, task_queue=task_queue).model_copy(
        update={"config_path": path})
    # The command seals payloads with the same keys as files (TEMPODESK_CODEC_KEYS): this
    # desk's worker reads them with its own client, encrypting like the command's.
    worker_client = await Client.connect(dev_client.service_client.config.target_host,
                                  data_converter=data_converter(settings),
                                  interceptors=INTERCEPTORS)
    async with running_desk(worker_client, config, settings) as desk:
        port = free_port()
        env = {**os.environ, "TEMPODESK_TEMPORAL_ADDRESS": dev_client.service_client.config
               .target_host, "TEMPODESK_TASK_QUEUE": task_queue,
               "TEMPODESK_CONFIG_PATH": str(path), "TEMPODESK_INBOUND_SMTP_PORT": str(port),
               "TEMPODESK_SIGNING_SECRET": "files-by-mail-" + "s" * 32,
               "TEMPODESK_CODEC_KEYS": json.dumps(FILE_KEYS),
               "TEMPODESK_CODEC_KEY_ID": settings.codec_key_id,
               **{f"TEMPODESK_{k.upper()}": v for k, v in local_s3.settings().items()}}
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "tempodesk"), "smtp", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        image = png(32, seed=21)
        message = with_files(mail(JO, "Error on the quote screen", "Screenshot and PDF."),
                             image)
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            assert b"taking mail on" in line, line

            def send() -> dict:
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
                    return smtp.sendmail(JO, ["servicedesk@belton.example"],
                                         message.as_bytes(policy=SMTP))  # CRLF lines

            assert await asyncio.to_thread(send) == {}
        finally:
            process.send_signal(signal.SIGTERM)
            said = await asyncio.wait_for(process.stdout.read(), timeout=30)
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0, said.decode()

        async def opened() -> list[str]:
            found = [w async for w in worker_client.list_workflows(
                f"TaskQueue = '{task_queue}' AND TicketKind = 'incident' "
                "AND ExecutionStatus != 'ContinuedAsNew'")]
            return [w.id.split(":", 1)[1] for w in found]

        (ticket,) = await eventually(opened, bool, timeout=30)
        listed = await eventually(lambda: files_of(desk, ticket), lambda f: len(f) == 2)
        assert [(f["name"], f["content_type"], f["channel"]) for f in listed] == [
            ("screen.png", "image/png", "email"), ("quote.pdf", "application/pdf", "email")]
        for data, file in zip((image, PDF), listed, strict=True):
            assert file["sha256"] == hashlib.sha256(data).hexdigest()
            got = await desk.http.get(f"/v1/tickets/{ticket}/attachments/{file['sha256']}",
                                      headers=desk.as_("belton", "requester"))
            assert got.status_code == 200 and got.content == data
            sealed = await sealed_bytes(desk, client_id, file["sha256"])
            assert sealed != data and data[:8] not in sealed
        details = await (await worker_client.get_workflow_handle(
            f"incident:{ticket}").describe()).static_details()
        assert "Files (on the ticket): - screen.png" in " ".join(details.split())


async def test_inline_images_and_forwarded_mail_are_files_too(files_desk):
    desk = files_desk
    inline = png(8, seed=22)
    forwarded = mail("vendor@supplier.example", "Your order", "Shipped today.")
    message = mail(JO, "Forwarding the supplier's note", "See the picture and the mail.")
    message.add_related(inline, maintype="image", subtype="png", cid=make_msgid())
    message.make_mixed()
    message.attach(_forward(forwarded))
    answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                  headers=GATEWAY)
    assert answer.status_code == 202, answer.text
    ticket = answer.json()["ticket_id"]
    listed = await files_of(desk, ticket)
    assert [(f["name"], f["content_type"]) for f in listed] == [
        ("inline-1.png", "image/png"), ("forwarded.eml", "text/plain")]  # types sniffed
    got = await desk.http.get(f"/v1/tickets/{ticket}/attachments/{listed[1]['sha256']}",
                              headers=desk.as_("belton", "agent"))
    assert b"Subject: Your order" in got.content and b"Shipped today." in got.content


def _forward(message: EmailMessage) -> EmailMessage:
    part = EmailMessage()
    part.set_content(message)
    return part


async def test_mail_whose_files_cannot_be_stored_now_is_refused_to_retry(dev_client, config,
                                                                        task_queue, local_s3):
    async with store_down_desk(dev_client, config, task_queue, local_s3) as desk:
        message = with_files(mail(JO, "Broken dock", "Photo attached."), png(8, seed=23))
        answer = await desk.http.post("/v1/email/inbound", content=bytes(message),
                                      headers=GATEWAY)
        assert answer.status_code == 503, answer.text
        assert int(answer.headers["Retry-After"]) >= 1
        found = [w async for w in dev_client.list_workflows(
            f"TaskQueue = '{task_queue}' AND TicketKind = 'incident'")]
        assert found == []  # nothing opened: the sender's server tries the whole mail again


def _listener_answer(port: int, message: EmailMessage) -> tuple[int, str]:
    """What the listener answers a message's DATA (its code and text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        try:
            smtp.sendmail(JO, ["servicedesk@belton.example"], message.as_bytes(policy=SMTP))
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error.decode()
    return 250, ""


async def test_the_listener_asks_again_while_the_store_is_down(dev_client, config,
                                                              task_queue, local_s3):
    async with store_down_desk(dev_client, config, task_queue, local_s3) as desk:
        port = free_port()
        server = await serve_smtp(desk.state, "127.0.0.1", port)
        try:
            message = with_files(mail(JO, "Broken dock", "Photo attached."), png(8, seed=24))
            code, _ = await asyncio.to_thread(_listener_answer, port, message)
        finally:
            server.close()
            await server.wait_closed()
    assert code == 451  # the sending MTA keeps the mail and tries again: no file is lost


async def test_a_file_over_the_clients_limit_is_refused_for_good(dev_client, config,
                                                                task_queue, local_s3):
    base = isolated(config)
    small = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_file_bytes": 1024})}) for c in base.clients]})
    async with running_desk(dev_client, small, file_settings(
            local_s3, task_queue=task_queue)) as desk:
        port = free_port()
        server = await serve_smtp(desk.state, "127.0.0.1", port)
        try:
            message = mail(JO, "Logs", "Attached.")
            message.add_attachment(os.urandom(4096), maintype="application",
                                   subtype="octet-stream", filename="big.bin")
            code, text = await asyncio.to_thread(_listener_answer, port, message)
        finally:
            server.close()
            await server.wait_closed()
    # Permanent (no retry mends it), and the sender is told which limit.
    assert code == 552 and "at most 1,024 bytes" in text


async def test_files_from_an_unproven_sender_say_so(files_desk):
    """Kept (nothing is lost), but an agent sees the sender was not authenticated."""
    message = with_files(mail(JO, "Invoice attached", "Please pay.", authenticated=False),
                         png(8, seed=25))
    answer = await files_desk.http.post("/v1/email/inbound", content=bytes(message),
                                        headers=GATEWAY)
    assert answer.status_code == 202 and answer.json()["sender_authenticated"] is False
    listed = await files_of(files_desk, answer.json()["ticket_id"])
    assert {f["by"] for f in listed} == {f"email (sender not authenticated):{JO}"}
