"""Write ``docs/qbr-example.pdf`` (and ``docs/qbr-example.html``): the QBR of a made-up
quarter for the demo BetterWorld client (Hudson Freight), with its answer targets (seed
001) and risk register (seed 000) from ``tempodesk.yaml``.

    .venv/bin/python -m bench.qbr_example

The tickets are drawn from a seeded random generator and pass through the same code as a
real report (``domain.qbr.qbr_figures`` then ``domain.documents.qbr``): the same command
writes the same bytes.
"""

from __future__ import annotations

import random
import sys
from datetime import timedelta
from pathlib import Path

from domain.documents.qbr import qbr_html, qbr_pdf
from domain.ids import TicketKind
from domain.incidents import Channel
from domain.msp import MspLines, document_lines
from domain.nps import nps_summary
from domain.qbr import QbrFigures, QbrInputs, TicketFacts, qbr_figures
from domain.reviews import quarter
from domain.sla.policy import Priority
from domain.tenants import load_config

REPO = Path(__file__).resolve().parent.parent
# Hours to respond and to resolve (from opening) the generator draws around, by priority.
_SHAPE = {Priority.P1: (0.6, 14), Priority.P2: (1.5, 30), Priority.P3: (5, 70),
          Priority.P4: (7, 120)}
_TARGETS = {Priority.P1: (1, 24), Priority.P2: (2, 36), Priority.P3: (6, 5 * 24),
            Priority.P4: (8, 7 * 24)}  # BetterWorld's, elapsed (business days as 24 h)
_CHANNEL_WAIT = {Channel.EMAIL: 9.0, Channel.PHONE: 0.8, Channel.CHAT: 0.07,
                 Channel.PORTAL: 2.0, Channel.MONITORING: 0.3}


def example_figures(seed: int = 11) -> QbrFigures:
    config = load_config(REPO / "tempodesk.yaml")
    client = config.client("betterworld")
    assert client is not None
    period = quarter("2027-Q1", client.sla.calendar.timezone)
    rng = random.Random(seed)
    tickets: list[TicketFacts] = []
    span = (period.end - period.start).total_seconds()
    for n in range(1, 73):
        opened = period.start + timedelta(seconds=rng.uniform(0, span))
        kind = rng.choices([TicketKind.INCIDENT, TicketKind.SERVICE_REQUEST,
                            TicketKind.ONBOARDING, TicketKind.OFFBOARDING, TicketKind.QUOTE],
                           [60, 20, 6, 4, 2])[0]
        priority = rng.choices(list(Priority), [4, 12, 30, 14])[0]
        channel = rng.choices(list(_CHANNEL_WAIT), [30, 12, 14, 30, 14])[0]
        respond_h = rng.expovariate(1 / _CHANNEL_WAIT[channel])
        resolve_h = respond_h + rng.expovariate(1 / _SHAPE[priority][1])
        response_target, resolution_target = _TARGETS[priority]
        response = timedelta(hours=respond_h)
        resolved = timedelta(hours=resolve_h)
        category = {TicketKind.INCIDENT: f"Incident {priority.value}",
                    TicketKind.SERVICE_REQUEST: rng.choice(
                        ["Service request: basic (add)", "Service request: basic (change)",
                         "Advisory: quick answer"]),
                    TicketKind.ONBOARDING: "Onboarding (new user)",
                    TicketKind.OFFBOARDING: "Offboarding (user exit)",
                    TicketKind.QUOTE: "Quote"}[kind]
        incident = kind is TicketKind.INCIDENT
        tickets.append(TicketFacts(
            ticket_id=f"BWT-{n:06d}", kind=kind, priority=priority, category=category,
            opened_at=opened, first_response_at=opened + response,
            resolved_at=opened + resolved,
            response_breached_at=(opened + timedelta(hours=response_target)
                                  if incident and respond_h > response_target else None),
            resolution_breached_at=(opened + timedelta(hours=resolution_target)
                                    if incident and resolve_h > resolution_target else None),
            csat_score=rng.choices([None, 5, 4, 3, 2], [45, 30, 15, 7, 3])[0],
            channel=channel.value if incident else None))
    nps = nps_summary("2027-H1", 12, [10, 9, 9, 9, 8, 8, 7, 6, 10])
    return qbr_figures(QbrInputs(
        client_id=client.id, client_name=client.name, period=period,
        generated_at=period.end + timedelta(hours=13), tickets=tickets, nps=nps,
        answer_targets=client.reviews.answer_targets, risks=client.reviews.risk_register))


def example_msp() -> MspLines:
    """The demo MSP (``msp:`` in tempodesk.yaml), as the report prints it."""
    return document_lines(load_config(REPO / "tempodesk.yaml").msp)


def main() -> None:
    figures = example_figures()
    out = REPO / "docs"
    out.mkdir(exist_ok=True)
    (out / "qbr-example.pdf").write_bytes(qbr_pdf(figures, msp=example_msp()))
    (out / "qbr-example.html").write_text(qbr_html(
        figures, url="http://127.0.0.1:8000/v1/reports/qbr/betterworld/2027-Q1",
        msp=example_msp()))
    print(f"wrote {out / 'qbr-example.pdf'} and {out / 'qbr-example.html'}", file=sys.stderr)


if __name__ == "__main__":
    main()
