"""Real processes for drills and benches: a Temporal dev server on a SQLite file that can be
SIGKILLed and restarted on the same port and file, `tempodesk worker` / `tempodesk api`
subprocesses, and a keep-alive HTTP lane that fires intakes until each one succeeds.

Bench scripts import this too (with the repository on sys.path), so nothing here depends on
pytest."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.peers import free_port
from tests.tags import unique_tag

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPODESK = str(BIN / "tempodesk")
DEMO_CONFIG = REPO / "tempodesk.yaml"

INCIDENT = {
    "subject": "Whole office cannot send e-mail", "doing": "Sending a quote",
    "expected": "Delivered", "actual": "550 relay denied", "tried": "Restarted Outlook",
    "technical_contact": {"name": "Jo Tran", "email": "jo@harbourside.example"},
    "impact": "high", "urgency": "high",
}
BELTON_REQUESTER = {"Authorization": "Bearer td_belton_requester_demo"}


def drill_config(path: Path, tag: str | None = None) -> tuple[Path, str, str]:
    """The demo config with every client id and ticket prefix made unique by ``tag`` (runs
    sharing a server never share a sequence) and the rate limits lifted (drills fire fast).
    Returns the file, Belton's client id and Belton's ticket prefix."""
    tag = (tag or unique_tag()).lower()
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    for client in raw["clients"]:
        client["id"] += f"-{tag}"
        client["ticket_prefix"] += tag.upper()
    for key in raw.get("staff", []):
        if key.get("clients"):
            key["clients"] = [f"{c}-{tag}" for c in key["clients"]]
    raw["rate_limits"] = {"requester": "100000/s", "agent": "100000/s"}
    raw["uploads_in_flight"] = 100  # drills and benches send many files at once
    path.write_text(yaml.safe_dump(raw))
    belton = next(c for c in raw["clients"] if c["ticket_prefix"].startswith("BEL"))
    return path, belton["id"], belton["ticket_prefix"]


class DevServer:
    """`temporal server start-dev` on a SQLite file (as `tempodesk dev` starts it), on a
    fixed port so a restart after a SIGKILL comes back at the same address."""

    def __init__(self, data_dir: Path) -> None:
        from domain.settings import Settings

        self.port = free_port()
        self.settings = Settings(_env_file=None, temporal_address=f"127.0.0.1:{self.port}",
                                 ui_port=free_port(), data_dir=data_dir)
        self.address = self.settings.temporal_address
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> float:
        """Start and wait until it answers; the seconds that took."""
        from dev_stack import start_dev_server

        began = time.monotonic()
        self.process = start_dev_server(self.settings)
        deadline = began + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"dev server exited {self.process.returncode}: "
                                   f"{self.log_tail()}")
            with (contextlib.suppress(OSError),
                  socket.create_connection(("127.0.0.1", self.port), timeout=0.5)):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"dev server not listening after {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - began

    def kill(self) -> None:
        """SIGKILL: no shutdown, whatever SQLite has not synced is what a crash loses."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, chars: int = 2000) -> str:
        log = self.settings.data_dir / "temporal.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def child_env(address: str, task_queue: str, config_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `tempodesk worker` / `tempodesk api` child."""
    return {**os.environ, "TEMPODESK_TEMPORAL_ADDRESS": address,
            "TEMPODESK_TASK_QUEUE": task_queue, "TEMPODESK_CONFIG_PATH": str(config_path),
            "TEMPODESK_SIGNING_SECRET": extra.pop("signing_secret", "drill-only-secret"),
            "TEMPODESK_LOG_LEVEL": "WARNING", **extra}


