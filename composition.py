"""The composition root: the one place the desk's running parts are built from Settings and
the clients config - the workers, the API app, the codec server's app, the SMTP listener's
state - and served together. `tempodesk worker`, `api`, `smtp`, `codec-server` and `dev`
(commands/) and the tests' fixtures (tests/conftest.py) all build through here, so a part
wired differently in one of them cannot go unnoticed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from console import err, out
from domain.settings import Settings
from domain.tenants import TempodeskConfig

if TYPE_CHECKING:  # imported where used: `tempodesk sla preview` starts without them
    from fastapi import FastAPI
    from temporalio.client import Client
    from temporalio.worker import Worker

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the parts


def api_app(settings: Settings, config: TempodeskConfig, client: Client | None = None,
            ) -> FastAPI:
    """The HTTP API (every route); with no ``client`` it connects when it starts."""
    from api.app import create_app

    return create_app(settings, config, client)


def codec_app(settings: Settings, config: TempodeskConfig,
              local_ui_secret: str | None = None) -> FastAPI:
    """The codec server for the Temporal Web UI (``local_ui_secret``: `tempodesk dev`'s)."""
    from api.codec_server import create_codec_app

    return create_codec_app(settings, config, local_ui_secret=local_ui_secret)


def desk_state(settings: Settings, config: TempodeskConfig, client: Client):
    """What a door outside the HTTP app works with (the SMTP listener): api.app.AppState."""
    from api.app import build_state

    return build_state(settings, config, client)


async def take_mail(settings: Settings, config: TempodeskConfig) -> None:
    """`tempodesk smtp`: the SMTP listener until SIGINT or SIGTERM."""
    from api.smtp import serve_smtp
    from temporal_client import connect

    state = desk_state(settings, config, await connect(settings))
    server = await serve_smtp(state, settings.inbound_smtp_host, settings.inbound_smtp_port)
    out.print(f"taking mail on {settings.inbound_smtp_host}:{settings.inbound_smtp_port}")
    mail = config.mail
    if not mail.trusted_authserv_ids:
        out.print("no mail.trusted_authserv_ids in the config: mail opens tickets and "
                  "adds notes, but never approves, escalates or comments as staff "
                  "(docs/security.md)")
    out.print(mail.smtp.believed_peers())
    out.print(f"limits: {mail.smtp.per_ip} per sending address, {mail.smtp.per_sender} "
              "per From address")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


async def open_mail_in(settings: Settings, config: TempodeskConfig, client: Client,
                       ) -> asyncio.AbstractServer | None:
    """`tempodesk dev`'s inbound SMTP listener (as `tempodesk smtp` takes mail, with this
    process's keys and file store); a taken port is one line, not a failed start."""
    from api.smtp import serve_smtp

    try:
        server = await serve_smtp(desk_state(settings, config, client),
                                  settings.inbound_smtp_host, settings.inbound_smtp_port)
    except OSError as exc:  # the port is taken (another stack, a `tempodesk smtp`)
        err.print(f"no mail in: {settings.inbound_smtp_host}:{settings.inbound_smtp_port} "
                  f"cannot be opened ({exc.strerror}); set TEMPODESK_INBOUND_SMTP_PORT to "
                  "another port", markup=False)
        return None
    out.print(f"mail in: {config.mail.smtp.believed_peers()}", markup=False)
    return server


def serve_codec(settings: Settings, config: TempodeskConfig) -> None:
    """`tempodesk codec-server`: the codec server until SIGINT or SIGTERM."""
    import uvicorn

    from api.limits import uvicorn_options

    uvicorn.run(codec_app(settings, config), host=settings.codec_host,
                port=settings.codec_port, log_level="warning", access_log=False,
                **uvicorn_options())


@contextlib.asynccontextmanager
async def running_workers(client: Client, settings: Settings, config: TempodeskConfig,
                          ) -> AsyncIterator[list[Worker]]:
    """The workers (worker.build_workers) polling, with their outbound HTTP client, until
    the block ends; then shut down."""
    from activities import outbound
    from worker import build_workers

    async with outbound.http_client(settings) as http, \
            contextlib.AsyncExitStack() as workers:
        built = build_workers(client, settings, config, http)
        for one in built:
            await workers.enter_async_context(one)
        yield built


async def work_until(client: Client, settings: Settings, config: TempodeskConfig,
                     stop: asyncio.Event) -> None:
    """`tempodesk worker`'s part of a process: the workers polling until ``stop``."""
    from worker import NO_SMTP_WARNING, tune_gc

    async with running_workers(client, settings, config):
        tune_gc()  # everything is imported and built by now
        logging.getLogger("worker").info("worker polling task queue %r", settings.task_queue)
        if not settings.smtp_host:
            logging.getLogger("worker").warning(NO_SMTP_WARNING)
        await stop.wait()


# ---------------------------------------------------------------- serving a process


async def connect_when_ready(settings: Settings, server: subprocess.Popen | None,
                             timeout: float) -> Client:
    """A client, retried until ``timeout`` (a dev server still starting); a dev ``server``
    that exits meanwhile ends the wait with its log's path."""
    from temporal_client import connect

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if server is not None and server.poll() is not None:
            raise RuntimeError(f"the Temporal dev server exited ({server.returncode}); "
                               f"see {settings.data_dir / 'temporal.log'}")
        try:
            return await connect(settings)
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.25)


