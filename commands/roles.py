"""`tempodesk worker|api|smtp|codec-server`: the production roles, one per process (the
container image's command picks one). What each runs is built in composition.py."""

from __future__ import annotations

import asyncio
import signal

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

    async def listen() -> None:
        from api.smtp import serve_smtp
        from temporal_client import connect

        state = composition.desk_state(settings, config, await connect(settings))
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


def codec_server_command() -> None:
    """Decode encrypted payloads for the Temporal Web UI (MSP staff credentials only)."""
    import uvicorn

    from api.limits import uvicorn_options

    setup_logging()
    settings = settings_or_exit()
    if not settings.encrypts:
        err.print("[red]TEMPODESK_CODEC_KEYS is not set:[/] with no keys nothing is encrypted "
                  "and there is nothing to decode; set TEMPODESK_CODEC_KEYS and "
                  "TEMPODESK_CODEC_KEY_ID as on the workers")
        raise typer.Exit(2)
    app_ = composition.codec_app(settings, config_or_exit(settings.config_path))
    url = f"http://{settings.codec_host}:{settings.codec_port}"
    out.print(f"codec server on {url}, for Web UI origins "
              f"{', '.join(settings.codec_cors_origins)}; point the UI at it "
              f"(TEMPORAL_CODEC_ENDPOINT={url}, with TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true "
              "under OIDC sign-in: MSP staff tokens carry the client claim '*'; see "
              "docs/security.md)")
    uvicorn.run(app_, host=settings.codec_host, port=settings.codec_port, log_level="warning",
                access_log=False, **uvicorn_options())
