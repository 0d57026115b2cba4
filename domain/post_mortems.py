"""A post-mortem task: a preventable P1/P2, solved at the root with the technical contact."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PostMortemStart(BaseModel):
    incident: str
    client_id: str
    subject: str
    technical_contact: str
    due_at: datetime


class PostMortemCompletion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root_cause: str = Field(min_length=3, max_length=20_000)
    actions: str = Field("", max_length=20_000)
    by: str = ""


class PostMortemView(BaseModel):
    incident: str
    client_id: str
    status: str = "open"  # open -> done
    due_at: datetime
    reminders: int = 0
    completion: PostMortemCompletion | None = None
