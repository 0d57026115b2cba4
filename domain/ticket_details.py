"""What the Temporal Web UI shows in a ticket's "Details" panel: the intake facts and the
SLA targets it opened under (Markdown, set once when the workflow starts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    heading = f"### {start.ticket_id}: {_cell(report.subject)}"
    return f"{heading}\n\n| | |\n|---|---|\n{table}\n\n{questions}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
