"""Quotes: issued by the MSP's agents, decided only by a director of the client - by the
API, or from the signed link in the quote e-mail (a small server-rendered page, no
JavaScript), which expires with the quote and cannot decide twice.

The page carries the link's token, so it is sent with the headers of api/pages.py (no
framing, no caching, no Referer), as is the PDF its link opens; its form is accepted only
from the desk's own page (domain/form_origin.py): a cross-site POST is 403."""

from __future__ import annotations

import hashlib
from typing import cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.auth import require, signed_link_limit, signed_payload
from api.intake_routes import add_intake_route
from api.page_forms import form_bytes, page_form
from api.pages import TEMPLATES
from api.problems import Problem, field_problem
from api.state import AppState, app_state
from desk import quotes as quote_desk
from desk.errors import DeskError
from desk.principal import Principal
from desk.quotes import decide_by_link, decide_quote, find_quote, quote_pdf
from desk.tickets import TicketRef
from domain.mail_words import validity_words
from domain.msp import MspConfig
from domain.quotes import DECISION_REASON_MAX_CHARS, QuoteState, QuoteView
from domain.request_bodies import DecisionBody
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["quotes"])
# The page's form: its token (at most 2048 characters, all ASCII) and a reason.
FORM_MAX_BYTES = 2048 + form_bytes(DECISION_REASON_MAX_CHARS)


add_intake_route(router, quote_desk.ISSUE)


@router.post("/quotes/{quote_id}/decision", response_model=QuoteView,
             summary="A director of the client approves, or declines with a reason")
async def decide(decision: DecisionBody, request: Request, quote_id: str,
                 principal: Principal = require(Action.DECIDE_QUOTE),
                 state: AppState = Depends(app_state)) -> Response:
    view = await decide_quote(state, principal, quote_id, decision, client_ip(request))
    return Response(view.model_dump_json(), media_type="application/json")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# ---------------------------------------------------------------- the signed link


def _link(state: AppState, quote_id: str, token: str) -> str:
    """The director the link was made for; refused if it is damaged, for another quote
    or expired (it expires with the quote)."""
    payload = signed_payload(
        state, token, "quote", Problem(410, "Link expired", "this quote has expired: ask for "
                                       "a new one", slug="expired"),
        invalid_title="Invalid link", invalid_slug="invalid-link")
    if payload["s"] != quote_id or not payload.get("director"):
        raise Problem(401, "Invalid link", "the link is not for this quote", slug="invalid-link")
    return str(payload["director"])


async def _page(ref: TicketRef, token: str, msp: MspConfig, message: str = "",
                status: int = 200, view: QuoteView | None = None, reason: str = "",
                reason_error: str = "") -> HTMLResponse:
    """The review page of the quote ``ref`` names (``view`` if the caller has it), under
    the MSP's name, logo and terms; ``reason_error`` is said beside the reason, which
    keeps what was typed."""
    quote_id = ref.ticket_id
    view = view or cast(QuoteView, await ref.view())
    zone = ref.client.sla.calendar.timezone
    html = TEMPLATES.get_template("quote_review.html.j2").render(
        quote=view, client_name=ref.client.name, valid_until=validity_words(
            view.valid_until, zone), message=message,
        open=view.quote_state is QuoteState.SENT and view.decision is None, token=token,
        form_url=f"/v1/quotes/{quote_id}/review",
        pdf_url=f"/v1/quotes/{quote_id}/pdf?token={quote(token)}",
        msp=msp, logo_src=msp.logo_src(), terms=msp.terms_text(), reason=reason,
        reason_error=reason_error, reason_max=DECISION_REASON_MAX_CHARS)
    return HTMLResponse(html, status_code=status)


@router.get("/quotes/{quote_id}/review", response_class=HTMLResponse,
            dependencies=[Depends(signed_link_limit)],
            summary="The approval page a director's signed link opens")
async def review(quote_id: str, token: str = Query(max_length=2048),
                 state: AppState = Depends(app_state)) -> HTMLResponse:
    _link(state, quote_id, token)
    return await _page(await find_quote(state, quote_id, None), token, state.config.msp)


@router.get("/quotes/{quote_id}/pdf", response_class=Response,
            dependencies=[Depends(signed_link_limit)],
            responses={200: {"content": {"application/pdf": {}}}},
            summary="The quote's PDF, by the signed link (the bytes its SHA-256 names)")
async def quote_document(quote_id: str, token: str = Query(max_length=2048),
                         state: AppState = Depends(app_state)) -> Response:
    _link(state, quote_id, token)
    pdf = await quote_pdf(state, quote_id)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{quote_id}.pdf"',
        "ETag": f'"{hashlib.sha256(pdf).hexdigest()}"',
        # Its URL holds the director's token: kept out of caches and Referer headers.
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.post("/quotes/{quote_id}/review", response_class=HTMLResponse,
             dependencies=[Depends(signed_link_limit)],
             summary="The approval page's form: approve, or decline with a reason")
async def review_decision(quote_id: str, request: Request,
                          state: AppState = Depends(app_state)) -> HTMLResponse:
    fields = await page_form(request, state, FORM_MAX_BYTES, "decide from the quote's own "
                             "page (the link in the e-mail), or with POST "
                             "/v1/quotes/{id}/decision")
    token = fields.get("token", "")
    director = _link(state, quote_id, token)
    if fields.get("decision") not in ("approve", "decline"):
        raise field_problem(422, "decision", "approve or decline", "use the page's buttons",
                            "Request is not valid")
    ref = await find_quote(state, quote_id, None)
    approve = fields["decision"] == "approve"
    reason = fields.get("reason", "")
    mend = (f"At most {DECISION_REASON_MAX_CHARS:,} characters: shorten the reason."
            if len(reason) > DECISION_REASON_MAX_CHARS else
            "Say why you decline the quote: the service desk reads it."
            if not approve and not reason.strip() else None)
    if mend is not None:  # said beside the field while the form is open
        view = cast(QuoteView, await ref.view())
        if view.quote_state is QuoteState.SENT and view.decision is None:
            return await _page(ref, token, state.config.msp, status=422, view=view,
                               reason=reason, reason_error=mend)
        # Decided or expired: the workflow says so below.
    try:
        decided = await decide_by_link(ref, director, approve, reason, client_ip(request))
    except DeskError as refusal:  # decided already, or expired: the page says so
        return await _page(ref, token, state.config.msp, status=refusal.status,
                           message=refusal.detail or "the decision was refused")
    verb = "approved" if approve else "declined"
    return await _page(ref, token, state.config.msp,
                       message=f"Thank you: the quote is {verb}.", view=decided)
