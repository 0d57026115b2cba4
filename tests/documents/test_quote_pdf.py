"""The quote PDF: the line items and totals in the quote's currency, the last day it is
valid in the client's zone, the finance options only when the totals carry them, pages for
a long quote, and the same quote giving the same bytes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.documents.quote import FINANCE_HEADING, day_text, quote_pdf
from domain.quote_lines import LINES_MAX, QuoteDraft, totals, valid_until
from tests.documents.pdf_text import pdf_text

ZONE = "Australia/Melbourne"
# 10:00 AEDT (+11) on Wednesday 25 March 2026; Melbourne goes back to AEST (+10) on Sunday
# 5 April, so the end of day 14 (Wednesday 8 April) is 14:00 UTC, not 13:00.
ISSUED = datetime(2026, 3, 25, 10, 0, tzinfo=ZoneInfo(ZONE))
CLIENT = "Harbourside Legal (Belton contract)"
ENGINEERING = {"description": "Engineer time: core switch replacement", "quantity": "80",
               "unit_price": "150"}


def draft(*lines: dict, currency: str = "AUD", notes: str = "") -> QuoteDraft:
    return QuoteDraft(title="Core network refresh", currency=currency,
                      lines=list(lines) or [ENGINEERING], notes=notes)


def render(quote: QuoteDraft, issued_at: datetime = ISSUED, zone: str = ZONE) -> bytes:
    return quote_pdf("QUO-000042", quote, totals(quote), CLIENT, issued_at,
                     valid_until(issued_at, zone), zone, msp_name="Belton IT")


def test_shows_the_header_every_line_item_and_the_totals():
    quote = draft(ENGINEERING,
                  {"description": "Cat6 patch leads (box of 50)", "quantity": "2.5",
                   "unit_price": "1234.5", "tax_rate": "0"},
                  notes="Prices exclude travel outside the metro area.\nInstall after hours.")
    text = pdf_text(render(quote))
    for expected in ("Belton IT", f"Client: {CLIENT}", "Quote - QUO-000042",
                     "Core network refresh",
                     "Wednesday 25 March 2026, 10:00 AEDT (Australia/Melbourne)",
                     "Engineer time: core switch replacement", "80", "150.00", "12,000.00",
                     "10%",
                     "Cat6 patch leads (box of 50)", "2.5", "1,234.50", "3,086.25", "0%",
                     "Prices exclude travel outside the metro area.", "Install after hours."):
        assert expected in text.splitlines(), expected
    sums = totals(quote)
    assert (sums.subtotal, sums.tax, sums.total) == tuple(
        map(Decimal, ("15086.25", "1200.00", "16286.25")))
    assert ("Subtotal (excl. tax)\nAUD 15,086.25\nTax\nAUD 1,200.00\n"
            "Total (incl. tax)\nAUD 16,286.25\n") in text
    assert text.index("3,086.25") < text.index("Subtotal")  # totals after the lines
    assert re.search(r"Page 1 of\s*1\b", text)
    assert "cannot draw" not in text


def test_valid_until_the_end_of_day_14_in_the_clients_zone_across_the_dst_change():
    ends = valid_until(ISSUED, ZONE)
    assert ends == datetime(2026, 4, 8, 14, 0, tzinfo=UTC)  # midnight AEST starting 9 April
    text = pdf_text(render(draft()))
    assert ("Valid until the end of Wednesday 8 April 2026 (Australia/Melbourne)"
            in text.splitlines())
    assert "2026-04-08 14:00:00 UTC" in text
    assert "9 April" not in text and "7 April" not in text
    # 23:30 UTC on the 25th is already the 26th in Melbourne: one more day.
    late = datetime(2026, 3, 25, 23, 30, tzinfo=UTC)
    text = pdf_text(render(draft(), issued_at=late))
    assert "Valid until the end of Thursday 9 April 2026 (Australia/Melbourne)" in text
    assert day_text(datetime(2026, 4, 5).date()) == "Sunday 5 April 2026"


def test_finance_options_over_au_10000_are_those_of_the_totals_and_indicative():
    quote = draft()  # 80 h x 150 = 12,000 + GST 1,200
    sums = totals(quote)
    assert sums.total == 13200 and [o.months for o in sums.finance] == [24, 36, 48]
    text = pdf_text(render(quote))
    assert "AUD 13,200.00" in text
    section = text[text.index(FINANCE_HEADING):]
    assert "Indicative" in section
    for option in sums.finance:
        row = f"{option.months} months\n{option.monthly:,.2f}\n{option.total:,.2f}\n"
        assert row in section, row


@pytest.mark.parametrize("quote, total", [
    (draft({"description": "Firewall licence renewal", "quantity": "2",
            "unit_price": "450"}), "AUD 990.00"),       # under the threshold
    (draft(currency="NZD"), "NZD 13,200.00"),           # over it, but not in AUD
])
def test_no_finance_options_for_a_small_quote_or_another_currency(quote, total):
    assert totals(quote).finance == []
    text = pdf_text(render(quote))
    assert total in text
    assert FINANCE_HEADING not in text and "Indicative" not in text
    assert "months" not in text


def test_the_same_quote_gives_the_same_bytes():
    first, again = render(draft()), render(draft())
    assert first == again
    assert b"/CreationDate (D:20260325100000+11'00')" in first  # issued_at
    assert render(draft(), issued_at=ISSUED + timedelta(minutes=1)) != first
    assert render(draft(notes="Revised.")) != first


def test_a_long_quote_spans_pages_with_the_totals_after_the_last_line():
    lines = [{"description": f"Workstation {i:02d} rollout", "quantity": "1",
              "unit_price": "100"} for i in range(1, LINES_MAX + 1)]
    text = pdf_text(render(draft(*lines)))
    assert re.search(r"Page 2 of\s*2\b", text)
    for i in range(1, LINES_MAX + 1):
        assert f"Workstation {i:02d} rollout" in text
    assert text.count("Unit price (AUD)") == 2          # the headings repeated on page 2
    last_line = text.index(f"Workstation {LINES_MAX} rollout")
    assert text.index("Page 1 of") < last_line < text.index("Subtotal (excl. tax)")
    assert "Total (incl. tax)\nAUD 5,500.00" in text[last_line:]


def test_text_the_fonts_cannot_draw_is_approximated_and_said_so():
    text = pdf_text(render(draft({"description": "Dvořák room AV 张", "quantity": "1",
                                  "unit_price": "10"})))
    assert "Dvorák room AV [U+5F20]" in text and "cannot draw" in text


def test_a_naive_validity_instant_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        quote_pdf("QUO-000042", draft(), totals(draft()), CLIENT, ISSUED,
                  datetime(2026, 4, 9), ZONE)
