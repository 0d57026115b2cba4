"""The quote a client's director approves: who it is from and for, the line items, the
totals in the quote's currency, until when it may be approved (the end of day 14 in the
client's zone, shown as the last day it is valid), the notes and, only when the totals
carry them (AUD totals over AU$10,000), the indicative finance (rental / OPEX) options.

A pure function of its inputs: dated by ``issued_at`` (also the PDF's creation date), so
the same quote gives the same bytes, and the SHA-256 recorded with a decision is that of
the exact document decided on. Day and month names are written here, not by ``strftime``,
so the host's locale never changes the bytes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos

from domain.documents.pdf import DAYS, MONTHS, Document, utc_text
from domain.quote_lines import QuoteDocument, QuoteDraft, Totals

TITLE = "Quote"
FINANCE_HEADING = "Finance options (rental / OPEX)"
# Description, quantity, unit price, amount, tax rate: the 180 mm between A4's margins.
_LINE_WIDTHS = (78, 20, 30, 32, 20)
_LINE_ALIGN = ("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")


def day_text(day: date) -> str:
    """"Wednesday 8 April 2026", whatever the host's locale."""
    return f"{DAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def amount_text(value: Decimal) -> str:
    """Thousands separators and 2 decimals: "12,000.00"."""
    return f"{value:,.2f}"


def money_text(value: Decimal, currency: str) -> str:
    return f"{currency} {amount_text(value)}"


def quantity_text(value: Decimal) -> str:
    """As entered, without trailing zeros: "80", "1.5", "100,000"."""
    return f"{value.normalize():,f}"


def rate_text(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def validity_text(valid_until: datetime, zone: str) -> str:
    """The last day the quote is valid when it ends at a local midnight (as
    :func:`domain.quotes.valid_until` makes it), else the local time it ends."""
    local = valid_until.astimezone(ZoneInfo(zone))
    if local.time() == time():
        return f"Valid until the end of {day_text(local.date() - timedelta(days=1))} ({zone})"
    return f"Valid until {local:%H:%M} {local.tzname()} on {day_text(local.date())} ({zone})"


def document_pdf(doc: QuoteDocument) -> bytes:
    """The PDF of a quote as issued: the e-mail, the signed link and the recorded SHA-256
    all come from this one rendering of the one document."""
    if doc.msp is None:  # issued before documents carried the MSP: the same bytes as then
        return quote_pdf(doc.quote_id, doc.draft, doc.totals, doc.client_name, doc.issued_at,
                         doc.valid_until, doc.zone)
    return quote_pdf(doc.quote_id, doc.draft, doc.totals, doc.client_name, doc.issued_at,
                     doc.valid_until, doc.zone, msp_name=doc.msp.name,
                     msp_contact=doc.msp.contact, terms=doc.msp.terms)


def quote_pdf(quote_id: str, draft: QuoteDraft, totals: Totals, client_name: str,
              issued_at: datetime, valid_until: datetime, zone: str, *,
              msp_name: str = "Tempodesk", msp_contact: str = "", terms: str = "") -> bytes:
    """The PDF of quote ``quote_id``; dates in the client's ``zone`` (IANA); the MSP's
    contact line under its name and its terms at the end, when given."""
    if valid_until.tzinfo is None:
        raise ValueError("valid_until must be timezone-aware")
    local = ZoneInfo(zone)
    currency = draft.currency
    doc = Document(title=TITLE, reference=quote_id, msp_name=msp_name,
                   client_name=client_name, generated_at=issued_at, msp_contact=msp_contact)

    issued = issued_at.astimezone(local)
    doc.fields([
        ("Title", draft.title),
        ("Issued", f"{day_text(issued.date())}, {issued:%H:%M} {issued.tzname()} ({zone})"),
        *([("Service request", draft.request_id)] if draft.request_id else []),
        *([("Replaces quote", draft.supersedes)] if draft.supersedes else []),
        ("Currency", currency),
    ], label_width=35)
    doc.ln(2)
    doc.set_font("Helvetica", "B", 10)
    doc.multi_cell(0, doc.LINE, validity_text(valid_until, zone), new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    doc.paragraph(f"It expires at {utc_text(valid_until)}. Only a director of {client_name} "
                  "may approve it.")

    doc.heading("Line items")
    doc.grid(["Description", "Quantity", f"Unit price ({currency})", f"Amount ({currency})",
              "Tax rate"],
             [[line.description, quantity_text(line.quantity), amount_text(line.unit_price),
               amount_text(line.amount), rate_text(line.tax_rate)] for line in draft.lines],
             col_widths=_LINE_WIDTHS, align=_LINE_ALIGN)
    _totals(doc, totals, currency)

    if totals.finance:
        doc.heading(FINANCE_HEADING)
        doc.paragraph("Indicative only: paying the total monthly over a term instead of up "
                      "front, subject to the financier's approval; the financier confirms the "
                      "rate and the figures.")
        doc.grid(["Term", f"Monthly payment ({currency})", f"Total payable ({currency})"],
                 [[f"{option.months} months", amount_text(option.monthly),
                   amount_text(option.total)] for option in totals.finance],
                 col_widths=(40, 70, 70), align=("LEFT", "RIGHT", "RIGHT"))

    if draft.notes.strip():
        doc.heading("Notes")
        doc.paragraph(draft.notes)
    if terms.strip():
        doc.heading("Terms")
        doc.paragraph(terms)
    if doc.approximated:
        # Set while drawing: everything above (header included) has been drawn by now.
        doc.paragraph("Some text has characters this document's fonts cannot draw: they are "
                      "shown without accents or as [U+code point]. The quote's record holds "
                      "the exact text.", size=8)
    return doc.render()


def _totals(doc: Document, totals: Totals, currency: str) -> None:
    """Subtotal, tax and total under the table, flush with its right edge, on one page."""
    rows = [("Subtotal (excl. tax)", totals.subtotal, ""), ("Tax", totals.tax, ""),
            ("Total (incl. tax)", totals.total, "B")]
    if doc.will_page_break(len(rows) * doc.LINE):
        doc.add_page()
    label_x = doc.l_margin + _LINE_WIDTHS[0]
    label_w = _LINE_WIDTHS[1] + _LINE_WIDTHS[2]
    value_w = _LINE_WIDTHS[3] + _LINE_WIDTHS[4]
    for label, value, style in rows:
        doc.set_x(label_x)
        doc.set_font("Helvetica", style, 9)
        doc.cell(label_w, doc.LINE, label, align="R")
        doc.cell(value_w, doc.LINE, money_text(value, currency), align="R",
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
