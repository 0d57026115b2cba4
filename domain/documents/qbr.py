"""The QBR as a PDF (fpdf2, bar charts drawn with its rectangles) and as HTML (jinja2,
bars as table cells so mail clients show them too), both from :class:`QbrFigures` alone.

Pure and deterministic: the PDF is dated by ``figures.generated_at``, so the report the
account manager received and the one served at its URL later are the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf.enums import XPos, YPos
from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.documents.pdf import MONTHS, Document, utc_text
from domain.msp import MspLines
from domain.qbr import QBR_TICKETS_MAX, QbrFigures, duration_text, pct_text
from domain.words import local_time_text

TITLE = "Quarterly business review"
_GREEN, _AMBER, _RED, _GREY = (46, 125, 50), (239, 160, 0), (198, 40, 40), (120, 120, 120)
_BLUE = (33, 102, 172)
_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent),
                         autoescape=select_autoescape(enabled_extensions=("html", "j2")),
                         trim_blocks=True, lstrip_blocks=True)


def date_text(at: datetime, zone: str) -> str:
    local = at.astimezone(ZoneInfo(zone))
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def period_text(f: QbrFigures) -> str:
    """"1 January 2027 to 31 March 2027 (America/New_York)": the last day, inclusive."""
    last = f.period_end - timedelta(seconds=1)
    return f"{date_text(f.period_start, f.zone)} to {date_text(last, f.zone)} ({f.zone})"


def result_text(met: bool | None) -> str:
    return {True: "met", False: "missed", None: "-"}[met]


def compliance_colour(pct: float | None) -> tuple[int, int, int]:
    if pct is None:
        return _GREY
    return _GREEN if pct >= 95 else _AMBER if pct >= 80 else _RED


def headline(f: QbrFigures) -> list[tuple[str, str]]:
    """The summary lines, shared by the PDF and the HTML."""
    nps = f.nps
    interim = f.generated_at < f.period_end
    rows = [
        ("Period", period_text(f)),
        ("Tickets opened", f"{f.tickets} ({f.incidents} incidents); {f.open_at_end} "
         + ("still open" if interim else "open at the quarter's end")),
        ("SLA compliance", f"{pct_text(f.compliance_pct)} of resolved incidents within the "
         "resolution target"),
        ("SLA breaches", str(f.breaches)),
        ("Mean time to respond", duration_text(f.mean_response_s)),
        ("Mean time to resolve", duration_text(f.mean_resolution_s)),
        ("CSAT average", "-" if f.csat_average is None
         else f"{f.csat_average:g} / 5 ({f.csat_responses} answers)"),
        ("NPS", "no survey yet" if nps is None else
         f"{'-' if nps.nps is None else f'{nps.nps:+d}'} ({nps.period} survey: "
         f"{nps.responses} of {nps.invited} answered; {nps.promoters} promoters, "
         f"{nps.passives} passives, {nps.detractors} detractors)"),
    ]
    if interim:
        rows.insert(1, ("Status", f"interim: the quarter so far, to "
                        f"{date_text(f.generated_at, f.zone)}; the final report follows "
                        "when the quarter ends"))
    if f.tickets_seen > QBR_TICKETS_MAX:
        rows.insert(2, ("Not counted", coverage_text(f)))
    return rows


def as_at_text(f: QbrFigures) -> str:
    """When the figures stand: the quarter's end, or (an interim report) when it was made."""
    if f.generated_at < f.period_end:
        return (f"Figures so far, as at {local_time_text(f.generated_at, f.zone)} (the "
                f"quarter ends {local_time_text(f.period_end, f.zone)})")
    return f"Figures as at the end of the quarter ({local_time_text(f.period_end, f.zone)})"


def coverage_text(f: QbrFigures) -> str:
    """What a report that could not read every ticket covers, in a reader's words."""
    return (f"this report reads at most {QBR_TICKETS_MAX:,} tickets, and more than that "
            f"were opened from {date_text(f.period_start, f.zone)} on: the rest were not "
            "counted, so the numbers here are lower than the real ones; ask your account "
            "manager for the full figures")


