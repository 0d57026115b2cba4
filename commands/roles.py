"""`tempodesk worker|api|smtp|codec-server`: the production roles, one per process (the
container image's command picks one). What each runs is built in composition.py."""

from __future__ import annotations

import asyncio

import typer

import composition
from commands.common import (
    config_or_exit,
    production_settings,
    run,
    settings_or_exit,
    setup_logging,
)
from console import err, out


def worker_command() -> None:
    """Run a worker against TEMPODESK_TEMPORAL_ADDRESS (any cluster or Temporal Cloud)."""
    setup_logging()
    settings = production_settings()
    run(composition.serve(settings, config_or_exit(settings.config_path),
                          run_worker=True, run_api=False))


def api_command() -> None:
    """Run the HTTP API against TEMPODESK_TEMPORAL_ADDRESS."""
    setup_logging()
    settings = production_settings()
    run(composition.serve(settings, config_or_exit(settings.config_path),
                          run_worker=False, run_api=True))


def smtp_command() -> None:
    """Listen for inbound mail (SMTP) on TEMPODESK_INBOUND_SMTP_HOST/_PORT: each message
    becomes a ticket, a reply on one, or a director's decision on a quote."""
    setup_logging()
    settings = production_settings()
    config = config_or_exit(settings.config_path)

    asyncio.run(composition.take_mail(settings, config))


def codec_server_command() -> None:
    """Decode encrypted payloads for the Temporal Web UI (MSP staff credentials only)."""
    setup_logging()
    settings = settings_or_exit()
    if not settings.encrypts:
        err.print("[red]TEMPODESK_CODEC_KEYS is not set:[/] with no keys nothing is encrypted "
                  "and there is nothing to decode; set TEMPODESK_CODEC_KEYS and "
                  "TEMPODESK_CODEC_KEY_ID as on the workers")
        raise typer.Exit(2)
    url = f"http://{settings.codec_host}:{settings.codec_port}"
    out.print(f"codec server on {url}, for Web UI origins "
              f"{', '.join(settings.codec_cors_origins)}; point the UI at it "
              f"(TEMPORAL_CODEC_ENDPOINT={url}, with TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true "
              "under OIDC sign-in: MSP staff tokens carry the client claim '*'; see "
              "docs/security.md)")
    composition.serve_codec(settings, config_or_exit(settings.config_path))
