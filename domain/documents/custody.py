"""The chain-of-custody document of a user exit: the leaver, when access ended, each device
and every hand-over of it, and the SHA-256 of the custody log so a printed copy can be
checked against the ticket.

The digest is over the ticket's ``custody`` list exactly as ``GET /v1/tickets/{id}`` shows
it, as canonical JSON (keys sorted, no whitespace, UTF-8, in the order recorded), so anyone
can check a print-out with ``jq -jcS .custody ticket.json | sha256sum``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.documents.pdf import Document, utc_text
from domain.offboarding import CustodyEntry, DeviceState, OffboardingView

TITLE = "Chain of custody"


def custody_json(custody: list[CustodyEntry]) -> bytes:
    entries = [entry.model_dump(mode="json") for entry in custody]
    return json.dumps(entries, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def custody_digest(custody: list[CustodyEntry]) -> str:
    return hashlib.sha256(custody_json(custody)).hexdigest()


def as_of(view: OffboardingView) -> datetime:
    """The newest instant the document shows: the ``generated_at`` that makes it a function
    of what it shows (same custody, same bytes; a notice or comment on the ticket changes
    nothing)."""
    instants = [view.opened_at, view.access_revoked_at, *(c.at for c in view.custody)]
    instants += [d.returned_at for d in view.devices] + [d.wiped_at for d in view.devices]
    return max(at for at in instants if at is not None)


def custody_pdf(view: OffboardingView, client_name: str, generated_at: datetime, *,
                zone: str | None = None, msp_name: str = "Tempodesk") -> bytes:
    """The PDF; times in UTC and, with ``zone`` (IANA, the client's), in local time too."""
    local = ZoneInfo(zone) if zone else None

    def when(at: datetime | None, missing: str = "-") -> str:
        if at is None:
            return missing
        text = utc_text(at)
        if local is not None:
            text += f" ({at.astimezone(local):%Y-%m-%d %H:%M:%S %Z})"
        return text

    doc = Document(title=TITLE, reference=view.ticket_id, msp_name=msp_name,
                   client_name=client_name, generated_at=generated_at)
    doc.heading("Leaver")
    doc.fields([
        ("Employee", view.employee),
        ("Account (UPN)", view.user_principal_name),
        ("Access ends (effective)", when(view.effective_at)),
        ("Access revoked", when(view.access_revoked_at, "not yet")),
        ("Hardware due back by", when(view.return_by)),
        *([("Local time zone", zone)] if zone else []),
    ])

    doc.heading("Devices")
    if view.devices:
        doc.grid(["Serial", "Kind", "State", "When"],
                 [[d.device.serial, d.device.kind.value, *_device_state(d, view, when)]
                  for d in view.devices], col_widths=(35, 20, 35, 90))
    else:
        doc.paragraph("No hardware was listed on this exit.")

    local_heading = "When (local)" if local else None
    serials = [d.device.serial for d in view.devices]
    others = sorted({c.serial for c in view.custody} - set(serials))
    for serial in [*serials, *others]:
        entries = sorted((c for c in view.custody if c.serial == serial), key=lambda c: c.at)
        doc.heading(f"Custody of {serial}")
        if not entries:
            doc.paragraph("No hand-over recorded yet.")
            continue
        headings = ["When (UTC)", *([local_heading] if local_heading else []), "Event", "By",
                    "Condition"]
        widths = (36, 38, 25, 35, 46) if local else (36, 28, 50, 66)
        rows = []
        for c in entries:
            at_local = ([f"{c.at.astimezone(local):%Y-%m-%d %H:%M:%S %Z}"] if local else [])
            rows.append([utc_text(c.at), *at_local, c.event, c.by or "-", c.condition or "-"])
        doc.grid(headings, rows, col_widths=widths)

    doc.heading("Integrity")
    doc.paragraph("SHA-256 of the ticket's custody log as canonical JSON (keys sorted, no "
                  "whitespace, UTF-8, in recorded order); check a printed copy with "
                  f"`jq -jcS .custody` on GET /v1/tickets/{view.ticket_id} piped to sha256sum:")
    doc.paragraph(custody_digest(view.custody), size=9, mono=True)
    if doc.approximated:
        # Set while drawing: everything above (header included) has been drawn by now.
        doc.paragraph("Some text has characters this document's fonts cannot draw: they are "
                      "shown without accents or as [U+code point]. The ticket, and the "
                      "digest, hold the exact text.", size=8)
    return doc.render()


def _device_state(d: DeviceState, view: OffboardingView, when) -> list[str]:
    if d.returned_at is not None:
        return ["returned", when(d.returned_at)]
    if d.wiped_at is not None:
        return ["remote-wiped", when(d.wiped_at)]
    requested = [c.at for c in view.custody
                 if c.serial == d.device.serial and c.event == "wipe_requested"]
    if requested:
        return ["wipe requested", when(max(requested))]
    return ["awaited", f"due back by {when(view.return_by)}"]
