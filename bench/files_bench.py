"""Ticket files: upload and download throughput through the API against a bare client's
put/get to the same S3 server, in one run; and the API process's peak memory during
parallel uploads.

    .venv/bin/python bench/files_bench.py [--mib 25] [--rounds 5] [--parallel 10]

One SeaweedFS (`weed mini`, loopback), one in-memory Temporal dev server, one
`tempodesk worker` and two `tempodesk api` processes. Bare: obstore's put (multipart, in
256 KiB pieces, with the desk's own client options: no payload hash) and streamed get of
the same bytes, no sealing. API: POST /v1/tickets/{id}/attachments, through sealing,
hashing and the ticket's update, as a raw body (its length is the file's: one streamed
PUT to the store) and as a multipart/form-data form, as browsers send files (the file's
length is known only at its end: multipart parts); GET .../attachments/{sha256} twice:
from the replica that took the upload (it knows the ticket lists the file) and from the
other one (which asks the ticket first, as any replica does the first time). Each round
uses new random bytes (the store keeps one object per content). Then --parallel uploads
at once, raw and as forms, the API's RSS sampled every 20 ms: what an upload holds is
its pieces or parts in flight, not its file. CPU per MiB: the API process's and its
client's for the API, the bench's own for bare, and the S3 server's for each (on two
cores it is most of the machine: whatever the API spends is taken from it); and the CPU
ratio, bare over API, of every process's CPU: where the cores are the bottleneck the
throughput ratio comes to it. And, for scale, the same bytes through a relay
(bench/relay.py: the API's server and transfer code, with no credential, sealing,
hashing, ticket or limits): what the second hop alone costs on this machine, so the
distance between it and the API is what the desk's own work costs; and the bytes
through it sealed and hashed on the way up, opened on the way down (all the desk's
work but the ticket's and the request's).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import obstore
import psutil
from obstore.store import S3Store
from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from activities.file_store import PUT_CONCURRENCY, part_bytes  # noqa: E402
from domain import search_attributes as sa  # noqa: E402
from local_s3 import LocalS3  # noqa: E402
from tests.processes import (  # noqa: E402
    api,
    child_env,
    drill_config,
    free_port,
    stop_process,
    worker,
)

BIN = Path(sys.executable).parent
PIECE = 256 * 1024
KEY = "td_belton_requester_demo"
AUTH = {"Authorization": f"Bearer {KEY}"}
INCIDENT = {"subject": "Files bench", "doing": "benching", "expected": "fast",
            "actual": "measuring", "tried": "nothing", "impact": "low", "urgency": "low",
            "technical_contact": {"name": "Jo", "email": "jo@harbourside.example"}}


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start:start + PIECE]


async def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Round:
    """One round's wall-clock seconds and CPU seconds, for the upload and the download: of
    the process doing the work (the bench itself for bare, the API process for the API),
    of the S3 server, and of the bench as the API's client (bare: none)."""

    def __init__(self, process: psutil.Process, server: psutil.Process,
                 client: psutil.Process | None = None) -> None:
        self.watched = {"cpu": process, "store_cpu": server, "client_cpu": client}
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.store_cpu: dict[str, float] = {}
        self.client_cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def timing(self, what: str) -> Iterator[None]:
        began = time.perf_counter()
        cpu = {name: cpu_seconds(p) if p else 0.0 for name, p in self.watched.items()}
        yield
        self.wall[what] = time.perf_counter() - began
        for name, process in self.watched.items():
            getattr(self, name)[what] = (cpu_seconds(process) if process else 0.0) - cpu[name]

    def total_cpu(self, what: str) -> float:
        """Every process's CPU seconds for ``what``: on a machine the work saturates, the
        time it takes is this over the cores."""
        return self.cpu[what] + self.store_cpu[what] + self.client_cpu[what]


async def bare_round(store: S3Store, data: bytes, s3_process: psutil.Process) -> Round:
    path = f"bare/{uuid.uuid4().hex}"
    measured = Round(psutil.Process(), s3_process)
    with measured.timing("up"):
        await obstore.put_async(store, path, pieces(data))
    with measured.timing("down"):
        got = await obstore.get_async(store, path)
        size = 0
        async for chunk in got.stream(min_chunk_size=PIECE):
            size += len(chunk)
    assert size == len(data)
    await obstore.delete_async(store, path)
    return measured


