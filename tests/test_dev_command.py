"""`make run` runs `tempodesk dev`: the embedded Temporal server, worker and API, together.

Runs the real command in a subprocess on free ports with its own data directory."""

from __future__ import annotations

import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain import tokens
from tests.devrun import BIN, DevRun
from tests.web.helpers import incident_body


def test_dev_runs_everything_and_keeps_data(tmp_path):
    run = DevRun(tmp_path / "data")
    run.start()
    try:
        assert httpx.get(f"http://127.0.0.1:{run.ui}/", timeout=5).status_code == 200
        listed = subprocess.run(
            [str(BIN / "temporal"), "operator", "search-attribute", "list",
             "--address", f"127.0.0.1:{run.grpc}"], capture_output=True, text=True, check=True)
        for name in ("TicketKind", "ClientId", "TicketPriority", "TicketStatus", "SlaResponseDue",
                     "SlaResolutionDue", "SlaBreached", "EscalationLevel", "Assignee",
                     "NoticeFailing"):
            assert name in listed.stdout
        headers = {"Authorization": "Bearer td_belton_requester_demo"}
        created = httpx.post(f"{run.base}/v1/incidents", json=incident_body(), headers=headers,
                             timeout=10)
        assert created.status_code == 201, created.text
        ticket = created.json()["ticket_id"]
        # Links are signed with a secret made for this data directory, never a public one.
        public = tokens.sign("tempodesk-dev-only-signing-secret-change-me", "csat", ticket,
                             datetime.now(UTC) + timedelta(days=1))
        forged = httpx.post(f"{run.base}/v1/surveys/{public}", json={"score": 5}, timeout=10)
        assert forged.status_code == 401, forged.text
    finally:
        alive = run.stop()
    secret_file = tmp_path / "data" / "signing-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    first_secret = secret_file.read_text()
    assert len(first_secret) >= 48
    output_so_far = run.process.stdout.read().decode()
    assert f"http://127.0.0.1:{run.api}/docs" in output_so_far
    assert f"http://127.0.0.1:{run.ui}" in output_so_far
    assert "td_belton_agent_demo" in output_so_far
    assert alive == [], f"orphans left running: {alive}"

    run.start()  # same data directory: the ticket is still there, the secret the same
    assert secret_file.read_text() == first_secret
    try:
        shown = httpx.get(f"{run.base}/v1/tickets/{ticket}", headers=headers, timeout=10)
        assert shown.status_code == 200 and shown.json()["ticket_id"] == ticket
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            page = httpx.get(f"{run.base}/v1/tickets", headers=headers, timeout=10).json()
            if any(t["ticket_id"] == ticket for t in page["tickets"]):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{ticket} is not listed after a restart")
    finally:
        assert run.stop() == []
