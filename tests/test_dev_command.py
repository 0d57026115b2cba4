"""`make run` runs `tempodesk dev`: the embedded Temporal server, worker and API, together.

Runs the real command in a subprocess on free ports with its own data directory."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from domain import tokens
from domain.ids import TicketKind, workflow_id
from tests.devrun import BIN, REVIEW_SCHEDULES, DevRun, review_schedules
from tests.web.helpers import incident_body


def check_a_user_exit_reaches_the_sandbox(run: DevRun) -> str:
    """The demo drives the real Graph adapter against the sandbox; returns its base URL."""
    exit_form = {"employee": {"name": "Jo Tran", "email": "jo.tran@harbourside.example"},
                 "user_principal_name": "jo.tran@harbourside.example",
                 "last_working_day": "2026-12-04", "immediate": True}
    made = httpx.post(f"{run.base}/v1/offboarding", json=exit_form, timeout=10,
                      headers={"Authorization": "Bearer td_belton_hr_demo"})
    assert made.status_code == 201, made.text
    sandbox = run.sandbox
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        calls = httpx.get(f"{sandbox}/calls", timeout=5).json()["calls"]
        if any(c["path"].endswith("/revokeSignInSessions") for c in calls):
            assert any(c["body"].get("client_secret") == "***" for c in calls)
            return sandbox
        time.sleep(0.5)
    raise AssertionError(f"no Graph call reached the sandbox: {calls}")


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
        codec = check_history_is_encrypted(run, ticket)
        sandbox = check_a_user_exit_reaches_the_sandbox(run)
        assert review_schedules(run) == REVIEW_SCHEDULES
    finally:
        alive = run.stop()
    secret_file = tmp_path / "data" / "signing-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    first_secret = secret_file.read_text()
    assert len(first_secret) >= 48
    output_so_far = run.printed
    assert f"http://127.0.0.1:{run.api}/docs" in output_so_far
    assert f"http://127.0.0.1:{run.ui}" in output_so_far
    assert f"Codec server {codec.split('/local-ui/')[0]} " in output_so_far
    assert codec.split("/local-ui/")[1] not in output_so_far  # the secret stays in the UI
    assert f"Provider sandbox {sandbox}/calls" in output_so_far
    key_file = tmp_path / "data" / "codec-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_text()
    assert len(base64.b64decode(first_key)) == 32
    assert "td_belton_agent_demo" in output_so_far
    assert alive == [], f"orphans left running: {alive}"

    run.start()  # same data directory: the ticket is still there, the secret the same
    assert secret_file.read_text() == first_secret
    assert key_file.read_text() == first_key  # else the history written before is unreadable
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
        # The review schedules made at the first start are found, not made twice.
        assert review_schedules(run) == REVIEW_SCHEDULES
    finally:
        assert run.stop() == []


def check_history_is_encrypted(run: DevRun, ticket: str) -> str:
    """The Web UI is pointed at the codec server, which decodes the ticket's encrypted
    input for the UI on this machine and MSP staff keys, no one else. Returns its URL."""
    settings = httpx.get(f"http://127.0.0.1:{run.ui}/api/v1/settings", timeout=5).json()
    codec = settings["Codec"]["Endpoint"]
    assert codec.startswith("http://127.0.0.1:"), settings["Codec"]
    shown = subprocess.run(
        [str(BIN / "temporal"), "workflow", "show", "--output", "json", "--address",
         f"127.0.0.1:{run.grpc}", "-w", workflow_id(TicketKind.INCIDENT, ticket)],
        capture_output=True, text=True, check=True)
    assert "Whole office cannot send e-mail" not in shown.stdout
    started = json.loads(shown.stdout)["events"][0]["workflowExecutionStartedEventAttributes"]
    payloads = started["input"]["payloads"]
    assert base64.b64decode(payloads[0]["metadata"]["encoding"]) == b"binary/encrypted"
    ui = {"Origin": f"http://127.0.0.1:{run.ui}"}
    local_ui = httpx.post(f"{codec}/decode", json={"payloads": payloads}, headers=ui, timeout=5)
    assert local_ui.status_code == 200, local_ui.text  # the dev UI has no sign-in
    # ... but its codec endpoint holds this start's secret: the port alone decodes nothing.
    server = codec.split("/local-ui/")[0]
    portless = httpx.post(f"{server}/decode", json={"payloads": payloads}, headers=ui,
                          timeout=5)
    assert portless.status_code == 401 and "payloads" not in portless.json()
    assert local_ui.headers["access-control-allow-origin"] == ui["Origin"]
    elsewhere = {"Origin": "http://intranet.example"}
    refused = httpx.post(f"{codec}/decode", json={"payloads": payloads}, headers=elsewhere,
                         timeout=5)
    assert refused.status_code == 401
    decoded = httpx.post(f"{codec}/decode", json={"payloads": payloads}, timeout=5, headers={
        **ui, "Authorization": "Bearer td_msp_agent_demo", "X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    data = base64.b64decode(decoded.json()["payloads"][0]["data"])
    assert b"Whole office cannot send e-mail" in data
    return codec
