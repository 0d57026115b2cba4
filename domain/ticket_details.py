"""What the Temporal Web UI shows of a ticket (its "User Metadata"): the intake facts and
the SLA targets an incident opened under (static details, set once when the workflow
starts), and every kind's request as it was made (in its current details).

Both reach Temporal through the data converter, so the payload codec seals them like
history (docs/ticket-view.md): the Web UI shows them through the codec server, to MSP staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from domain.incidents import IncidentIntake
from domain.sla.deadlines import ResolvedTarget
from domain.sla.timeline import US

if TYPE_CHECKING:
    from domain.incidents import IncidentStart
    from domain.tenants import ClientConfig


def target_text(target: ResolvedTarget | None, business_day_seconds: int) -> str:
    if target is None:
        return "best effort"
    seconds = target.micros // US
    if target.business and seconds % business_day_seconds == 0:
        length = f"{seconds // business_day_seconds} BD"
    elif seconds % 3600 == 0:
        length = f"{seconds // 3600} h"
    else:
        length = f"{seconds // 60} min"
    clock = "business hours" if target.business else "24x7"
    origin = " from first response" if target.from_first_response else ""
    return f"{length} {clock}{origin}"


def incident_details(start: IncidentStart, client: ClientConfig) -> str:
    report, sla = start.report, start.sla
    contact = report.technical_contact
    pair = sla.targets[start.priority.priority]
    bd = sla.business_day_seconds
    due = sla.deadlines(start.priority.priority, start.opened_at)
    rows = [
        ("Client", f"{client.name} (`{client.id}`)"),
        ("Priority", f"{start.priority.priority.value} - {start.priority.rule}"),
        ("Channel", report.channel.value),
        ("Technical contact", f"{contact.name} <{contact.email}>"),
        ("Raised by", start.raised_by),
        ("Opened", start.opened_at.isoformat(timespec="seconds")),
        ("Response target", target_text(pair.response, bd)
         + (f", due {due.response_due:%Y-%m-%d %H:%M} UTC" if due.response_due else "")),
        ("Resolution target", target_text(pair.resolution, bd)
         + (f", due {due.resolution_due:%Y-%m-%d %H:%M} UTC" if due.resolution_due else "")),
        ("Calendar", f"{sla.policy}, {sla.timezone}; 1 BD = {bd / 3600:g} h"),
    ]
    table = "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)
    questions = "\n".join(f"**{q}** {_cell(getattr(report, f))[:300]}" for q, f in (
        ("Doing:", "doing"), ("Expected:", "expected"), ("Actual:", "actual"),
        ("Tried:", "tried")))
    mail = IncidentIntake.of(report).original_text
    if mail is not None:  # mailed in: the body is the request, not an answer to "doing"
        questions = f"**Mail:** {_cell(mail)[:300]}"
    heading = f"### {start.ticket_id}: {_cell(report.subject)}"
    return f"{heading}\n\n| | |\n|---|---|\n{table}\n\n{questions}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- current details

# Each text of the request in the Web UI's details, at most; the whole is in the ticket's
# view (GET /v1/tickets/{id}, `tempodesk tickets show`).
DETAIL_TEXT_CHARS = 1_000
_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>#|!~"})


def request_details(request: BaseModel | None) -> str:
    """The request as it was made (a kind's ``request`` in its state), as a Markdown table
    for the Web UI's current details: every field given, user text escaped so it reads as
    written (no links, no markup) and each text cut at :data:`DETAIL_TEXT_CHARS`."""
    if request is None:
        return ""
    rows = [(name, value) for name, value in _flattened(request.model_dump(mode="json"))
            if value not in (None, "", [])]
    if not rows:
        return ""
    table = "\n".join(f"| {_label(name)} | {_text(value)} |" for name, value in rows)
    return f"#### Request\n\n| | |\n|---|---|\n{table}"


def _flattened(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for name, value in data.items():
        if isinstance(value, dict):
            rows += _flattened(value, f"{prefix}{name}.")
        elif isinstance(value, list):
            rows.append((f"{prefix}{name}", "; ".join(
                " ".join(str(v) for v in item.values() if v not in (None, ""))
                if isinstance(item, dict) else str(item) for item in value)))
        else:
            rows.append((f"{prefix}{name}", value))
    return rows


def _label(name: str) -> str:
    return name.replace(".", " ").replace("_", " ").capitalize()


def _text(value: object) -> str:
    text = " ".join(str(value).split())  # one line: a table cell
    if len(text) > DETAIL_TEXT_CHARS:
        text = text[:DETAIL_TEXT_CHARS - 1] + "…"
    return text.translate(_MARKDOWN)
