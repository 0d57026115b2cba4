"""The QBR's PDF and HTML: the figures as drawn, the same bytes for the same figures, user
text escaped, and the committed example still what its command writes."""

from __future__ import annotations

from pathlib import Path

from bench.qbr_example import example_figures, example_msp
from domain.documents.qbr import qbr_html, qbr_pdf
from tests.documents.pdf_text import pdf_text
from tests.reviews.test_qbr_figures import figures

REPO = Path(__file__).resolve().parent.parent.parent


def test_pdf_shows_the_figures():
    text = pdf_text(qbr_pdf(figures()))
    for expected in ("Quarterly business review - 2027-Q1", "Hudson Freight",
                     "1 January 2027 to 31 March 2027 (America/New_York)",
                     "83.3% of resolved incidents within the resolution target",
                     "7 h 05 min",            # mean response, 25,534 s
                     "23 h 10 min",           # mean resolution, 83,400 s
                     "3.5 / 5 (4 answers)", "+25 (2027-H1 survey: 4 of 5 answered",
                     "Voicemail", "average 1h", "missed", "within 24h",
                     "Phishing / Credential theft", "Low-Med"):
        assert expected in text, expected
    assert qbr_pdf(figures()) == qbr_pdf(figures())  # deterministic


def test_html_shows_the_figures_and_escapes_names():
    f = figures(client_name="<script>alert(1)</script> & Co")
    html = qbr_html(f, url="https://desk.example/v1/reports/qbr/betterworld/2027-Q1")
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "83.3% of resolved incidents" in html and "2 h 00 min" in html  # P1 #2's wait
    assert "https://desk.example/v1/reports/qbr/betterworld/2027-Q1" in html


def test_the_committed_example_is_what_its_command_writes():
    """docs/qbr-example.pdf: `python -m bench.qbr_example` (see its docstring)."""
    committed = (REPO / "docs" / "qbr-example.pdf").read_bytes()
    assert committed == qbr_pdf(example_figures(), msp=example_msp())
