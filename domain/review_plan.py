"""What a fired review schedule starts: the period's workflow and its input; and the one
input of a QBR, whether a schedule fired or someone asked for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from domain import reviews
from domain.nps import NpsStart
from domain.person import Person
from domain.qbr import QbrStart
from domain.reviews import Job, Period
from domain.sla.durations import parse_duration
from domain.sla.policy import Priority

if TYPE_CHECKING:
    from domain.tenants import ClientConfig


class ReviewPlan(BaseModel):
    workflow_id: str
    period: str
    nps: NpsStart | None = None
    qbr: QbrStart | None = None


def qbr_start(client: ClientConfig, period: Period, generated_at: datetime,
              public_url: str) -> QbrStart:
    """The QBR of ``client`` for ``period``, made at ``generated_at`` (a schedule's firing or
    a request on demand), from the config as it is now. A quarter not yet over is kept from
    its end, when its final figures are made."""
    cfg = client.reviews
    half = reviews.quarter_half(period.label)
    kept_for = timedelta(seconds=parse_duration(cfg.report_kept_for).seconds)
    return QbrStart(
        client_id=client.id, client_name=client.name, period=period,
        generated_at=generated_at, keep_until=max(generated_at, period.end) + kept_for,
        recipients=account_manager(client),
        url=f"{public_url}/v1/reports/qbr/{client.id}/{period.label}",
        best_effort=[p for p in Priority if client.sla.targets[p].resolution is None],
        answer_targets=cfg.answer_targets, risks=cfg.risk_register,
        nps_workflow_ids=[reviews.review_workflow_id(Job.NPS, client.id, h)
                          for h in (half, reviews.previous_half(half))])


def account_manager(client: ClientConfig) -> list[str]:
    """Who gets the client's QBR."""
    chosen = client.reviews.account_manager
    if chosen is not None:
        return [chosen.email]
    for rung in client.sla.ladder:
        if rung.role.lower() == "account manager" and rung.contact and "@" in rung.contact:
            return [rung.contact.lower()]
    return list(client.notifications.email)


def nps_contacts(client: ClientConfig) -> list[Person]:
    """Who gets the client's NPS survey."""
    if client.reviews.nps_contacts is not None:
        return list(client.reviews.nps_contacts)
    return [Person(name=d.name, email=d.email) for d in client.directors]