def priority_rows(f: QbrFigures) -> list[list[str]]:
    return [[p.priority.value, str(p.opened),
             f"{p.responded_in_target}/{p.responded} ({pct_text(p.response_pct)})",
             str(p.resolved),
             pct_text(p.compliance_pct) if p.has_resolution_target else "no target",
             str(p.breaches), duration_text(p.mean_response_s),
             duration_text(p.mean_resolution_s)] for p in f.priorities]


PRIORITY_HEADINGS = ["Priority", "Opened", "Responded in target", "Resolved",
                     "Compliance", "Breaches", "Mean response", "Mean resolution"]
CHANNEL_HEADINGS = ["Channel", "Tickets", "Answered", "Mean answer", "Target", "Result"]
RISK_HEADINGS = ["Risk", "Likelihood", "Impact", "Score", "Mitigation", "Owner"]


def channel_rows(f: QbrFigures) -> list[list[str]]:
    rows = []
    for c in f.channels:
        answered = str(c.answered)
        if c.answered_within is not None:
            answered += f" ({c.answered_within} in time)"
        rows.append([c.name, str(c.opened), answered, duration_text(c.mean_answer_s),
                     c.target or "-", result_text(c.met)])
    return rows


def risk_rows(f: QbrFigures) -> list[list[str]]:
    return [[r.risk, r.likelihood, r.impact, str(r.score), r.mitigation, r.owner]
            for r in f.risks]


# ---------------------------------------------------------------- PDF


class _Report(Document):
    def bars(self, rows: Sequence[tuple[str, float, str, tuple[int, int, int]]],
             scale: float, *, label_width: float = 50, marker: float | None = None,
             ) -> None:
        """Horizontal bars: (label, value, text after the bar, colour), ``scale`` = a full
        bar; ``marker`` draws a dashed line at that value (a target)."""
        width = self.w - self.l_margin - self.r_margin - label_width - 30
        height = 5.0
        if self.will_page_break(height * (len(rows) + 1) + 4):
            self.add_page()
        top = self.get_y()
        self.set_font("Helvetica", "", 8)
        for label, value, text, colour in rows:
            y = self.get_y()
            self.set_xy(self.l_margin, y)
            self.cell(label_width, height, label)
            length = 0 if scale <= 0 else max(0.0, min(value / scale, 1.0)) * width
            if length > 0:
                with self.local_context(fill_color=colour):
                    self.rect(self.l_margin + label_width, y + 0.8, length, height - 1.6,
                              style="F")
            self.set_xy(self.l_margin + label_width + length + 1.5, y)
            self.cell(28, height, text)
            self.set_y(y + height)
        x0 = self.l_margin + label_width
        self.set_draw_color(150)
        self.line(x0, top, x0, self.get_y())
        if marker is not None and scale > 0:
            x = x0 + min(marker / scale, 1.0) * width
            self.set_draw_color(*_RED)
            with self.local_context():
                self.set_dash_pattern(dash=1, gap=1)
                self.line(x, top - 1, x, self.get_y() + 1)
        self.set_draw_color(0)
        self.ln(2)


