"""SIGTERM lets a running delivery finish: the worker stops polling, waits for the e-mail
being sent (TEMPODESK_GRACEFUL_SHUTDOWN_SECONDS) and exits cleanly; the message arrives
once and its activity completes on its first attempt."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import threading
import time
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType

from domain.sla import Priority
from tests import processes
from tests.conftest import DEMO_CONFIG
from tests.peers import Mailbox
from tests.web.helpers import eventually
from tests.workflows.support import make_start, start_incident


class SlowMailbox(Mailbox):
    """Takes 3 s to accept a message, and says when one starts arriving."""

    def __init__(self) -> None:
        super().__init__()
        self.receiving = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.receiving.set()
        await asyncio.sleep(3)
        return await super().handle_DATA(server, session, envelope)


def mailing_worker_env(dev_client, task_queue: str, mailbox: Mailbox,
                       **extra: str) -> dict[str, str]:
    """A `tempodesk worker` child's environment, mailing through ``mailbox``."""
    return processes.child_env(
        dev_client.service_client.config.target_host, task_queue, DEMO_CONFIG,
        signing_secret=secrets.token_urlsafe(32), TEMPODESK_SMTP_HOST="127.0.0.1",
        TEMPODESK_SMTP_PORT=str(mailbox.port), **extra)


async def test_sigterm_lets_the_running_delivery_finish(dev_client, task_queue, tmp_path):
    with SlowMailbox() as mailbox:
        env = mailing_worker_env(dev_client, task_queue, mailbox,
                                 TEMPODESK_GRACEFUL_SHUTDOWN_SECONDS="30")
        worker = processes.worker(env, tmp_path / "worker.log").process
        try:
            start = make_start(datetime.now(UTC), Priority.P3)
            handle = await start_incident(dev_client, start, task_queue)
            assert await asyncio.to_thread(mailbox.receiving.wait, 30), "no e-mail started"
            worker.send_signal(signal.SIGTERM)  # mid-delivery
            assert await asyncio.to_thread(worker.wait, 60) == 0
        finally:
            if worker.poll() is None:
                worker.kill()
        assert [m["Message-ID"] for m in mailbox.about(start.ticket_id)] == [
            f"<incident.{start.ticket_id}.1.ticket_opened@tempodesk>"]
        history = await handle.fetch_history()
        kinds = [e.event_type for e in history.events]
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in kinds
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED not in kinds
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT not in kinds
        started = [e.activity_task_started_event_attributes.attempt for e in history.events
                   if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        assert started and set(started) == {1}
        await handle.terminate("test done")


class HangingMailbox(Mailbox):
    """Holds the first message without answering (its sender dies meanwhile); takes the
    rest at once, noting when each arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.first_arrived = threading.Event()
        self.arrivals: list[float] = []

    async def handle_DATA(self, server, session, envelope):
        self.arrivals.append(time.monotonic())
        if len(self.arrivals) == 1:
            self.first_arrived.set()
            await asyncio.sleep(120)
        return await super().handle_DATA(server, session, envelope)


async def test_a_notice_held_by_a_killed_worker_is_retried_in_seconds(dev_client, task_queue,
                                                                    tmp_path):
    """SIGKILL while an e-mail is being sent: the attempt heartbeats, so the next worker
    retries it after the 10 s heartbeat timeout, not the attempt's 1-minute timeout."""
    with HangingMailbox() as mailbox:
        env = mailing_worker_env(dev_client, task_queue, mailbox)
        first = processes.worker(env, tmp_path / "first.log").process
        second = None
        try:
            start = make_start(datetime.now(UTC), Priority.P3)
            handle = await start_incident(dev_client, start, task_queue)
            assert await asyncio.to_thread(mailbox.first_arrived.wait, 30), "no e-mail started"
            first.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            first.wait(timeout=10)
            second = processes.worker(env, tmp_path / "second.log").process
            with contextlib.suppress(AssertionError):  # judged below, with its reason
                await eventually(lambda: mailbox.about(start.ticket_id), bool,
                                 timeout=50)
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
        assert len(mailbox.arrivals) >= 2, "the held notice was never retried"
        retried_after = mailbox.arrivals[1] - killed_at
        print(f"\nthe held notice was retried {retried_after:.1f} s after the kill")
        assert retried_after < 40  # without heartbeats: the 60 s attempt timeout at least
        assert [m["Message-ID"] for m in mailbox.about(start.ticket_id)] == [
            f"<incident.{start.ticket_id}.1.ticket_opened@tempodesk>"]
        await handle.terminate("test done")
