"""`tempodesk config check|hash-key`: the clients-and-contracts file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from commands.common import config_or_exit
from console import err, out
from domain.settings import Settings
from domain.tenants import hash_api_key

app = typer.Typer(help="Validate the clients-and-contracts file.", no_args_is_help=True)


@app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="the YAML file")] = Path(
        "tempodesk.yaml")) -> None:
    """Validate FILE; print each problem with its path and the fix."""
    config = config_or_exit(path)
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


@app.command("hash-key")
def config_hash_key(key: str) -> None:
    """Print the SHA-256 to store in the config for an API key."""
    print(hash_api_key(key))
