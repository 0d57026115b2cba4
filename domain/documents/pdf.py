"""The shared base of Tempodesk's PDFs (chain of custody, quotes): A4 pages, a header with
the MSP's and the client's names, a table helper, and a footer with page numbers and the
instant the document stands for.

Deterministic: the same content and ``generated_at`` give the same bytes. The instant is
always passed in (never read from the clock here) and is also the PDF's creation date, the
only other varying input fpdf2 writes (its file /ID is a hash of the content and that date).

Text: fpdf2's core fonts (Helvetica, Courier) draw one byte per character, so only
Windows-1252 (Latin-1 and typographic quotes, dashes, the euro sign) can be written; an
embedded Unicode TTF would tie the bytes to a font file on the host. So every string drawn
passes through :func:`drawable` (fpdf2 routes all text through ``normalize_text``):
compatibility forms are folded (NFKC: ligatures, full-width letters), a letter outside the
set loses its accent where that leaves one inside ("Dvořák" -> "Dvorák", "Łukasz" ->
"Lukasz"), and anything else is written as its code point, "[U+5F20]": unambiguous, never
silently dropped, never a crash. A document that needed this says so
(:attr:`Document.approximated`); the data behind it keeps the exact text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

ENCODING = "windows-1252"  # what the core fonts' /WinAnsiEncoding draws
# Letters without a Unicode decomposition but with an obvious stand-in.
_STAND_INS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i",
              "Ŧ": "T", "ŧ": "t", "\u2010": "-", "\u2011": "-"}


def _encodable(ch: str) -> bool:
    if ch < " " and ch != "\n":
        return False
    try:
        ch.encode(ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def drawable(text: str) -> tuple[str, bool]:
    """``text`` drawable with a core font, and whether anything had to be approximated."""
    out: list[str] = []
    changed = False
    for ch in unicodedata.normalize("NFKC", text):
        if ch in "\t\r":
            out.append(" ")
        elif _encodable(ch):
            out.append(ch)
        else:
            changed = True
            if ch in _STAND_INS:
                out.append(_STAND_INS[ch])
                continue
            kept = "".join(c for c in unicodedata.normalize("NFKD", ch)
                           if _encodable(c) and not unicodedata.combining(c))
            out.append(kept or f"[U+{ord(ch):04X}]")
    return "".join(out), changed


# Names for dates, whatever the host's locale.
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Document(FPDF):
    """An A4 portrait document: call :meth:`render` when done."""

    MARGIN = 15
    LINE = 5.5

    def __init__(self, *, title: str, reference: str, msp_name: str, client_name: str,
                 generated_at: datetime, msp_contact: str = "") -> None:
        if generated_at.tzinfo is None:
            raise ValueError("generated_at must be timezone-aware")
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.approximated = False  # some text could not be drawn as is (see the module doc)
        self.doc_title = title
        self.reference = reference
        self.msp_name = msp_name
        self.msp_contact = msp_contact  # address, phone...: one line under the name, if set
        self.client_name = client_name
        self.generated_at = generated_at
        self.core_fonts_encoding = ENCODING
        self.set_creation_date(generated_at)
        self.set_title(f"{title} {reference}")
        self.set_author(msp_name)
        self.set_creator("Tempodesk")
        self.set_margins(self.MARGIN, self.MARGIN, self.MARGIN)
        self.set_auto_page_break(True, margin=20)
        self.add_page()

    # ------------------------------------------------------------------ fpdf2 hooks

    def normalize_text(self, text: str) -> str:
        text, changed = drawable(text)
        self.approximated = self.approximated or changed
        return super().normalize_text(text)

    def header(self) -> None:
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 6, self.msp_name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 9)
        if self.msp_contact:
            self.cell(0, 5, self.msp_contact, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 5, f"Client: {self.client_name}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "B", 14)
        self.cell(0, 8, f"{self.doc_title} - {self.reference}", new_x=XPos.LMARGIN,
                  new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(4)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"{self.reference} - as of {utc_text(self.generated_at)}")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    # ------------------------------------------------------------------ helpers

    def heading(self, text: str) -> None:
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, *, size: float = 9, mono: bool = False) -> None:
        self.set_font("Courier" if mono else "Helvetica", "", size)
        self.multi_cell(0, self.LINE - 1, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def fields(self, pairs: Sequence[tuple[str, str]], label_width: float = 45) -> None:
        """Label: value lines."""
        for label, value in pairs:
            self.set_font("Helvetica", "B", 9)
            self.cell(label_width, self.LINE, label)
            self.set_font("Helvetica", "", 9)
            self.multi_cell(0, self.LINE, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def grid(self, headings: Sequence[str], rows: Sequence[Sequence[str]],
             col_widths: Sequence[float], *, size: float = 8,
             align: str | Sequence[str] = "LEFT") -> None:
        """A bordered table, headings repeated on every page it spans; ``align`` is one
        alignment for every column or one per column (e.g. "RIGHT" for amounts)."""
        self.set_font("Helvetica", "", size)
        text_align = align if isinstance(align, str) else tuple(align)
        with self.table(col_widths=tuple(col_widths), text_align=text_align, line_height=4.2,
                        padding=1, headings_style=FontFace(emphasis="BOLD", fill_color=230),
                        cell_fill_mode=TableCellFillMode.NONE) as table:
            table.row(list(headings))
            for row in rows:
                table.row(list(row))
        self.ln(2)

    def render(self) -> bytes:
        return bytes(self.output())
