"""What every provider-driven process (user exits, new users) records per step: done,
failing, or handed to an agent; and what a provider activity answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class StepState(BaseModel):
    """One step a provider carries out (disable account, assign licences, ...)."""

    name: str
    done_at: datetime | None = None
    attempts_failed: int = 0
    last_error: str | None = None
    needs_agent: bool = False
    started_at: datetime | None = Field(None, description="when it was first tried (a "
                                        "cancelled onboarding undoes what was started)")
    undone_at: datetime | None = Field(None, description="compensated after a cancellation")


class ProviderResult(BaseModel):
    detail: str = ""
    resource_id: str | None = Field(None, description="what the provider created (an "
                                    "account's object id, a device uid), for later steps")
