"""`tempodesk sla preview [--jsonl]`: a ticket's SLA deadlines under a policy."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from commands.common import config_or_exit
from console import err
from domain.errors import one_line
from domain.sla.policy import Priority, SlaPolicy
from domain.sla.preview import PreviewRequest, preset_policy, preview

app = typer.Typer(help="SLA deadlines.", no_args_is_help=True)


def policy_named(name: str, config_path: Path) -> SlaPolicy:
    """A client id names that client's own policy (its preset plus overrides), so it wins
    over a preset of the same name."""
    if config_path.is_file():
        client = config_or_exit(config_path).client(name)
        if client is not None:
            return client.sla
    policy = preset_policy(name)
    if policy is not None:
        return policy
    raise ValueError(f"no policy {name!r}: use a preset (belton, betterworld, plexacet) or a "
                     f"client id from {config_path}")


def preview_line(raw: dict, config_path: Path, policies: dict[str, SlaPolicy]) -> dict:
    """One preview request (a JSON object) answered as JSON; ``policies`` caches the
    policies named so far."""
    request = PreviewRequest.model_validate(raw)
    if request.policy not in policies:
        policies[request.policy] = policy_named(request.policy, config_path)
    return preview(request, policies[request.policy]).model_dump(mode="json")


def error_text(exc: Exception) -> str:
    """A refused preview line's error, in one line."""
    if isinstance(exc, ValidationError):
        return one_line(exc.errors())
    return str(exc)


def preview_jsonl(config: Path, policies: dict[str, SlaPolicy]) -> int:
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
                result = preview_line(json.loads(line), config, policies)
            except (ValueError, ValidationError) as exc:
                failures += 1
                result = {"line": number, "error": error_text(exc)}
            text = json.dumps(result)
        write(text + "\n")
    return 1 if failures else 0


@app.command("preview")
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
        raise typer.Exit(preview_jsonl(config, policies))
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
        print(json.dumps(preview_line(raw, config, policies)))
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]error:[/] {error_text(exc)}")
        raise typer.Exit(2) from exc
