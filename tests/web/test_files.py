"""Files on tickets over real HTTP, kept in a real S3 server (SeaweedFS on loopback),
sealed with the desk's keys (issue 21)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import select
import socket
import zlib

import httpx
import obstore
import pytest

from desk.files import held_files
from domain.attachments import object_key
from tests.conftest import file_settings, isolated, running_desk
from tests.peers import RefusingPort
from tests.web.helpers import incident_body

pytestmark = pytest.mark.devserver
# What the kernel may hold between the test's socket and the server's (loopback buffers).
SOCKET_SLACK = 8 * 1024 * 1024


def png(width: int = 4, seed: int = 0) -> bytes:
    """A small valid PNG (distinct per seed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    rows = b"".join(b"\x00" + bytes([seed % 256, 0, 0]) * width for _ in range(width))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def open_ticket(desk, client: str = "belton", role: str = "requester") -> str:
    made = await desk.http.post("/v1/incidents", json=incident_body(),
                                headers=desk.as_(client, role))
    assert made.status_code == 201, made.text
    return made.json()["ticket_id"]


async def upload(desk, ticket: str, name: str, data: bytes, declared: str = "text/plain",
                 client: str = "belton", role: str = "requester", raw: bool = False):
    """A form upload (the part 'file'), or with ``raw`` the file as the whole body, named
    by ?name= (its length then known exactly: it goes to the store in one streamed PUT)."""
    if raw:
        return await desk.http.post(f"/v1/tickets/{ticket}/attachments", content=data,
                                    params={"name": name},
                                    headers={**desk.as_(client, role), "Content-Type": declared})
    return await desk.http.post(f"/v1/tickets/{ticket}/attachments",
                                files={"file": (name, data, declared)},
                                headers=desk.as_(client, role))


BODIES = pytest.mark.parametrize("raw", [False, True], ids=["form", "raw"])


async def _note(seen: list, request: httpx.Request) -> None:
    seen.append((request.method, request.headers.get("content-length")))


async def stored_objects(desk, client_id: str) -> list[str]:
    """The client's sealed files in the bucket (the objects holding bytes)."""
    store = desk.state.files.store
    return [m["path"] for m in await obstore.list(
        store, prefix=f"{client_id}/data/").collect_async()]


async def sealed_bytes(desk, client_id: str, sha256: str) -> bytes:
    """What the bucket holds for a file: its content address names the sealed object."""
    store = desk.state.files.store
    address = await obstore.get_async(store, object_key(client_id, sha256))
    data = bytes(await address.bytes_async()).decode()
    assert data.startswith(f"{client_id}/data/")
    return bytes(await (await obstore.get_async(store, data)).bytes_async())


@BODIES
async def test_a_file_is_kept_sealed_listed_and_downloaded_byte_identical(files_desk, raw,
                                                                          caplog):
    desk = files_desk
    ticket = await open_ticket(desk)
    image = png(64)
    streamed = []  # the PUTs sent to the store whole (a raw body: its length is known)
    # Noted by the desk's own client (its limits and trust store, as served).
    desk.state.files.http.event_hooks["request"].append(
        lambda request: _note(streamed, request))
    caplog.set_level(logging.INFO)
    # The sender says text/plain; the desk reads the bytes and records a PNG.
    made = await upload(desk, ticket, "../../screen shot.png", image, raw=raw)
    assert made.status_code == 201, made.text
    sealed = desk.state.files.sealer.sealed_size(len(image))
    assert streamed == ([("PUT", str(sealed))] if raw else [])  # forms go up in parts
    # The URL the store's client signed was logged without its signature.
    assert not [r for r in caplog.records if "X-Amz-Signature" in r.getMessage()]
    file = made.json()
    sha = hashlib.sha256(image).hexdigest()
    assert (file["sha256"], file["content_type"], file["size"]) == (sha, "image/png", len(image))
    assert file["name"] == "screen shot.png" and file["channel"] == "api"
    assert file["by"] == "requester:belton-requester"

    listed = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                 headers=desk.as_("belton", "agent"))
    assert [a["sha256"] for a in listed.json()["attachments"]] == [sha]
    view = (await desk.http.get(f"/v1/tickets/{ticket}", headers=desk.as_("belton",
                                                                            "agent"))).json()
    assert [a["sha256"] for a in view["attachments"]] == [sha]
    assert any(e["kind"] == "file_attached" and "screen shot.png" in e["detail"]
               for e in view["events"])

    got = await desk.http.get(f"/v1/tickets/{ticket}/attachments/{sha}",
                              headers=desk.as_("belton", "agent"))
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"

    # In the bucket: one object under the client's content address, and not the file.
    client_id = desk.client_id("belton")
    assert len(await stored_objects(desk, client_id)) == 1
    raw = await sealed_bytes(desk, client_id, sha)
    assert raw != image and image[:8] not in raw and len(raw) > len(image)


