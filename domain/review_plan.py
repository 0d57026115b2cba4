"""What a fired review schedule starts: the period's workflow and its input."""

from __future__ import annotations

from pydantic import BaseModel

from domain.nps import NpsStart
from domain.qbr import QbrStart


class ReviewPlan(BaseModel):
    workflow_id: str
    period: str
    nps: NpsStart | None = None
    qbr: QbrStart | None = None