async def ensure_schedules(client: Client, settings: Settings, config: TempodeskConfig) -> None:
    """The clients' review schedules (NPS, QBR) as the config says; a cluster that refuses
    (e.g. no permission) is logged, never a reason not to start."""
    from temporalio.service import RPCError

    import schedules

    try:
        done = await schedules.ensure_schedules(client, config, task_queue=settings.task_queue)
    except RPCError as exc:
        log.warning("review schedules not made: %s", exc.message)
        return
    log.info("review schedules: %s", ", ".join(
        f"{sid} {what}" for sid, what in done.items()) or "none")


async def serve(settings: Settings, config: TempodeskConfig, *, run_worker: bool,
                run_api: bool, server: subprocess.Popen | None = None,
                codec_socket: socket.socket | None = None, codec_secret: str | None = None,
                banner: str | None = None, take_mail: bool = False) -> None:
    """One process's parts until SIGINT or SIGTERM (or one of them ends): a worker, the API,
    a codec server on ``codec_socket`` and, with ``take_mail``, the inbound SMTP listener
    (`tempodesk dev`), against ``server`` if a dev server was started here. ``banner`` is
    printed once the API answers."""
    import uvicorn

    from api.limits import uvicorn_options
    from temporal_client import ensure_search_attributes

    client = await connect_when_ready(settings, server, timeout=60)
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    if added:
        err.print(f"registered search attributes: {', '.join(added)}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # our handlers stop worker and servers together
            yield

    tasks = []
    if run_worker:
        await ensure_schedules(client, settings, config)
        tasks.append(asyncio.create_task(work_until(client, settings, config, stop)))
    http_servers: list[uvicorn.Server] = []
    if run_api:
        api_server = _Server(uvicorn.Config(
            api_app(settings, config, client), host=settings.api_host,
            port=settings.api_port, log_level="warning", access_log=False,
            **uvicorn_options()))
        http_servers.append(api_server)
        tasks.append(asyncio.create_task(api_server.serve()))
        while not api_server.started and not tasks[-1].done():
            await asyncio.sleep(0.05)
    if codec_socket is not None:
        codec_server = _Server(uvicorn.Config(
            codec_app(settings, config, local_ui_secret=codec_secret),
            log_level="warning", access_log=False, **uvicorn_options()))
        http_servers.append(codec_server)
        tasks.append(asyncio.create_task(codec_server.serve(sockets=[codec_socket])))
    mail_in = await open_mail_in(settings, config, client) if take_mail else None
    if banner is not None:
        out.print(banner)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    if mail_in is not None:
        mail_in.close()
    for http_server in http_servers:
        http_server.should_exit = True
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
