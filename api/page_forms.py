"""The forms the desk's own pages post (a quote's review, a survey): read once, the same
way for every page. A form is taken only from the desk's own page (domain/form_origin.py:
a cross-site POST is 403), within its page's byte limit (413), and its text as the page
counted it: a browser sends each line break as CRLF but counts it as one character for
``maxlength``, so line breaks come back as LF."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from api.problems import field_problem
from api.state import AppState
from domain.form_origin import form_refusal


def form_bytes(text_chars: int) -> int:
    """A page form's byte limit for text of at most ``text_chars`` characters: each
    character up to 4 bytes of UTF-8, each byte percent-encoded (%XX), plus 1 KiB for
    names, separators and a short field or two."""
    return text_chars * 4 * 3 + 1024


async def page_form(request: Request, state: AppState, max_bytes: int,
                    own_page: str) -> dict[str, str]:
    """The posted form's fields (the first value of each); ``own_page`` says where the
    form is to be sent from, for the 403 of a form sent from anywhere else."""
    own = (state.settings.public_url, f"{request.url.scheme}://{request.url.netloc}")
    refusal = form_refusal(request.headers.get("origin"),
                           request.headers.get("sec-fetch-site"), own)
    if refusal is not None:
        raise field_problem(403, "Origin", refusal, own_page, "Forbidden", where="header")
    body = await request.body()
    if len(body) > max_bytes:
        raise field_problem(413, "body", "the form is too large", "send the page's form",
                            "Too large")
    return {name: values[0].replace("\r\n", "\n")
            for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