async def test_the_same_file_twice_is_stored_once_per_client(files_desk):
    desk = files_desk
    image = png(8, seed=1)
    first, second = await open_ticket(desk), await open_ticket(desk)
    for ticket in (first, second):
        assert (await upload(desk, ticket, "a.png", image)).status_code == 201
    assert (await upload(desk, first, "again.png", image)).status_code == 201
    listed = await desk.http.get(f"/v1/tickets/{first}/attachments",
                                 headers=desk.as_("belton", "agent"))
    assert len(listed.json()["attachments"]) == 1  # the ticket lists it once
    assert len(await stored_objects(desk, desk.client_id("belton"))) == 1
    # Another client's identical file is its own object: no key is shared across clients.
    other = await open_ticket(desk, "plexacet")
    assert (await upload(desk, other, "a.png", image, client="plexacet")).status_code == 201
    assert len(await stored_objects(desk, desk.client_id("plexacet"))) == 1


async def test_another_clients_credential_gets_404_as_for_a_missing_ticket(files_desk):
    desk = files_desk
    ticket = await open_ticket(desk)
    image = png(8, seed=2)
    sha = hashlib.sha256(image).hexdigest()
    assert (await upload(desk, ticket, "a.png", image)).status_code == 201
    missing = ticket[:-6] + "999999"
    for path in (f"/v1/tickets/{ticket}/attachments",
                 f"/v1/tickets/{ticket}/attachments/{sha}"):
        theirs = await desk.http.get(path, headers=desk.as_("plexacet", "agent"))
        nothing = await desk.http.get(path.replace(ticket, missing),
                                      headers=desk.as_("belton", "agent"))
        assert theirs.status_code == nothing.status_code == 404
        assert theirs.json()["detail"].replace(ticket, "X") == \
            nothing.json()["detail"].replace(missing, "X")
    posted = await upload(desk, ticket, "b.png", png(8, seed=3), client="plexacet")
    assert posted.status_code == 404
    # A file the ticket does not list is 404 too, even if the client stored it elsewhere.
    assert (await desk.http.get(f"/v1/tickets/{ticket}/attachments/{'0' * 64}",
                                headers=desk.as_("belton", "agent"))).status_code == 404


async def test_a_page_or_script_is_served_as_a_plain_download(files_desk):
    desk = files_desk
    ticket = await open_ticket(desk)
    page = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
    made = await upload(desk, ticket, "invoice.html", page, declared="image/png")
    assert made.status_code == 201 and made.json()["content_type"] == "text/html"
    got = await desk.http.get(f"/v1/tickets/{ticket}/attachments/{made.json()['sha256']}",
                              headers=desk.as_("belton", "requester"))
    assert got.content == page
    assert got.headers["content-type"] == "application/octet-stream"
    assert "sandbox" in got.headers["content-security-policy"]


async def test_limits_per_ticket_are_refused_and_nothing_half_written(dev_client, config,
                                                                       task_queue, local_s3):
    base = isolated(config)
    small = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_file_bytes": 64 * 1024,
                                            "max_files_per_ticket": 2})})
        for c in base.clients]})
    async with running_desk(dev_client, small, file_settings(
            local_s3, task_queue=task_queue)) as desk:
        ticket = await open_ticket(desk)
        too_big = await upload(desk, ticket, "big.bin", os.urandom(64 * 1024 + 1))
        assert too_big.status_code == 413, too_big.text
        assert "max_file_bytes" in too_big.text
        for seed in (4, 5):
            assert (await upload(desk, ticket, "a.png", png(8, seed=seed))).status_code == 201
        third = await upload(desk, ticket, "c.png", png(8, seed=6))
        assert third.status_code == 422 and "max_files_per_ticket" in third.text
        listed = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                     headers=desk.as_("belton", "agent"))
        assert len(listed.json()["attachments"]) == 2
        # Neither refused file is left in the store (nor in its staging area).
        store = desk.state.files.store
        everything = [m["path"] for m in await obstore.list(store).collect_async()]
        client_id = desk.client_id("belton")
        assert not [p for p in everything if p.startswith(f"staging/{client_id}/")]
        assert len([p for p in everything if p.startswith(f"{client_id}/data/")]) == 2


