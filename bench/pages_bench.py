"""The pages people open from their e-mail: server time and page weight, against what the
page cannot do without, in the same run.

    .venv/bin/python bench/pages_bench.py [--requests 300]

Starts a Temporal dev server, a `tempodesk worker` and a `tempodesk api`; issues a quote and
closes an incident; then, one request at a time on one keep-alive connection, opens

- the quote's review page (the director's signed link),
- the closed incident's survey page (its CSAT link),
- the page a damaged link gets (a browser asking for HTML: no Temporal call),

and, as baselines, the bare SDK's query of the same quote's view (what the review page
needs from Temporal, with nothing rendered or sent) and the same ticket as JSON through
the API (`GET /v1/tickets/{id}`: the door and the query, no page). Prints each one's
latency (p50, p95), the API process's CPU per request, and each page's weight: its HTML
and every resource it loads (images, scripts, styles of its own origin). No page loads
anything from another origin (checked).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psutil
import yaml
from temporalio.testing import WorkflowEnvironment

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from desk.tickets import kind_view  # noqa: E402
from domain import search_attributes as sa  # noqa: E402
from domain import tokens  # noqa: E402
from domain.ids import TicketKind  # noqa: E402
from domain.settings import Settings  # noqa: E402
from temporal_client import data_converter  # noqa: E402
from tests.processes import Lane, api, child_env, drill_config, worker  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "pages-bench-secret"
STAFF = {"Authorization": "Bearer td_msp_agent_demo"}
REQUESTER = {"Authorization": "Bearer td_belton_requester_demo"}
AGENT = {"Authorization": "Bearer td_belton_agent_demo"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
INCIDENT = {"subject": "Pages bench", "doing": "benching", "expected": "fast",
            "actual": "measuring", "tried": "nothing", "impact": "low", "urgency": "low",
            "technical_contact": {"name": "Jo", "email": "jo@harbourside.example"}}
# What a page loads: src= and href= of <img>, <script>, <link> (not <a>: a link followed).
RESOURCE = re.compile(r'<(?:img|script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', re.IGNORECASE)


async def timed(count: int, call: Callable[[], Awaitable[object]],
                process: psutil.Process | None) -> tuple[list[float], float]:
    """``count`` calls one after another: their latencies (ms), and the CPU (ms) the API
    process spent per call."""
    await call()  # warm
    cpu = sum(process.cpu_times()[:2]) if process else 0.0
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - began) * 1000)
    spent = (sum(process.cpu_times()[:2]) - cpu) * 1000 / count if process else 0.0
    return latencies, spent


async def weight(base: str, path: str, headers: dict[str, str],
                 expected: int) -> tuple[int, int, list[str]]:
    """A page's bytes: its HTML, everything it loads, and what it loads."""
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get(path, headers=headers)
        assert page.status_code == expected, (path, page.status_code, page.text[:300])
        loads = RESOURCE.findall(page.text)
        outside = [u for u in loads if u.startswith(("http:", "https:", "//"))]
        assert not outside, f"{path} loads from another origin: {outside}"
        extra = 0
        for url in loads:
            if url.startswith("data:"):
                continue
            extra += len((await http.get(url)).content)
        return len(page.content), extra, loads


def row(label: str, latencies: list[float], cpu: float, html: int | None = None,
        extra: int = 0) -> str:
    p95 = statistics.quantiles(latencies, n=20)[18]
    text = (f"  {label:<34} p50 {statistics.median(latencies):6.2f} ms  p95 {p95:6.2f} ms"
            f"  API CPU {cpu:5.2f} ms/request")
    if html is not None:
        text += f"  weight {html + extra:,} bytes ({html:,} HTML + {extra:,} loaded)"
    return text


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"), search_attributes=sa.ALL_KEYS,
            data_converter=data_converter(Settings()))
        config, belton, _ = drill_config(workdir / "bench.yaml")
        raw = yaml.safe_load(config.read_text())
        raw["signed_link_rate"] = "100000/min"  # one address opens every link here
        config.write_text(yaml.safe_dump(raw))
        child = child_env(env.client.service_client.config.target_host, "pages-bench",
                          config, signing_secret=SECRET)
        workers = worker(child, workdir / "worker.log")
        server = api(child, workdir / "api.log")
        try:
            server.wait_healthy()
            async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
                made = await http.post("/v1/quotes", headers=STAFF, json={
                    "client_id": belton, "title": "Two laptops", "lines": [
                        {"description": "Laptop", "quantity": "2", "unit_price": "1800"}]})
                assert made.status_code == 201, made.text
                quote_id = made.json()["ticket_id"]
                ticket = (await http.post("/v1/incidents", headers=REQUESTER,
                                          json=INCIDENT)).json()["ticket_id"]
                for to in ("resolved", "closed"):
                    moved = await http.post(f"/v1/tickets/{ticket}/transition",
                                            json={"to": to}, headers=AGENT)
                    assert moved.status_code == 200, moved.text
            later = datetime.now(UTC) + timedelta(days=7)
            review = tokens.sign(SECRET, "quote", quote_id, later,
                                 director="mia.chen@harbourside.example")
            survey = tokens.sign(SECRET, "csat", ticket, later)
            pages = {
                "quote review page": (f"/v1/quotes/{quote_id}/review?token={review}", 200),
                "survey page": (f"/v1/surveys/{survey}", 200),
                "refusal page (damaged link)": (
                    f"/v1/quotes/{quote_id}/review?token={review[:-6]}AAAAAA", 401),
            }
            lane = Lane(server.port)
            api_process = psutil.Process(server.process.pid)
            handle = env.client.get_workflow_handle(f"quote:{quote_id}")
            results = []
            for label, (path, status) in pages.items():
                def page(path=path):
                    return lane.get(path, BROWSER)
                latencies, cpu = await timed(args.requests, page, api_process)
                html, extra, _ = await weight(server.base, path, BROWSER, status)
                results.append(row(label, latencies, cpu, html, extra))
            latencies, cpu = await timed(args.requests, lambda: lane.get(
                f"/v1/tickets/{quote_id}", AGENT), api_process)
            results.append(row("baseline: the quote as JSON", latencies, cpu))
            latencies, _ = await timed(args.requests, lambda: kind_view(
                handle, TicketKind.QUOTE), None)
            results.append(row("baseline: the bare SDK's query", latencies, 0.0))
            lane.close()
        finally:
            server.stop()
            workers.stop()
            await env.shutdown()
    print(f"{args.requests} requests each, one at a time (load {psutil.getloadavg()[0]:.1f}):")
    print("\n".join(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
