"""Mail to ticket: how long a message takes from the SMTP client's DATA to a ticket that
answers queries, through `tempodesk smtp`'s listener, beside the bare Temporal SDK's
start-then-query in the same run.

    .venv/bin/python bench/email_bench.py [--count 50]

One in-memory dev server; the ticket worker and the listener run in this process (as
`tempodesk dev` runs them). Messages are sent one after another by `smtplib` (a real SMTP
client); each is timed to the 250 reply (the ticket's workflow started) and to the first
successful query of its view. The bare baseline starts the same number of minimal
workflows and queries each once.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import statistics
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import httpx
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from api.app import build_state  # noqa: E402
from api.smtp import serve_smtp  # noqa: E402
from domain import search_attributes as sa  # noqa: E402
from domain.mail_config import SmtpLimits  # noqa: E402
from domain.settings import Settings  # noqa: E402
from domain.tenants import load_config  # noqa: E402
from temporal_client import data_converter  # noqa: E402
from worker import build_workers  # noqa: E402
from workflows.incident import IncidentWorkflow  # noqa: E402

BIN = Path(sys.executable).parent


@workflow.defn(sandboxed=False)
class Bare:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.query
    def ready(self) -> bool:
        return True


def message(n: int) -> bytes:
    mail = EmailMessage()
    # As the MSP's MTA hands it over: the sender authenticated (tempodesk.yaml's mail:).
    mail["Authentication-Results"] = ("mx.msp.example; dkim=pass header.d=harbourside.example;"
                                      " dmarc=pass header.from=harbourside.example")
    mail["From"] = "jo.tran@harbourside.example"
    mail["To"] = "servicedesk@belton.example"
    mail["Subject"] = f"Printer {n} jams"
    mail["Message-ID"] = make_msgid(domain="harbourside.example")
    mail.set_content("It jams at the fuser.")
    return bytes(mail)


def send(port: int, raw: bytes) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("jo.tran@harbourside.example")
        smtp.rcpt("servicedesk@belton.example")
        code, reply = smtp.data(raw)
    assert code == 250, reply
    return reply.decode().split()[-1]


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (f"  {name:<40} p50 {statistics.median(ordered) * 1000:7.1f} ms   "
            f"p99 {p99 * 1000:7.1f} ms")


async def main(count: int) -> None:
    settings = Settings(_env_file=None, config_path=REPO / "tempodesk.yaml",
                        signing_secret="bench-only-secret-" + "x" * 32, task_queue="bench")
    config = load_config(settings.config_path)
    # One sender, one address, many messages: lift the listener's limits (they have their
    # own tests) so the bench measures the intake, not the 451s; the bench's client on
    # loopback plays the MSP's MTA (the one relay whose Authentication-Results count).
    config = config.model_copy(update={"mail": config.mail.model_copy(update={
        "smtp": SmtpLimits(per_ip="1000000/min", per_sender="1000000/min",
                           trusted_relays=["127.0.0.1"])})})
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=data_converter(settings),
        search_attributes=sa.ALL_KEYS)
    try:
        client = env.client
        async with httpx.AsyncClient() as http:
            workers = build_workers(client, settings, config, http)
            for worker in workers:
                await worker.__aenter__()
            state = build_state(settings, config, client)
            server = await serve_smtp(state, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            to_reply, to_query = [], []
            for n in range(count):
                began = time.perf_counter()
                ticket = await asyncio.to_thread(send, port, message(n))
                to_reply.append(time.perf_counter() - began)
                handle = client.get_workflow_handle(f"incident:{ticket}")
                await handle.query(IncidentWorkflow.view)
                to_query.append(time.perf_counter() - began)
            server.close()
            bare_times = []
            async with Worker(client, task_queue="bare", workflows=[Bare]):
                for n in range(count):
                    began = time.perf_counter()
                    handle = await client.start_workflow(Bare.run, id=f"bare-{n}",
                                                         task_queue="bare")
                    await handle.query(Bare.ready)
                    bare_times.append(time.perf_counter() - began)
            for worker in reversed(workers):
                await worker.__aexit__(None, None, None)
    finally:
        await env.shutdown()
    print(f"\n{count} messages, one after another:")
    print(summary("SMTP DATA -> 250 (ticket started)", to_reply))
    print(summary("SMTP DATA -> ticket answers a query", to_query))
    print(summary("bare SDK: start -> query", bare_times))
    print(f"  ratio (mail -> queryable ticket) / bare: "
          f"p50 {statistics.median(to_query) / statistics.median(bare_times):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50)
    asyncio.run(main(parser.parse_args().count))