def _send_until_answered(port: int, path: str, key: str, total: int, chunk: int,
                         chunked: bool) -> tuple[int, bytes]:
    """Stream ``total`` bytes as one raw upload in ``chunk``-byte writes (with its length
    declared, or chunked without one), stopping as soon as the server answers: (bytes of
    the file sent by then, the answer's first bytes)."""
    framing = ("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, chunk)
        sock.sendall((f"POST {path}?name=big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {key}\r\nContent-Type: application/octet-stream"
                      f"\r\n{framing}\r\n\r\n").encode())
        block = b"\0" * chunk
        if chunked:
            block = f"{chunk:x}\r\n".encode() + block + b"\r\n"
        sent = 0
        sock.settimeout(0.5)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(block)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += chunk
        sock.settimeout(10)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while not _whole(answer) and (got := sock.recv(4096)):  # its head and detail
                answer += got
        return sent, answer


def _whole(answer: bytes) -> bool:
    """Whether ``answer`` holds an HTTP response's head and all of its body."""
    head, found, body = answer.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), None)
    return bool(found) and length is not None and len(body) >= length


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
async def test_an_oversized_stream_is_refused_before_it_is_read_in_full(
        dev_client, config, task_queue, local_s3, chunked):
    """200 MB streamed at a 1 MiB limit: the 413 arrives long before the body ends. A
    declared length is refused before a byte is read; a chunked body once the limit (plus
    the chunk in hand) is read - give or take what the loopback sockets buffer."""
    limit = 1024 * 1024
    base = isolated(config)
    small = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_file_bytes": limit})}) for c in base.clients]})
    async with running_desk(dev_client, small, file_settings(
            local_s3, task_queue=task_queue)) as desk:
        ticket = await open_ticket(desk)
        port = int(desk.base_url.rsplit(":", 1)[1])
        total = 200 * 1024 * 1024
        sent, answer = await asyncio.to_thread(
            _send_until_answered, port, f"/v1/tickets/{ticket}/attachments",
            "td_belton_requester_demo", total, 64 * 1024, chunked)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert sent <= limit + 64 * 1024 + SOCKET_SLACK, sent
        listed = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                     headers=desk.as_("belton", "agent"))
        assert listed.json()["attachments"] == []


async def test_a_file_over_the_tickets_room_is_refused_while_it_streams(
        dev_client, config, task_queue, local_s3):
    """The ticket is asked what it holds while the first bytes are stored: once it has
    answered, a stream that would take the ticket past its total is refused (413 naming
    max_ticket_bytes) long before the body ends, and nothing of it is kept."""
    base = isolated(config)
    roomy = base.model_copy(update={"clients": [c.model_copy(update={
        "files": c.files.model_copy(update={"max_file_bytes": 300 * 1024 * 1024,
                                            "max_ticket_bytes": 2 * 1024 * 1024})})
        for c in base.clients]})
    async with running_desk(dev_client, roomy, file_settings(
            local_s3, task_queue=task_queue)) as desk:
        ticket = await open_ticket(desk)
        first = await upload(desk, ticket, "log.bin", os.urandom(1536 * 1024))
        assert first.status_code == 201, first.text
        port = int(desk.base_url.rsplit(":", 1)[1])
        for chunked in (False, True):
            sent, answer = await asyncio.to_thread(
                _send_until_answered, port, f"/v1/tickets/{ticket}/attachments",
                "td_belton_requester_demo", 200 * 1024 * 1024, 64 * 1024, chunked)
            assert answer.startswith(b"HTTP/1.1 413"), answer
            assert b"max_ticket_bytes" in answer, answer
            assert sent < 100 * 1024 * 1024, sent  # long before the body's end
        listed = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                     headers=desk.as_("belton", "agent"))
        assert [a["name"] for a in listed.json()["attachments"]] == ["log.bin"]
        store = desk.state.files.store
        everything = [m["path"] for m in await obstore.list(store).collect_async()]
        assert len([p for p in everything
                    if p.startswith(f"{desk.client_id('belton')}/data/")]) == 1


