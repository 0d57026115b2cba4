"""Run the real `tempodesk dev` in a subprocess on free ports with its own data dir."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import DEMO_CONFIG
from tests.peers import free_port

BIN = Path(sys.executable).parent


class DevRun:
    def __init__(self, data_dir: Path) -> None:
        self.grpc, self.ui, self.api = free_port(), free_port(), free_port()
        self.sandbox = f"http://127.0.0.1:{free_port()}"
        self.mailbox = f"http://127.0.0.1:{free_port()}"  # the local mailbox's page
        made_by_dev = ("TEMPODESK_SIGNING_SECRET", "TEMPODESK_CODEC_KEYS", "TEMPODESK_CODEC_KEY_ID")
        environ = {k: v for k, v in os.environ.items() if k not in made_by_dev}
        self.env = {**environ, "TEMPODESK_TEMPORAL_ADDRESS": f"127.0.0.1:{self.grpc}",
                    "TEMPODESK_UI_PORT": str(self.ui), "TEMPODESK_API_PORT": str(self.api),
                    "TEMPODESK_DATA_DIR": str(data_dir),
                    "TEMPODESK_CONFIG_PATH": str(DEMO_CONFIG),
                    "TEMPODESK_TASK_QUEUE": f"dev-{self.grpc}",
                    "TEMPODESK_SANDBOX_PORT": self.sandbox.rsplit(":", 1)[1],
                    "TEMPODESK_MAILBOX_PORT": self.mailbox.rsplit(":", 1)[1],
                    "TEMPODESK_INBOUND_SMTP_PORT": str(free_port())}
        self.env["PYTHONUNBUFFERED"] = "1"  # its output is read while it runs
        self.base = f"http://127.0.0.1:{self.api}"
        # What it prints goes to a file, not a pipe: a stack shared by many tests would
        # stall once a pipe nobody reads is full. Each start appends.
        self.output = data_dir.parent / f"tempodesk-dev-{self.api}.out"

    @property
    def printed(self) -> str:
        """Everything its starts have printed so far."""
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def start(self) -> subprocess.Popen:
        with self.output.open("ab") as output:
            self.process = subprocess.Popen([str(BIN / "tempodesk"), "dev"], env=self.env,
                                            stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.printed
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self.process
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.process.send_signal(signal.SIGINT)  # stops its children too
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        pytest.fail(f"GET /healthz was not 200 within 60 s; it printed:\n{self.printed[-3000:]}")

    def stop(self) -> list[psutil.Process]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(children, timeout=15)
        return alive


@contextlib.contextmanager
def like_make_run(data_dir: Path) -> Iterator[DevRun]:
    """`tempodesk dev` with the stack's own mail and link defaults (its local mailbox, its
    own API port in links), stopped at the end: no process may outlive it. ``run.printed``
    holds what it has printed."""
    run = DevRun(data_dir)
    for own in ("TEMPODESK_SMTP_HOST", "TEMPODESK_PUBLIC_URL"):
        run.env.pop(own, None)
    run.start()
    try:
        yield run
    finally:
        alive = run.stop()
        assert alive == [], f"orphans left running: {alive}"


REVIEW_SCHEDULES = sorted(f"{job}:{client}" for job in ("nps", "qbr")
                          for client in ("belton", "betterworld", "plexacet"))


def review_schedules(run: DevRun, timeout: float = 15) -> list[str]:
    """The schedule ids the Temporal CLI lists on ``run``'s server, once they are
    REVIEW_SCHEDULES or ``timeout`` passed (the list is read from visibility)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run(
            [str(BIN / "temporal"), "schedule", "list", "--address", f"127.0.0.1:{run.grpc}",
             "--output", "json"], capture_output=True, text=True, check=True)
        found = sorted(row["scheduleId"] for row in json.loads(listed.stdout or "[]"))
        if found == REVIEW_SCHEDULES or time.monotonic() > deadline:
            return found
        time.sleep(0.25)