def qbr_pdf(f: QbrFigures, *, msp_name: str = "Tempodesk", msp: MspLines | None = None,
            ) -> bytes:
    """The report as a PDF; ``msp`` (the config's, :func:`domain.msp.document_lines`) puts
    the MSP's name, contact line and terms on it."""
    doc = _Report(title=TITLE, reference=f.quarter, msp_name=msp.name if msp else msp_name,
                  client_name=f.client_name, generated_at=f.generated_at,
                  msp_contact=msp.contact if msp else "")
    doc.fields(headline(f), label_width=42)

    doc.heading("Resolution SLA compliance by priority (incidents)")
    doc.bars([(p.priority.value, p.compliance_pct or 0,
               "no target" if not p.has_resolution_target
               else f"{pct_text(p.compliance_pct)} of {p.resolved}",
               compliance_colour(p.compliance_pct)) for p in f.priorities],
             scale=100, label_width=20)
    doc.grid(PRIORITY_HEADINGS, priority_rows(f), col_widths=(18, 16, 30, 18, 22, 18, 29, 29),
             align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"))

    doc.heading("Top categories")
    if f.categories:
        top = max(c.tickets for c in f.categories)
        doc.bars([(c.category, c.tickets, str(c.tickets), _BLUE) for c in f.categories],
                 scale=top, label_width=60)
    else:
        doc.paragraph("No tickets were opened in the quarter.")

    doc.heading("Channel answer times (opening to first response)")
    if f.channels:
        for c in f.channels:
            if c.target_s is None:
                continue
            colour = _GREY if c.met is None else _GREEN if c.met else _RED
            scale = max(c.target_s * 2, c.mean_answer_s or 0)
            doc.set_font("Helvetica", "B", 8)
            doc.cell(0, 5, f"{c.name}: target {c.target} (dashed line)",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            doc.bars([("mean answer", c.mean_answer_s or 0,
                       f"{duration_text(c.mean_answer_s)} ({result_text(c.met)})", colour)],
                     scale=scale, label_width=30, marker=c.target_s)
        doc.grid(CHANNEL_HEADINGS, channel_rows(f), col_widths=(32, 18, 34, 34, 34, 28),
                 align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT", "LEFT"))
    else:
        doc.paragraph("No answer targets are set and no incident named its channel.")

    if f.nps is not None and f.nps.responses:
        doc.heading(f"Net Promoter Score ({f.nps.period} survey)")
        n = f.nps
        doc.bars([("Promoters (9-10)", n.promoters, str(n.promoters), _GREEN),
                  ("Passives (7-8)", n.passives, str(n.passives), _GREY),
                  ("Detractors (0-6)", n.detractors, str(n.detractors), _RED)],
                 scale=n.responses, label_width=35)

    doc.heading("Risk register (likelihood x impact)")
    if f.risks:
        doc.grid(RISK_HEADINGS, risk_rows(f), col_widths=(38, 20, 18, 12, 55, 37),
                 align=("LEFT", "LEFT", "LEFT", "RIGHT", "LEFT", "LEFT"))
        doc.paragraph("Scores: Low 1, Low-Med 2, Med 3, High 4, Critical 5; likelihood x "
                      "impact, 25 at most.", size=7)
    else:
        doc.paragraph("No risks are recorded for this client.")
    doc.paragraph(f"{as_at_text(f)}; CSAT as answered when the report was made.", size=7)
    if msp is not None and msp.terms:
        doc.paragraph(msp.terms, size=7)
    if doc.approximated:
        doc.paragraph("Some text has characters this document's fonts cannot draw: they are "
                      "shown without accents or as [U+code point].", size=7)
    return doc.render()


# ---------------------------------------------------------------- HTML


def _hex(colour: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{c:02x}" for c in colour)


def qbr_html(f: QbrFigures, *, msp_name: str = "Tempodesk", url: str | None = None,
             msp: MspLines | None = None, logo_src: str | None = None) -> str:
    """The report as HTML (a page and a mail's body); with ``msp``, the MSP's name, contact
    line and terms, and its logo from ``logo_src`` (an absolute URL in mail)."""
    template = _TEMPLATES.get_template("qbr.html.j2")
    top = max((c.tickets for c in f.categories), default=0)
    return template.render(
        f=f, title=TITLE, msp_name=msp.name if msp else msp_name, url=url,
        msp_contact=msp.contact if msp else "", terms=msp.terms if msp else "",
        logo_src=logo_src, headline=headline(f),
        priority_headings=PRIORITY_HEADINGS, priority_rows=priority_rows(f),
        channel_headings=CHANNEL_HEADINGS, channel_rows=channel_rows(f),
        risk_headings=RISK_HEADINGS, risk_rows=risk_rows(f),
        compliance_bars=[(p.priority.value, p.compliance_pct or 0,
                          "no target" if not p.has_resolution_target
                          else pct_text(p.compliance_pct),
                          _hex(compliance_colour(p.compliance_pct)))
                         for p in f.priorities],
        category_bars=[(c.category, round(100 * c.tickets / top) if top else 0, c.tickets)
                       for c in f.categories],
        generated=utc_text(f.generated_at), as_at=as_at_text(f))