@BODIES
async def test_the_file_is_stored_while_the_ticket_is_asked(files_desk, raw, monkeypatch):
    """The ticket's question (what it holds) does not stand before the upload: the file's
    bytes are already being sealed for the store while the ticket has not answered. (Ask
    first, then store, and the held answer below is never given: the upload fails.)"""
    desk = files_desk
    ticket = await open_ticket(desk)
    sealer = desk.state.files.sealer
    storing = asyncio.Event()
    seal = sealer.seal

    def noted_seal(chunks, *args, **kwargs):
        async def noted():
            async for chunk in chunks:
                storing.set()
                yield chunk
        return seal(noted(), *args, **kwargs)

    async def held_files_late(ref):
        async with asyncio.timeout(10):  # held back until the store has the first bytes
            await storing.wait()
        return await held_files(ref)

    monkeypatch.setattr(sealer, "seal", noted_seal)
    monkeypatch.setattr("desk.files.held_files", held_files_late)
    made = await upload(desk, ticket, "log.bin", os.urandom(3 * 1024 * 1024), raw=raw)
    assert made.status_code == 201, made.text


def _upload_held_open(port: int, path: str, key: str) -> socket.socket:
    """A raw upload that announces 1 MiB and sends one byte: in flight until closed."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall((f"POST {path}?name=slow.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Authorization: Bearer {key}\r\nContent-Type: application/octet-stream"
                  "\r\nContent-Length: 1048576\r\n\r\nx").encode())
    return sock


async def test_one_credential_has_only_so_many_uploads_in_flight(files_desk):
    """Slow uploads cannot pile up behind one key: past the cap the next is 429 with
    Retry-After (before a byte of it is read), another key is not held up, and a slot
    comes back when an upload ends."""
    desk = files_desk
    ticket = await open_ticket(desk)
    port = int(desk.base_url.rsplit(":", 1)[1])
    slots = desk.state.uploads
    assert slots.per_credential == 8  # the default docs/configuration.md gives
    path = f"/v1/tickets/{ticket}/attachments"
    held = [_upload_held_open(port, path, "td_belton_requester_demo")
            for _ in range(slots.per_credential)]
    try:
        async with asyncio.timeout(30):
            while sum(slots._busy.values()) < slots.per_credential:
                await asyncio.sleep(0.05)
        over = await upload(desk, ticket, "one-more.png", png(8, seed=9), raw=True)
        assert over.status_code == 429, over.text
        assert int(over.headers["Retry-After"]) >= 1
        agent = await upload(desk, ticket, "theirs.png", png(8, seed=10), role="agent")
        assert agent.status_code == 201, agent.text
        held.pop().close()
        async with asyncio.timeout(30):
            while sum(slots._busy.values()) >= slots.per_credential:
                await asyncio.sleep(0.05)
        again = await upload(desk, ticket, "one-more.png", png(8, seed=9), raw=True)
        assert again.status_code == 201, again.text
    finally:
        for sock in held:
            sock.close()


@contextlib.asynccontextmanager
async def store_down_desk(dev_client, config, task_queue: str, local_s3):
    """A desk whose object store refuses every connection."""
    refusing = RefusingPort()
    settings = file_settings(local_s3, task_queue=task_queue).model_copy(
        update={"s3_endpoint": f"http://127.0.0.1:{refusing.port}"})
    try:
        async with running_desk(dev_client, isolated(config), settings) as desk:
            yield desk
    finally:
        refusing.release()


@BODIES
async def test_storage_down_is_a_503_to_retry_and_the_ticket_stays_whole(dev_client, config,
                                                                        task_queue, local_s3,
                                                                        raw):
    async with store_down_desk(dev_client, config, task_queue, local_s3) as desk:
        ticket = await open_ticket(desk)
        made = await upload(desk, ticket, "a.png", png(8, seed=7), raw=raw)
        assert made.status_code == 503, made.text
        assert int(made.headers["Retry-After"]) >= 1
        assert made.headers["content-type"] == "application/problem+json"
        listed = await desk.http.get(f"/v1/tickets/{ticket}/attachments",
                                     headers=desk.as_("belton", "agent"))
        assert listed.status_code == 200 and listed.json()["attachments"] == []


async def test_files_follow_a_merged_duplicate(files_desk):
    desk = files_desk
    older = await open_ticket(desk)
    image = png(8, seed=8)
    assert (await upload(desk, older, "from-the-duplicate.png", image)).status_code == 201
    newer = await open_ticket(desk)
    merged = await desk.http.post(f"/v1/tickets/{older}/merge", json={"survivor": newer},
                                  headers=desk.as_("belton", "agent"))
    assert merged.status_code == 200, merged.text
    listed = (await desk.http.get(f"/v1/tickets/{newer}/attachments",
                                  headers=desk.as_("belton", "agent"))).json()["attachments"]
    assert [(a["name"], a["channel"]) for a in listed] == [("from-the-duplicate.png", "merge")]
    got = await desk.http.get(f"/v1/tickets/{newer}/attachments/{listed[0]['sha256']}",
                              headers=desk.as_("belton", "requester"))
    assert got.content == image
    # The duplicate has ended and let go of its files; the survivor holds this one.
    store = desk.state.files.store
    held = [m["path"] for m in await obstore.list(
        store, prefix=f"refs/{desk.client_id('belton')}/").collect_async()]
    assert newer in [p.split("/")[-2] for p in held]  # refs/<client>/<sha>/<ticket>/<try>
    assert await desk.state.files.exists(desk.client_id("belton"), listed[0]["sha256"])


async def stage(desk, data: bytes, name: str, client: str = "belton", role: str = "requester"):
    return await desk.http.post("/v1/attachments", files={"file": (name, data, "text/plain")},
                                headers=desk.as_(client, role))


async def test_files_uploaded_first_join_the_ticket_they_are_named_in(files_desk):
    desk = files_desk
    shot, log = png(8, seed=9), b"2026-12-06 10:00:01 ERROR printer spooler stopped\n" * 50
    staged = [await stage(desk, shot, "shot.png"), await stage(desk, log, "spooler.log")]
    assert [s.status_code for s in staged] == [201, 201], staged[0].text
    uploads = [s.json()["upload"] for s in staged]
    assert staged[0].json()["content_type"] == "image/png"
    made = await desk.http.post("/v1/incidents", json=incident_body(uploads=uploads),
                                headers=desk.as_("belton", "requester"))
    assert made.status_code == 201, made.text
    files = made.json()["attachments"]
    assert [(f["name"], f["content_type"]) for f in files] == [
        ("shot.png", "image/png"), ("spooler.log", "text/plain")]
    got = await desk.http.get(f"/v1/tickets/{made.json()['ticket_id']}/attachments/"
                              f"{files[1]['sha256']}", headers=desk.as_("belton", "agent"))
    assert got.content == log
    # A service request takes them the same way.
    third = (await stage(desk, png(8, seed=10), "form.png")).json()["upload"]
    request = await desk.http.post("/v1/service-requests", headers=desk.as_(
        "belton", "requester"), json={
            "subject": "New starter needs a monitor", "type": "basic", "change": "add",
            "requester": {"name": "Jo Tran", "email": "jo.tran@harbourside.example"},
            "uploads": [third]})
    assert request.status_code == 201, request.text
    assert [f["name"] for f in request.json()["attachments"]] == ["form.png"]


async def test_an_upload_is_one_clients_and_a_forged_one_is_refused_before_any_ticket(
        files_desk):
    desk = files_desk
    theirs = (await stage(desk, png(8, seed=11), "p.png", client="plexacet")).json()["upload"]
    forged = theirs[:-4] + ("AAAA" if not theirs.endswith("AAAA") else "BBBB")
    for bad, why in ((theirs, "not an upload of this client"), (forged, "signature")):
        made = await desk.http.post("/v1/incidents", json=incident_body(uploads=[bad]),
                                    headers=desk.as_("belton", "requester"))
        assert made.status_code == 422, made.text
        assert made.json()["errors"][0]["field"] == "uploads[0]" and why in made.text
    listed = await desk.http.get("/v1/tickets", headers=desk.as_("belton", "agent"))
    assert listed.json()["tickets"] == []  # nothing was opened
