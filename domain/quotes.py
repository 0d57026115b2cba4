"""Quotes that only a director of the client may approve (seed 000 "Quotes & Approvals",
seed 003): line items, tax and totals in exact decimal money, validity to the end of day
14 in the client's zone, reminders on days 7 and 13, finance (rental / OPEX) options over
AU$10,000, and the decisions with who, when, from where and the SHA-256 of the exact PDF.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import TicketKind
from domain.tickets import OneLine, PlainText, TicketStart, TicketState, TicketView

CENT = Decimal("0.01")
VALID_DAYS = 14
REMINDER_DAYS = (7, 13)
REMINDER_HOUR = 9                       # local time on the reminder days
FINANCE_THRESHOLD = Decimal("10000")    # AU$: rental / OPEX options offered above it
FINANCE_CURRENCY = "AUD"
FINANCE_TERMS_MONTHS = (24, 36, 48)
FINANCE_RATE_PA = Decimal("0.095")      # indicative; the financier confirms
LINES_MAX = 50


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: OneLine = Field(min_length=1, max_length=200)
    quantity: Decimal = Field(gt=0, le=100_000, max_digits=10, decimal_places=3)
    unit_price: Decimal = Field(ge=0, le=10_000_000, max_digits=12, decimal_places=2)
    tax_rate: Decimal = Field(Decimal("0.10"), ge=0, le=1, max_digits=5, decimal_places=4,
                              description="e.g. 0.10 for Australian GST")

    @property
    def amount(self) -> Decimal:
        return money(self.quantity * self.unit_price)

    @property
    def tax(self) -> Decimal:
        return money(self.amount * self.tax_rate)


class QuoteDraft(BaseModel):
    """What an agent sends to ``POST /v1/quotes``."""

    model_config = ConfigDict(extra="forbid")
    client_id: str | None = Field(None, max_length=32, description="MSP staff name the client")
    request_id: str | None = Field(None, max_length=18, description="the service request "
                                   "it prices (told of expiry and approval)")
    title: OneLine = Field(min_length=3, max_length=200)
    currency: str = Field(FINANCE_CURRENCY, pattern=r"^[A-Z]{3}$")
    lines: list[LineItem] = Field(min_length=1, max_length=LINES_MAX)
    notes: PlainText = Field("", max_length=2000)
    install_days: int = Field(10, ge=1, le=180, description="business days from approval "
                              "to the install, for the schedule posted on approval")
    supersedes: str | None = Field(None, max_length=18, description="the quote this revises "
                                   "(it can no longer be approved)")


class FinanceOption(BaseModel):
    months: int
    monthly: Decimal
    total: Decimal


class Totals(BaseModel):
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    finance: list[FinanceOption] = Field(default_factory=list, description="rental / OPEX, "
                                         "offered over AU$10,000")


def totals(draft: QuoteDraft) -> Totals:
    subtotal = money(sum((line.amount for line in draft.lines), Decimal(0)))
    tax = money(sum((line.tax for line in draft.lines), Decimal(0)))
    total = subtotal + tax
    finance = []
    if draft.currency == FINANCE_CURRENCY and total > FINANCE_THRESHOLD:
        finance = [finance_option(total, months) for months in FINANCE_TERMS_MONTHS]
    return Totals(subtotal=subtotal, tax=tax, total=total, finance=finance)


def finance_option(total: Decimal, months: int) -> FinanceOption:
    """An annuity at FINANCE_RATE_PA: monthly = P r / (1 - (1 + r)^-n)."""
    rate = FINANCE_RATE_PA / 12
    monthly = money(total * rate / (1 - (1 + rate) ** -months))
    return FinanceOption(months=months, monthly=monthly, total=money(monthly * months))


def valid_until(issued_at: datetime, zone: str) -> datetime:
    """The end of day 14 in the client's zone (the day after issue is day 1): the instant
    day 15 begins, whatever daylight saving does in between."""
    local = issued_at.astimezone(ZoneInfo(zone)).date()
    return datetime.combine(local + timedelta(days=VALID_DAYS + 1), time(), ZoneInfo(zone))


def reminders(issued_at: datetime, zone: str) -> list[datetime]:
    local: date = issued_at.astimezone(ZoneInfo(zone)).date()
    return [datetime.combine(local + timedelta(days=day), time(REMINDER_HOUR), ZoneInfo(zone))
            for day in REMINDER_DAYS]


class QuoteState(StrEnum):
    SENT = "sent"
    APPROVED = "approved"
    DECLINED = "declined"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"


class Channel(StrEnum):
    API = "api"
    LINK = "link"       # the signed approval page
    EMAIL = "email"     # a director's reply "Approved"


class Decision(BaseModel):
    """A director's decision, as it reaches the quote (update or signal)."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    reason: PlainText = Field("", max_length=1000)
    by: str = Field("", description="set from the credential or the signed link")
    director_email: str = ""
    channel: Channel = Channel.API
    ip: str = Field("", max_length=64)


class DecisionRecord(BaseModel):
    approve: bool
    reason: str
    by: str
    director_email: str
    channel: Channel
    ip: str
    at: datetime
    pdf_sha256: str = Field(description="the exact document decided on")


class Order(BaseModel):
    """What the procurement system answered for the approved quote."""

    order_id: str
    eta: date
    install_on: date


class QuoteStart(TicketStart):
    draft: QuoteDraft
    totals: Totals
    pdf_sha256: str
    directors: list[str] = Field(description="e-mail addresses of the client's directors")
    requester: str = Field(description="who hears of the order's ETA and install")
    zone: str
    state: QuoteRecordState | None = None


class QuoteFacts(BaseModel):
    kind: TicketKind = TicketKind.QUOTE
    title: str
    request_id: str | None = None
    currency: str
    lines: list[LineItem]
    totals: Totals
    quote_state: QuoteState = QuoteState.SENT
    valid_until: datetime
    reminders_sent: list[datetime] = Field(default_factory=list)
    pdf_sha256: str
    decision: DecisionRecord | None = None
    refused_decisions: int = Field(0, description="decisions refused inside the workflow "
                                   "(e-mail replies from non-directors, after expiry, ...)")
    superseded_by: str | None = None
    order: Order | None = None
    order_failed: str | None = None


class QuoteRecordState(QuoteFacts, TicketState):
    def view(self) -> QuoteView:
        return QuoteView.model_validate(self.view_fields())


class QuoteView(QuoteFacts, TicketView):
    """What queries answer for a quote."""


class Supersede(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by_quote: str
    by: str = ""


def decision_refusal(state: QuoteFacts, decision: Decision, directors: list[str],
                     now: datetime) -> str | None:
    """Why ``decision`` may not take effect (None: it may). One rule for the update's
    validator and the e-mail signal."""
    if decision.director_email.lower() not in {d.lower() for d in directors}:
        return "only a director of the client may decide on a quote"
    if state.quote_state is QuoteState.SUPERSEDED:
        return f"this quote was revised: decide on {state.superseded_by} instead"
    if state.quote_state is QuoteState.EXPIRED or now >= state.valid_until:
        return f"this quote expired at {state.valid_until.isoformat()}: ask for a new one"
    if state.decision is not None and state.decision.approve != decision.approve:
        done = "approved" if state.decision.approve else "declined"
        return f"this quote was {done} already by {state.decision.by}"
    if not decision.approve and not decision.reason:
        return "say why the quote is declined in 'reason'"
    return None
