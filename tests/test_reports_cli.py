"""`tempodesk reports qbr CLIENT QUARTER`, run for real against a desk: it makes the
current quarter's report (the same one the API serves), shows its headline, writes its
PDF, makes nothing twice, and refuses a quarter it may not make or an unknown client."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from domain.reviews import quarter_label
from domain.tenants import load_config
from tests.conftest import DEMO_CONFIG, make_settings, running_desk
from tests.tags import unique_tag
from workflows.reviews import QbrWorkflow

TEMPODESK = str(Path(sys.executable).parent / "tempodesk")


def own_config(folder: Path) -> Path:
    """The demo config with client ids of this test's own (the dev server is shared)."""
    tag = unique_tag()
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    for client in raw["clients"]:
        client["id"] = f"{client['id']}-{tag}"
        client["ticket_prefix"] = f"{client['ticket_prefix']}{tag.upper()}"
    for key in raw.get("staff", []):
        if key.get("clients"):
            key["clients"] = [f"{c}-{tag}" for c in key["clients"]]
    path = folder / "tempodesk.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def reports(desk, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "COLUMNS": "160",
           "TEMPODESK_TEMPORAL_ADDRESS": desk.client.service_client.config.target_host,
           "TEMPODESK_TASK_QUEUE": desk.settings.task_queue,
           "TEMPODESK_CONFIG_PATH": str(desk.settings.config_path)}
    process = await asyncio.create_subprocess_exec(
        TEMPODESK, "reports", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    return process.returncode, out.decode(), err.decode()


async def test_the_cli_makes_the_current_quarters_qbr_once_and_shows_it(dev_client, task_queue,
                                                                        tmp_path):
    path = own_config(tmp_path)
    config = load_config(path)
    settings = make_settings(task_queue=task_queue).model_copy(update={"config_path": path})
    async with running_desk(dev_client, config, settings) as desk:
        client = desk.client_id("belton")
        zone = config.client(client).sla.calendar.timezone
        quarter = quarter_label(datetime.now(UTC).astimezone(ZoneInfo(zone)).date())
        pdf = tmp_path / "qbr.pdf"

        code, out, err = await reports(desk, "qbr", client, quarter, "--pdf", str(pdf))
        assert code == 0, err
        assert f"QBR {client} {quarter}: made now, interim;" in out
        assert "interim: the quarter so far" in out and "Tickets opened" in out
        assert pdf.read_bytes().startswith(b"%PDF")
        served = await desk.http.get(f"/v1/reports/qbr/{client}/{quarter}",
                                     params={"format": "pdf"},
                                     headers=desk.as_("belton", "director"))
        assert served.status_code == 200 and served.content == pdf.read_bytes()

        code, out, err = await reports(desk, "qbr", client, quarter, "-o", "json")
        assert code == 0, err
        again = json.loads(out)
        assert again["started"] is False and again["status"] == "interim"
        assert again["figures"]["quarter"] == quarter

        code, _, err = await reports(desk, "qbr", client, "2099-Q1")
        assert code == 2 and "quarter: 2099-Q1 has not begun" in err
        code, _, err = await reports(desk, "qbr", "nobody", quarter)
        assert code == 2 and "no client 'nobody'" in err
        await desk.client.get_workflow_handle_for(
            QbrWorkflow.run, f"qbr:{client}:{quarter}").terminate("test done")
