"""What several command groups share: settings and config loaded with their problems printed
(exit status 2), logging, the event loop, tables, and a Temporal client for operators."""

from __future__ import annotations

import asyncio
import logging
import os
from enum import StrEnum
from pathlib import Path

import typer
from pydantic import ValidationError

from console import err, out
from domain.settings import Settings
from domain.tenants import ConfigError, TempodeskConfig, load_config


class Output(StrEnum):
    TABLE = "table"
    JSON = "json"


def settings_or_exit() -> Settings:
    """Settings from the environment; a bad value is a line on stderr and exit status 2."""
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


def config_or_exit(path: Path) -> TempodeskConfig:
    """The clients file; each problem on stderr with its path, and exit status 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]{exc.path}[/] is not usable:")
        for problem in exc.problems:
            err.print(f"  - {problem}")
        raise typer.Exit(2) from exc


def production_settings() -> Settings:
    """Settings for `worker` and `api`: every replica needs the same secret, so it is set
    in the environment, never made up here."""
    settings = settings_or_exit()
    if settings.signing_secret is None:
        err.print("[red]TEMPODESK_SIGNING_SECRET is not set:[/] set it to a long random value "
                  "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), the "
                  "same on every worker and API replica")
        raise typer.Exit(2)
    return settings


def operator_settings() -> Settings:
    """The tickets and reports commands read what `make run` wrote: with no codec key in the
    environment, the key `tempodesk dev` encrypts with (``codec-key`` in its data directory,
    .data/ or TEMPODESK_DATA_DIR), if there is one."""
    from dev_stack import with_dev_codec

    settings = settings_or_exit()
    if settings.codec_keys or not (settings.data_dir / "codec-key").is_file():
        return settings
    return with_dev_codec(settings)


def setup_logging() -> None:
    logging.basicConfig(level=os.environ.get("TEMPODESK_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(main) -> None:
    """Run ``main`` on uvloop where it is installed (uvicorn[standard] brings it)."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def table(rows: list[dict], columns: dict[str, str], wrap: frozenset[str] = frozenset()) -> None:
    """``columns``: field -> header. Columns of ids and short codes are never cut; those in
    ``wrap`` (free text) fold rather than end in an ellipsis. Cells are plain text: user
    text such as ``[/bold]`` is printed as written, never read as markup."""
    from rich.table import Table
    from rich.text import Text

    shown = Table()
    for field, header in columns.items():
        shown.add_column(header, no_wrap=field not in wrap, overflow="fold")
    for row in rows:
        shown.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in columns))
    out.print(shown)


def with_temporal(action):
    """Run ``action(client)`` on a new client (``cli.main`` spares the process the teardown
    in which a client's threads can abort it). A payload the keys cannot decrypt is one line
    on stderr and exit status 1, never a traceback."""
    from payload_codec import ENCODING, CodecError
    from temporal_client import connect

    async def run_action():
        settings = operator_settings()
        try:
            temporal = await connect(settings)
        except RuntimeError as exc:  # "Failed client connect: ..."
            err.print(f"cannot reach Temporal at {settings.temporal_address}: is `make run` "
                      "running? (elsewhere set TEMPODESK_TEMPORAL_ADDRESS) - "
                      f"{str(exc)[:300]}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        return await action(temporal)

    try:
        return asyncio.run(run_action())
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