BOUNDARY = "tempodesk-bench-boundary"


async def http_upload(port: int, path: str, data: bytes, form: bool = False) -> dict:
    """POST ``data`` over one connection, handed to the kernel whole (a lean client: httpx,
    or even a StreamWriter's pieces, spend more CPU per MiB than the API does, and on 2
    cores that would be measured instead): as a raw body (its length is the file's: the
    API streams it to the store in one PUT), or with ``form`` as the part 'file' of a
    multipart/form-data body, as a browser sends it (the file's length is not known
    until its end: the API sends it in multipart parts)."""
    loop = asyncio.get_running_loop()
    if form:
        before = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
                  'filename="f.bin"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        after = f"\r\n--{BOUNDARY}--\r\n".encode()
        kind, length = f"multipart/form-data; boundary={BOUNDARY}", len(before + after)
    else:
        before = after = b""
        kind, length = "application/octet-stream", 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setblocking(False)
        await loop.sock_sendall(sock, (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: {kind}\r\nContent-Length: {length + len(data)}\r\n"
            "Connection: close\r\n\r\n").encode() + before)
        await loop.sock_sendall(sock, memoryview(data))
        await loop.sock_sendall(sock, after)
        answer = b""
        while chunk := await loop.sock_recv(sock, 65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert int(head.split(b" ", 2)[1]) == 201, answer[:300]
    return json.loads(body)


async def http_download(port: int, path: str, size: int) -> None:
    """GET ``path`` and read the body into one reused buffer (the lean client again: a
    StreamReader copies each piece twice, and that would be measured as the API's)."""
    loop = asyncio.get_running_loop()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setblocking(False)
        await loop.sock_sendall(sock, (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       f"Authorization: Bearer {KEY}\r\n"
                                       "Connection: close\r\n\r\n").encode())
        buffer = bytearray(2 ** 20)
        view = memoryview(buffer)
        head = b""
        while b"\r\n\r\n" not in head:
            got = await loop.sock_recv_into(sock, view)
            assert got, head
            head += bytes(view[:got])
        head, _, body = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        assert status == 200 and length == size, head
        received = len(body)
        while received < size:
            got = await loop.sock_recv_into(sock, view)
            assert got, f"closed after {received} of {size} bytes"
            received += got


async def api_round(port: int, ticket: str, data: bytes, api_process: psutil.Process,
                    s3_process: psutil.Process,
                    other: tuple[int, psutil.Process] | None = None,
                    form: bool = False) -> tuple[Round, Round]:
    """An upload (raw, or as a ``form``) and a download through one API replica (which
    took the upload, so it knows the ticket lists the file), then a download of the same
    file through ``other`` (a replica that has not seen it listed, so it asks the ticket
    first)."""
    measured = Round(api_process, s3_process, psutil.Process())
    with measured.timing("up"):
        made = await http_upload(port, f"/v1/tickets/{ticket}/attachments?name=f.bin", data,
                                 form)
    path = f"/v1/tickets/{ticket}/attachments/{made['sha256']}"
    with measured.timing("down"):
        await http_download(port, path, len(data))
    elsewhere = Round(other[1] if other else api_process, s3_process, psutil.Process())
    if other is not None:
        with elsewhere.timing("down"):
            await http_download(other[0], path, len(data))
    return measured, elsewhere


async def relay_round(port: int, data: bytes, relay: psutil.Process,
                      s3_process: psutil.Process) -> tuple[Round, Round]:
    """The same bytes up and down through the relay (bench/relay.py): the second hop
    alone; and up and down again, sealed and hashed on the way up and opened on the way
    down (the second hop and sealing)."""
    measured = Round(relay, s3_process, psutil.Process())
    path = f"/relay/{uuid.uuid4().hex}"
    with measured.timing("up"):
        await http_upload(port, path, data)
    with measured.timing("down"):
        await http_download(port, path, len(data))
    sealed = Round(relay, s3_process, psutil.Process())
    path = f"/sealed/{uuid.uuid4().hex}"
    with sealed.timing("up"):
        await http_upload(port, path, data)
    with sealed.timing("down"):
        await http_download(port, f"{path}?size={len(data)}", len(data))
    return measured, sealed


async def quiet(process: psutil.Process, timeout: float = 30) -> None:
    """Wait until ``process`` has spent no CPU for half a second (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    spent = cpu_seconds(process)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = cpu_seconds(process)
        if now == spent:
            return
        spent = now


async def peak_rss_during(pid: int, work) -> tuple[int, int]:
    """(RSS before, peak RSS while ``work`` runs) of process ``pid``, in bytes."""
    process = psutil.Process(pid)
    before = process.memory_info().rss
    peak = before
    task = asyncio.ensure_future(work)
    while not task.done():
        peak = max(peak, process.memory_info().rss)
        await asyncio.sleep(0.02)
    await task
    return before, peak


def mib(rate_bytes: float) -> str:
    return f"{rate_bytes / 1024 / 1024:,.1f} MiB/s"


async def main(args: argparse.Namespace) -> None:
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp, LocalS3(Path(tmp) / "s3") as s3:
        workdir = Path(tmp)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"), search_attributes=sa.ALL_KEYS)
        config, _, _ = drill_config(workdir / "bench.yaml")
        key = base64.b64encode(os.urandom(32)).decode()
        extra = {"TEMPODESK_S3_BUCKET": s3.bucket, "TEMPODESK_S3_ENDPOINT": s3.endpoint,
                 "TEMPODESK_S3_ACCESS_KEY_ID": "local", "TEMPODESK_S3_SECRET_ACCESS_KEY": "local",
                 "TEMPODESK_CODEC_KEYS": json.dumps({"bench": key}),
                 "TEMPODESK_CODEC_KEY_ID": "bench"}
        child = child_env(env.client.service_client.config.target_host, "files-bench",
                          config, **extra)
        workers = worker(child, workdir / "worker.log")
        server = api(child, workdir / "api.log")
        replica = api(child, workdir / "api-2.log")
        relay_port = free_port()
        with open(workdir / "relay.log", "wb") as log:
            relay = subprocess.Popen([sys.executable, str(REPO / "bench" / "relay.py"),
                                      str(relay_port)], env=child, stdout=log,
                                     stderr=subprocess.STDOUT)
        try:
            server.wait_healthy()
            replica.wait_healthy()
            await wait_listening(relay_port)
            s3_process = psutil.Process(s3.process.pid)
            # The bare client has the desk's own client options (no payload hash).
            store = S3Store(s3.bucket, endpoint=s3.endpoint, access_key_id="local",
                            secret_access_key="local", region="us-east-1",
                            client_options={"allow_http": True}, unsigned_payload=True)
            async with httpx.AsyncClient(base_url=server.base, timeout=300) as http:
                async def new_ticket() -> str:
                    made = await http.post("/v1/incidents", headers=AUTH, json=INCIDENT)
                    assert made.status_code == 201, made.text
                    return made.json()["ticket_id"]

                api_process = psutil.Process(server.process.pid)
                other = (replica.port, psutil.Process(replica.process.pid))
                # The rounds' tickets are opened first, and the worker left to finish what an
                # intake sets off (its notices): otherwise that work would share the cores
                # with the API's uploads and be counted against them.
                tickets = iter([await new_ticket() for _ in range(2 * args.rounds)])
                await quiet(psutil.Process(workers.process.pid))
                bare, through, elsewhere, forms, relayed, sealed = [], [], [], [], [], []
                for _ in range(args.rounds):  # interleaved: the machine's drift hits all
                    bare.append(await bare_round(store, os.urandom(size), s3_process))
                    alone, with_sealing = await relay_round(
                        relay_port, os.urandom(size), psutil.Process(relay.pid), s3_process)
                    relayed.append(alone)
                    sealed.append(with_sealing)
                    here, there = await api_round(server.port, next(tickets),
                                                  os.urandom(size), api_process, s3_process,
                                                  other)
                    through.append(here)
                    elsewhere.append(there)
                    form, _ = await api_round(server.port, next(tickets),
                                              os.urandom(size), api_process, s3_process,
                                              form=True)
                    forms.append(form)
                # Parallel uploads, each on a ticket of its own (a ticket's file limits).
                parallel = {}
                for as_form in (False, True):
                    tickets = [await new_ticket() for _ in range(args.parallel)]
                    datas = [os.urandom(size) for _ in tickets]
                    began = time.perf_counter()
                    before, peak = await peak_rss_during(server.process.pid, asyncio.gather(*(
                        api_round(server.port, t, d, api_process, s3_process, form=as_form)
                        for t, d in zip(tickets, datas, strict=True))))
                    parallel[as_form] = (time.perf_counter() - began, before, peak)
        finally:
            stop_process(relay)
            replica.stop()
            server.stop()
            workers.stop()
            await env.shutdown()
    def rate(rounds: list[Round], what: str) -> float:
        return statistics.median(size / r.wall[what] for r in rounds)

    def cpu_per_mib(rounds: list[Round], what: str, of: str = "cpu") -> float:
        """The mean (CPU time is counted in 10 ms ticks: a median of rounds is too coarse)."""
        return sum(getattr(r, of)[what] for r in rounds) * 1000 / args.mib / len(rounds)

    print(f"{args.mib} MiB file, {args.rounds} rounds each (median; load "
          f"{os.getloadavg()[0]:.1f}):")
    for what, label, rounds in (
            ("up", "upload", through), ("up", "upload as a form", forms),
            ("up", "upload, the second hop alone", relayed),
            ("up", "upload, second hop and sealing", sealed),
            ("down", "download", through), ("down", "download, another replica", elsewhere),
            ("down", "download, the second hop alone", relayed),
            ("down", "download, second hop and opening", sealed)):
        api_rate, bare_rate = rate(rounds, what), rate(bare, what)
        # The API's side does all the bare side does (the store's work, a client's) and
        # more (a second hop, hashing, sealing). When the cores are the bottleneck, as
        # with the store on the same two cores, the throughput ratio comes to the ratio
        # of the two sides' whole CPU (all processes), and cannot pass it for long.
        cpu_ratio = (sum(r.total_cpu(what) for r in bare)
                   / sum(r.total_cpu(what) for r in rounds) * len(rounds) / len(bare))
        who = "relay" if rounds is relayed or rounds is sealed else "API"
        print(f"  {label + ':':<32} {who} {mib(api_rate):>12}  bare {mib(bare_rate):>12}  "
              f"ratio {api_rate / bare_rate:.2f} (target >= 0.80; CPU ratio "
              f"{cpu_ratio:.2f})\n      CPU: {who} process {cpu_per_mib(rounds, what):.2f} "
              f"ms/MiB, its client {cpu_per_mib(rounds, what, 'client_cpu'):.2f}, bare "
              f"client {cpu_per_mib(bare, what):.2f}; S3 server "
              f"{cpu_per_mib(rounds, what, 'store_cpu'):.2f} and "
              f"{cpu_per_mib(bare, what, 'store_cpu'):.2f} ms/MiB")
    # What a form upload holds: the part being filled and the parts in flight to the
    # store; a raw one (streamed in one PUT) holds a few 1 MiB pieces being sealed,
    # hashed and sent.
    part_bound = part_bytes(size) * (PUT_CONCURRENCY + 1)
    for as_form, (seconds, before, peak) in parallel.items():
        print(f"{args.parallel} {'form' if as_form else 'raw'} uploads of {args.mib} MiB at "
              f"once ({seconds:.1f} s): API RSS {before / 2**20:,.0f} MiB before, peak "
              f"{peak / 2**20:,.0f} MiB (+{(peak - before) / 2**20:,.0f} MiB, "
              f"{(peak - before) / args.parallel / 2**20:,.1f} MiB an upload of a "
              f"{args.mib} MiB file" + (f"; part x (in flight + filling) = "
                                        f"{part_bound / 2**20:,.1f} MiB)" if as_form else ")"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
