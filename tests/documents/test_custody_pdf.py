"""The chain-of-custody PDF: what it shows, that it never crashes on a name its fonts cannot
draw, and that the same view gives the same bytes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from domain.documents.custody import as_of, custody_digest, custody_pdf
from domain.documents.pdf import drawable
from domain.offboarding import OffboardingView
from tests.documents.pdf_text import pdf_text

T0 = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)  # 17:30 in Melbourne (AEDT, +11)
CLIENT = "Harbourside Legal (Belton contract)"


def exit_view(employee: str = "Jo Tran", **changes) -> OffboardingView:
    fields = dict(
        kind="offboarding", ticket_id="BEL-000042", client_id="belton",
        subject=f"User exit: {employee}", opened_at=T0, technical_contact="mia@h.example",
        priority="P2", employee=employee, user_principal_name="jo.tran@harbourside.example",
        effective_at=T0, access_revoked_at=T0 + timedelta(seconds=42),
        devices=[
            {"device": {"serial": "PF3X9K"}, "returned_at": T0 + timedelta(days=2)},
            {"device": {"serial": "R58M12", "kind": "phone"},
             "wiped_at": T0 + timedelta(days=14, seconds=5)},
        ],
        # Recorded out of time order on purpose: the document sorts each device's entries.
        custody=[
            {"serial": "R58M12", "at": T0 + timedelta(days=14), "by": "system",
             "event": "wipe_requested", "condition": "not returned in time"},
            {"serial": "PF3X9K", "at": T0 + timedelta(days=2), "by": "agent:belton-agent",
             "event": "returned", "condition": "good, charger missing"},
            {"serial": "R58M12", "at": T0 + timedelta(days=14, seconds=5), "by": "system",
             "event": "wiped", "condition": "not returned: remote wipe sent"},
        ],
        return_by=T0 + timedelta(days=14), purge_at=T0 + timedelta(days=30))
    fields.update(changes)
    return OffboardingView.model_validate(fields)


def render(view: OffboardingView, **kw) -> bytes:
    kw.setdefault("zone", "Australia/Melbourne")
    return custody_pdf(view, CLIENT, T0 + timedelta(days=15), msp_name="Belton IT", **kw)


def test_shows_the_leaver_each_device_and_its_hand_overs_in_time_order():
    view = exit_view()
    text = pdf_text(render(view))
    for expected in ("Belton IT", f"Client: {CLIENT}", "Chain of custody - BEL-000042",
                     "Jo Tran", "jo.tran@harbourside.example",
                     "2026-12-04 06:30:00 UTC (2026-12-04 17:30:00 AEDT)",   # effective
                     "2026-12-04 06:30:42 UTC",                              # revoked
                     "PF3X9K", "laptop", "returned", "agent:belton-agent",
                     "good, charger missing",
                     "R58M12", "phone", "remote-wiped", "wipe_requested", "wiped",
                     "not returned: remote wipe sent",
                     "as of 2026-12-19 06:30:00 UTC"):
        assert expected in text, expected
    assert re.search(r"Page 1 of\s*1\b", text)  # fpdf2 draws the page-count alias apart
    wipe = text.index("Custody of R58M12")
    assert text.index("wipe_requested", wipe) < text.index("wiped\n", wipe)
    assert text.index("Custody of PF3X9K") < wipe  # devices in the form's order
    # The digest printed is that of the custody log as the ticket's JSON shows it.
    listed = json.loads(view.model_dump_json())["custody"]
    canonical = json.dumps(listed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == custody_digest(view.custody) and digest in text
    assert "cannot draw" not in text  # nothing needed approximating


def test_the_same_view_gives_the_same_bytes_and_a_change_shows():
    first, again = render(exit_view()), render(exit_view())
    assert first == again
    assert b"/CreationDate (D:20261219063000Z)" in first
    assert render(exit_view(), zone=None) != first
    later = exit_view(custody=[*exit_view().custody[:2]])  # the wipe not yet confirmed
    assert custody_digest(later.custody) != custody_digest(exit_view().custody)
    assert render(later) != first
    assert "When (local)" not in pdf_text(render(exit_view(), zone=None))


@pytest.mark.parametrize("name, shown, approximated", [
    ("Zoë Dvořák", "Zoë Dvorák", True),     # ë, á are drawable; ř loses its caron
    ("Łukasz Żółw", "Lukasz Zólw", True),   # Ł, ł have no decomposition: a stand-in
    ("张伟", "[U+5F20][U+4F1F]", True),      # no stand-in: the code points, unambiguous
    # Windows-1252 has the typographic quote, the dash and the euro sign; NFKC folds the
    # "fi" ligature.
    ("O\u2019Brien \u2013 \ufb01nance €", "O\u2019Brien \u2013 finance €", False),
])
def test_names_the_fonts_cannot_draw_are_approximated_and_said_so(name, shown, approximated):
    assert drawable(name) == (shown, approximated)
    text = pdf_text(render(exit_view(employee=name)))
    assert f"Employee\n{shown}\n" in text
    assert ("cannot draw" in text) is approximated


def test_the_document_is_dated_by_the_newest_instant_it_shows():
    view = exit_view()
    assert as_of(view) == T0 + timedelta(days=14, seconds=5)
    fresh = exit_view(access_revoked_at=None, devices=[{"device": {"serial": "PF3X9K"}}],
                      custody=[])
    assert as_of(fresh) == T0 and "awaited" in pdf_text(render(fresh))
    with pytest.raises(ValueError, match="timezone-aware"):
        custody_pdf(view, CLIENT, datetime(2026, 12, 19))
