"""A quote's lines and money: line items, exact decimal totals and tax, finance (rental /
OPEX) options over AU$10,000, validity to the end of day 14 in the client's zone, and what
its PDF and its approval links are made from. No ticket types here: notices carry these."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.msp import MspLines
from domain.text import OneLine, PlainText

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


class QuoteDocument(BaseModel):
    """Everything the quote's PDF is rendered from (the same bytes every time)."""

    quote_id: str
    draft: QuoteDraft
    totals: Totals
    client_name: str
    issued_at: datetime
    valid_until: datetime
    zone: str
    msp: MspLines | None = Field(None, description="the MSP's name, contact and terms as "
                                 "printed (quotes issued before it print the defaults)")


class ApprovalLink(BaseModel):
    """A director's signed link to the approval page, valid as long as the quote."""

    quote_id: str
    director_email: str
    expires_at: datetime
