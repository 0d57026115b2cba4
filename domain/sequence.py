"""Messages of the per-client ticket-number sequence (a tiny durable workflow)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SequenceState(BaseModel):
    prefix: str
    next_number: int = 1


class LeaseRequest(BaseModel):
    """A block of fresh numbers."""

    count: int = Field(1, ge=1, le=1000)


class Lease(BaseModel):
    first: int
    count: int
