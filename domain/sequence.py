"""Messages of the per-client ticket-number sequence (a tiny durable workflow)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SequenceState(BaseModel):
    prefix: str
    next_number: int = 1
    # Idempotency-Key -> (ticket number, request fingerprint, first seen)
    remembered: dict[str, tuple[int, str, datetime]] = Field(default_factory=dict)


class LeaseRequest(BaseModel):
    """Either a block of fresh numbers (``count``) or the number for one idempotent request."""

    count: int = Field(1, ge=1, le=1000)
    idempotency_key: str | None = Field(None, max_length=255)
    fingerprint: str | None = None
    number: int | None = Field(None, description="with a key: the number the API took from "
                               "its own block, remembered for the key unless it has one")


class Lease(BaseModel):
    first: int
    count: int
    replayed: bool = False       # the idempotency key was seen before
    fingerprint_matches: bool = True
