"""A person the desk writes to by name: a client's director (quote approvals, the default
NPS contacts), an account manager, an NPS contact. One model for the config and the review
workflows, so an address is accepted or refused the same way everywhere."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.text import EmailAddress, OneLine


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: OneLine = Field(min_length=1, max_length=200)
    email: EmailAddress = Field(max_length=320)
