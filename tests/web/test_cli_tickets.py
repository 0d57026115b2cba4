"""`tempodesk tickets list|show --output table|json`: the operators' CLI, run for real."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.web.helpers import eventually, incident_body

TEMPODESK = str(Path(sys.executable).parent / "tempodesk")


async def cli(desk, *args: str, columns: int = 80) -> str:
    """Run the console script without blocking the loop the test's worker runs on."""
    env = {**os.environ, "COLUMNS": str(columns),
           "TEMPODESK_TEMPORAL_ADDRESS": desk.client.service_client.config.target_host}
    process = await asyncio.create_subprocess_exec(
        TEMPODESK, "tickets", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_list_and_show(desk):
    headers = desk.as_("belton", "agent")
    ticket = (await desk.http.post("/v1/incidents", json=incident_body(),
                                   headers=headers)).json()["ticket_id"]
    client = desk.client_id("belton")

    async def listed():
        return json.loads(await cli(desk, "list", "--client", client, "-o", "json"))

    rows = await eventually(listed, lambda r: [row["ticket_id"] for row in r] == [ticket])
    api_rows = (await desk.http.get("/v1/tickets", headers=headers)).json()["tickets"]
    assert rows == api_rows  # the same rows as GET /v1/tickets
    assert json.loads(await cli(desk, "list", "--client", client, "--priority", "P4",
                                "-o", "json")) == []

    narrow = await cli(desk, "list", "--client", client)
    assert ticket in narrow and "incident" in narrow  # ids and kinds never cut at 80 columns
    wide = await cli(desk, "list", "--client", client, columns=160)
    line = next(row for row in wide.splitlines() if ticket in row)
    due = rows[0]["resolution_due"][:16].replace("T", " ") + "Z"
    assert [cell.strip() for cell in line.split("│")[1:-1]] == [
        ticket, "incident", client, "P1", "new", due, "False", "0", "", ""]

    shown = json.loads(await cli(desk, "show", ticket, "-o", "json"))
    assert (shown["ticket_id"], shown["priority"], shown["events"][0]["kind"]) == (
        ticket, "P1", "opened")
    assert "Whole office cannot send e-mail" in await cli(desk, "show", ticket)


async def test_user_text_is_printed_as_text_not_markup(desk):
    subject = "Printer [/bold] broken [link=https://evil.example]x[/link]"
    made = await desk.http.post("/v1/incidents", json=incident_body(subject=subject),
                                headers=desk.as_("belton", "requester"))
    shown = await cli(desk, "show", made.json()["ticket_id"], columns=200)
    assert subject in shown