@dataclass
class Child:
    """A `tempodesk <role>` subprocess with its output in a log file."""

    role: str
    env: dict[str, str]
    log: Path
    port: int | None = None
    process: subprocess.Popen = field(init=False)

    def __post_init__(self) -> None:
        env = dict(self.env)
        if self.port is not None:
            env["TEMPODESK_API_PORT"] = str(self.port)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([TEMPODESK, self.role], env=env, stdout=out,
                                            stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60) -> None:
        """An API: until GET /healthz is 200 (it reaches Temporal)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tempodesk {self.role} exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"tempodesk {self.role} not healthy in {timeout} s: "
                           f"{self.log_tail()}")

    async def polling(self, timeout: float = 60) -> float | None:
        """A worker: when it logged that it polls (epoch seconds), or None if it never did
        (it logs that at TEMPODESK_LOG_LEVEL=INFO)."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.process.poll() is None:
            if "worker polling" in self.log_tail(10_000):
                return time.time()
            await asyncio.sleep(0.05)
        return None

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 30) -> None:
        stop_process(self.process, timeout)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def stop_process(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM (a worker lets running activities finish), then SIGKILL after ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def api(env: dict[str, str], log: Path) -> Child:
    return Child("api", env, log, port=free_port())


def worker(env: dict[str, str], log: Path) -> Child:
    return Child("worker", env, log)


# ---------------------------------------------------------------- load


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Lane:
    """One HTTP/1.1 keep-alive connection on asyncio streams (httpx costs milliseconds of
    CPU per request: on 2 cores that would measure the load generator). A broken
    connection is dropped and the next request opens a new one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        return await self.send("POST", path, body, {
            **headers, "Content-Type": "application/json"})

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return await self.send("GET", path, b"", headers or {})

    async def send(self, method: str, path: str, body: bytes,
                   headers: dict[str, str]) -> Answer:
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = self._streams
            head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            writer.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("connection closed")
            answer_headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                answer_headers[name.strip().lower()] = value.strip()
            data = await reader.readexactly(int(answer_headers.get("content-length", 0)))
            return Answer(int(status_line.split()[1]), answer_headers, data)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


@dataclass
class Intake:
    """One intake fired until it succeeded: its key, final answer and the failures met."""

    key: str
    ticket: str = ""
    status: int = 0
    replayed: bool = False
    sent_at: float = 0.0  # time.monotonic() of the first attempt
    answered_at: float = 0.0  # time.monotonic() of the successful answer
    failures: list[tuple[str, str]] = field(default_factory=list)  # (what, content-type)


RETRYABLE = (ConnectionError, OSError, asyncio.IncompleteReadError, TimeoutError)


async def fire(lane: Lane, key: str, *, request_timeout: float = 30, give_up: float = 120,
               headers: dict[str, str] = BELTON_REQUESTER) -> Intake:
    """POST /v1/incidents with Idempotency-Key ``key`` until it is 201 or 200, retrying
    (with the same key) on a broken connection, a timeout or any 5xx."""
    body = json.dumps(INCIDENT).encode()
    intake = Intake(key, sent_at=time.monotonic())
    deadline = time.monotonic() + give_up
    while True:
        try:
            answer = await asyncio.wait_for(
                lane.post("/v1/incidents", body, {**headers, "Idempotency-Key": key}),
                request_timeout)
        except RETRYABLE as exc:
            intake.failures.append((type(exc).__name__, ""))
        else:
            if answer.status in (200, 201):
                intake.ticket = answer.json()["ticket_id"]
                intake.status = answer.status
                intake.replayed = answer.headers.get("idempotent-replayed") == "true"
                intake.answered_at = time.monotonic()
                return intake
            if answer.status < 500:
                raise AssertionError(f"intake {key}: {answer.status} {answer.body[:500]!r}")
            intake.failures.append((str(answer.status), answer.headers.get("content-type", "")))
        if time.monotonic() > deadline:
            raise AssertionError(f"intake {key} never succeeded: {intake.failures[-5:]}")
        await asyncio.sleep(0.2)


async def load(ports: list[int], count: int, concurrency: int, run: str,
               started: list[Intake] | None = None) -> list[Intake]:
    """``count`` intakes, keys ``{run}-{i}``, over ``concurrency`` lanes; lane j posts to
    ``ports[j % len(ports)]``. Finished intakes are appended to ``started`` as they end."""
    done: list[Intake] = started if started is not None else []
    numbers = iter(range(count))

    async def lane_loop(j: int) -> None:
        lane = Lane(ports[j % len(ports)])
        try:
            for i in numbers:
                done.append(await fire(lane, f"{run}-{i:05d}"))
        finally:
            lane.close()

    await asyncio.gather(*(lane_loop(j) for j in range(concurrency)))
    return done


# ---------------------------------------------------------------- checks


async def connect(address: str, timeout: float = 60):
    """A client with the suite's data converter (the children read the same environment)."""
    from temporalio.client import Client

    from domain.settings import Settings
    from temporal_client import data_converter

    converter = data_converter(Settings(_env_file=None))
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await Client.connect(address, data_converter=converter)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def assert_one_ticket_per_key(intakes: list[Intake]) -> dict[str, str]:
    """Every intake got a ticket, no two keys share one; key -> ticket."""
    assert all(i.ticket for i in intakes)
    by_key = {i.key: i.ticket for i in intakes}
    assert len(by_key) == len(intakes), "a key was fired twice"
    from collections import Counter

    shared = [t for t, n in Counter(by_key.values()).items() if n > 1]
    assert not shared, f"{len(shared)} tickets handed to two keys, e.g. {sorted(shared)[:5]}"
    return by_key


def notified(view) -> bool:
    """The ticket ran its first activity (the notices at intake): a worker worked it."""
    return any(e.kind.startswith(("notified:", "notice_unsent:")) for e in view.events)


def assert_only_retryable_failures(intakes: list[Intake]) -> None:
    """What an intake met before it succeeded was a broken connection or a 503
    problem+json to retry, never a 500 or another error."""
    odd = {f for i in intakes for f in i.failures
           if f[0].isdigit() and f != ("503", "application/problem+json")}
    assert not odd, f"intakes met {sorted(odd)}"


async def assert_tickets_answer(client, tickets: list[str], concurrency: int = 16,
                                timeout: float = 120, ready=notified,
                                log: dict[str, tuple[float, int]] | None = None) -> float:
    """Every ticket's workflow is running and its query answers with its own id and a view
    that is ``ready`` (asked again while a worker that died still holds it, or the workers
    are behind); the seconds until the last one did."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    from domain.ids import TicketKind, workflow_id
    from workflows.incident import IncidentWorkflow

    began = time.monotonic()
    pending = iter(tickets)
    problems: list[str] = []

    async def one(ticket: str) -> None:
        handle = client.get_workflow_handle_for(IncidentWorkflow.run,
                                                workflow_id(TicketKind.INCIDENT, ticket))
        deadline = time.monotonic() + timeout
        errors = 0
        while True:
            try:
                described = await handle.describe()
                view = await handle.query(IncidentWorkflow.view)
            except RPCError as exc:
                errors += 1
                if time.monotonic() > deadline:
                    problems.append(f"{ticket}: {exc.message}")
                    return
                await asyncio.sleep(0.2)
                continue
            if described.status != WorkflowExecutionStatus.RUNNING or view.ticket_id != ticket:
                problems.append(f"{ticket}: {described.status} {view.ticket_id}")
                return
            if ready(view):
                if log is not None:  # when it answered, and after how many failed asks
                    log[ticket] = (time.monotonic() - began, errors)
                return
            if time.monotonic() > deadline:
                problems.append(f"{ticket}: never ready: {[e.kind for e in view.events]}")
                return
            await asyncio.sleep(0.2)

    async def lane() -> None:
        for ticket in pending:
            await one(ticket)

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    assert not problems, f"{len(problems)} tickets not answering: {problems[:5]}"
    return time.monotonic() - began


async def assert_listed_once(client, client_id: str, tickets: list[str],
                             timeout: float = 60) -> None:
    """Visibility lists each ticket's workflow exactly once, and no other (it catches up
    asynchronously: wait for the count)."""
    from collections import Counter

    from domain.ids import TicketKind, workflow_id

    expected = Counter(workflow_id(TicketKind.INCIDENT, t) for t in tickets)
    deadline = time.monotonic() + timeout
    while True:
        listed = Counter([w.id async for w in client.list_workflows(
            f"ClientId = '{client_id}' AND WorkflowType = 'IncidentWorkflow' "
            "AND ExecutionStatus != 'ContinuedAsNew'")])  # a run that continued is no copy
        if listed == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    twice = [w for w, n in listed.items() if n > 1]
    assert not twice, f"listed more than once: {twice[:5]}"
    assert listed == expected, (f"visibility lists {len(listed)}, expected {len(expected)}: "
                                f"missing {sorted(set(expected) - set(listed))[:5]}, extra "
                                f"{sorted(set(listed) - set(expected))[:5]}")


# ------------------------------------------------------------------ measuring

def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


async def bounded(count: int, concurrency: int, make) -> float:
    """Run ``make(i)`` for i < count with at most ``concurrency`` in flight; seconds taken."""
    queue = iter(range(count))

    async def lane() -> None:
        for i in queue:
            await make(i)

    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - began
