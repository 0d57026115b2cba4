"""The text drawn in a PDF made with fpdf2's core fonts (pypdf is not a dependency): each
content stream, inflated if compressed, its string operands unescaped and joined."""

from __future__ import annotations

import contextlib
import re
import zlib

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_STRING = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj")
_ESCAPE = re.compile(rb"\\([nrtbf()\\]|[0-7]{1,3})")
_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(raw: bytes) -> bytes:
    def one(m: re.Match[bytes]) -> bytes:
        code = m.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8)])
        return _SIMPLE.get(code, code)
    return _ESCAPE.sub(one, raw)


def pdf_text(data: bytes) -> str:
    """Every ``(...) Tj`` string of every content stream, one per line (Windows-1252)."""
    assert data.startswith(b"%PDF-"), data[:20]
    lines = []
    for match in _STREAM.finditer(data):
        body = match.group(1)
        with contextlib.suppress(zlib.error):  # else written with compress=False
            body = zlib.decompress(body)
        lines += [_unescape(s).decode("cp1252") for s in _STRING.findall(body)]
    return "\n".join(lines)
