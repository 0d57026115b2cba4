"""The NPS survey: a client's contacts are asked, twice a year, how likely they are to
recommend the MSP (0-10); NPS = % promoters (9-10) - % detractors (0-6).

Each contact gets a signed link (like CSAT's) naming the client, the half-year and a
respondent key - a digest of the address, so the link carries no address - and valid
until the survey closes. One answer per contact.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.person import Person
from domain.reviews import NPS_CONTACTS_MAX
from domain.text import PlainText

NPS_COMMENT_MAX = 2000
RESPONDENT_PATTERN = r"^[0-9a-f]{16}$"
TOKEN_PURPOSE = "nps"


def respondent_key(client_id: str, period: str, email: str) -> str:
    return hashlib.sha256(f"{client_id}\x00{period}\x00{email.lower()}".encode()).hexdigest()[:16]


def token_subject(client_id: str, period: str) -> str:
    return f"{client_id}:{period}"


def parse_token_subject(subject: str) -> tuple[str, str]:
    client_id, _, period = subject.partition(":")
    return client_id, period


class NpsStart(BaseModel):
    """One client's survey for one half-year: decided when the schedule fired."""

    client_id: str
    client_name: str
    period: str = Field(description="the half-year, e.g. 2027-H1")
    sent_at: datetime
    closes_at: datetime
    keep_until: datetime = Field(description="the result is served until then")
    contacts: list[Person] = Field(max_length=NPS_CONTACTS_MAX)


class NpsInvite(BaseModel):
    """One contact's survey e-mail (what the send activity is given)."""

    invite_id: str = Field(description="stable across retries: becomes the Message-ID")
    client_id: str
    client_name: str
    period: str
    contact: Person
    respondent: str
    sent_at: datetime
    closes_at: datetime


class InviteReceipt(BaseModel):
    message_id: str | None = None
    emailed: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


class NpsAnswer(BaseModel):
    """What the survey link's page posts."""

    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=0, le=10, description="0 (not at all likely) to 10 (extremely)")
    comment: PlainText = Field("", max_length=NPS_COMMENT_MAX)


class NpsReply(BaseModel):
    """An answer as the workflow's update receives it: whose (from the signed link)."""

    model_config = ConfigDict(extra="forbid")
    respondent: str = Field(pattern=RESPONDENT_PATTERN)
    score: int = Field(ge=0, le=10)
    comment: PlainText = Field("", max_length=NPS_COMMENT_MAX)


class NpsResponse(BaseModel):
    respondent: str
    score: int
    comment: str = ""
    at: datetime


class Invitation(BaseModel):
    respondent: str
    email: str
    status: str = Field("pending", description="pending, sent or failed")
    message_id: str | None = None
    detail: str = ""


class NpsSummary(BaseModel):
    period: str
    invited: int
    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: int | None = Field(description="% promoters - % detractors, rounded; none without "
                            "answers")


class NpsResult(BaseModel):
    """The survey as it stands (the workflow's query and its result)."""

    client_id: str
    period: str
    sent_at: datetime
    closes_at: datetime
    closed: bool = False
    invitations: list[Invitation] = Field(default_factory=list)
    responses: list[NpsResponse] = Field(default_factory=list)

    def summary(self, until: datetime | None = None) -> NpsSummary:
        """The figures from the answers received by ``until`` (all, if None)."""
        scores = [r.score for r in self.responses if until is None or r.at < until]
        return nps_summary(self.period, len(self.invitations), scores)


def nps_summary(period: str, invited: int, scores: list[int]) -> NpsSummary:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    passives = len(scores) - promoters - detractors
    nps = round(100 * (promoters - detractors) / len(scores)) if scores else None
    return NpsSummary(period=period, invited=invited, responses=len(scores),
                      promoters=promoters, passives=passives, detractors=detractors, nps=nps)

