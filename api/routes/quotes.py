"""Quotes: issued by the MSP's agents, decided only by a director of the client - by the
API, or from the signed link in the quote e-mail (a small server-rendered page, no
JavaScript), which expires with the quote and cannot decide twice.

The page carries the link's token, so it is sent with the headers of api/pages.py (no
framing, no caching, no Referer), as is the PDF its link opens; its form is accepted only
from the desk's own page (domain/form_origin.py): a cross-site POST is 403."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import cast
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from temporalio.client import WorkflowUpdateFailedError

from api.answers import created
from api.auth import require, signed_link_limit, signed_payload
from api.pages import TEMPLATES
from api.problems import Problem, field_problem
from api.routes.ticket_actions import update
from api.state import AppState, app_state
from desk.errors import refusal_status
from desk.intake import intake_client, start_ticket
from desk.principal import Principal
from desk.tickets import TicketRef
from domain.documents.quote import document_pdf
from domain.form_origin import form_refusal
from domain.ids import TicketKind
from domain.mail_words import validity_words
from domain.msp import MspConfig, document_lines
from domain.quote_lines import QuoteDocument, QuoteDraft, reminders, totals, valid_until
from domain.quotes import (
    Channel,
    Decision,
    QuoteNews,
    QuoteStart,
    QuoteState,
    QuoteView,
    Supersede,
)
from domain.request_bodies import DecisionBody
from domain.roles import Action
from domain.sla.deadlines import snapshot_for
from domain.words import local_time_text
from workflows.quote import QuoteWorkflow

router = APIRouter(prefix="/v1", tags=["quotes"])
FORM_MAX_BYTES = 4096


async def _quote(state: AppState, quote_id: str, principal: Principal | None) -> TicketRef:
    ref = await state.tickets.locate(quote_id, principal)
    if ref.kind is not TicketKind.QUOTE:
        raise Problem(409, "Not a quote", f"{quote_id} is a {ref.kind.value}", slug="conflict")
    return ref


@router.post("/quotes", status_code=201, response_model=QuoteView,
             summary="Issue a quote (MSP staff): sent to the client's directors with the PDF "
                     "and a signed link; valid to the end of day 14 in the client's zone")
async def issue_quote(draft: QuoteDraft, principal: Principal = require(Action.ISSUE_QUOTE),
                      state: AppState = Depends(app_state)) -> Response:
    client = intake_client(principal, draft.client_id, state)
    if not client.directors:
        raise field_problem(422, "client_id", f"{client.id} has no directors to approve a "
                            "quote", "add the client's directors to tempodesk.yaml", "No approver")
    requester = client.directors[0].email
    request_ref: TicketRef | None = None
    if draft.request_id is not None:
        request_ref = await state.tickets.locate(draft.request_id, principal)
        if request_ref.kind is not TicketKind.SERVICE_REQUEST or request_ref.client.id != client.id:
            raise field_problem(422, "request_id", f"{draft.request_id} is not a service "
                                f"request of {client.id}", "name the request this quote prices",
                                "Which request?")
        requester = (await request_ref.view()).technical_contact
    old: TicketRef | None = None
    if draft.supersedes is not None:
        old = await _quote(state, draft.supersedes, principal)
        old_view = cast(QuoteView, await old.view())
        if old_view.quote_state is not QuoteState.SENT or old.client.id != client.id:
            raise field_problem(409, "supersedes", f"{draft.supersedes} is "
                                f"{old_view.quote_state.value}", "revise a quote still "
                                "waiting for a decision", "Cannot revise")
    now = datetime.now(UTC)
    ticket = await state.numbers.next(client.ticket_prefix)
    zone = client.sla.calendar.timezone
    document = QuoteDocument(quote_id=ticket, draft=draft, totals=totals(draft),
                             client_name=client.name, issued_at=now,
                             valid_until=valid_until(now, zone), zone=zone,
                             msp=document_lines(state.config.msp))
    pdf = document_pdf(document)
    start = QuoteStart(ticket_id=ticket, client_id=client.id, opened_at=now,
                       raised_by=principal.actor, sla=snapshot_for(client.sla, now),
                       rules=client.incidents, document=document,
                       pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                       directors=[d.email for d in client.directors], requester=requester,
                       zone=zone, reminders=reminders(now, zone))
    at_intake = await start_ticket(
        state, QuoteWorkflow, start,
        f"{ticket} quote {draft.currency} {document.totals.total}, valid until "
        f"{local_time_text(document.valid_until, zone)}")
    if old is not None:
        await update(old, QuoteWorkflow.supersede, Supersede(by_quote=ticket,
                                                             by=principal.actor))
    if request_ref is not None:
        await request_ref.handle.signal("quote_news", QuoteNews(
            quote_id=ticket, quote_state=QuoteState.SENT,
            detail=f"{draft.currency} {document.totals.total} sent to the directors"))
    return created(at_intake.view())


@router.post("/quotes/{quote_id}/decision", response_model=QuoteView,
             summary="A director of the client approves, or declines with a reason")
async def decide(decision: DecisionBody, request: Request, quote_id: str,
                 principal: Principal = require(Action.DECIDE_QUOTE),
                 state: AppState = Depends(app_state)) -> Response:
    ref = await _quote(state, quote_id, principal)
    if not ref.client.is_director(principal.email):
        raise Problem(403, "Forbidden", "only a director of the client may decide: this "
                      "credential names no director (set the key's 'email' to one of the "
                      "client's directors)")
    return await update(ref, QuoteWorkflow.decide, decision.message(
        by=principal.actor, director_email=principal.email, channel=Channel.API,
        ip=request.client.host if request.client else ""))


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
                status: int = 200, view: QuoteView | None = None) -> HTMLResponse:
    """The review page of the quote ``ref`` names (``view`` if the caller has it), under
    the MSP's name, logo and terms."""
    quote_id = ref.ticket_id
    view = view or cast(QuoteView, await ref.view())
    zone = ref.client.sla.calendar.timezone
    html = TEMPLATES.get_template("quote_review.html.j2").render(
        quote=view, client_name=ref.client.name, valid_until=validity_words(
            view.valid_until, zone), message=message,
        open=view.quote_state is QuoteState.SENT and view.decision is None, token=token,
        form_url=f"/v1/quotes/{quote_id}/review",
        pdf_url=f"/v1/quotes/{quote_id}/pdf?token={quote(token)}",
        msp=msp, logo_src=msp.logo_src(), terms=msp.terms_text())
    return HTMLResponse(html, status_code=status)


@router.get("/quotes/{quote_id}/review", response_class=HTMLResponse,
            dependencies=[Depends(signed_link_limit)],
            summary="The approval page a director's signed link opens")
async def review(quote_id: str, token: str = Query(max_length=2048),
                 state: AppState = Depends(app_state)) -> HTMLResponse:
    _link(state, quote_id, token)
    return await _page(await _quote(state, quote_id, None), token, state.config.msp)


@router.get("/quotes/{quote_id}/pdf", response_class=Response,
            dependencies=[Depends(signed_link_limit)],
            responses={200: {"content": {"application/pdf": {}}}},
            summary="The quote's PDF, by the signed link (the bytes its SHA-256 names)")
async def quote_document(quote_id: str, token: str = Query(max_length=2048),
                         state: AppState = Depends(app_state)) -> Response:
    _link(state, quote_id, token)
    ref = await _quote(state, quote_id, None)
    pdf = document_pdf(await ref.handle.query(QuoteWorkflow.document))
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{quote_id}.pdf"',
        "ETag": f'"{hashlib.sha256(pdf).hexdigest()}"',
        # Its URL holds the director's token: kept out of caches and Referer headers.
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _same_site_form(request: Request, state: AppState) -> None:
    """403 unless the form was sent from the desk's own page (see domain/form_origin.py)."""
    own = (state.settings.public_url, f"{request.url.scheme}://{request.url.netloc}")
    refusal = form_refusal(request.headers.get("origin"),
                           request.headers.get("sec-fetch-site"), own)
    if refusal is not None:
        raise field_problem(403, "Origin", refusal, "decide from the quote's own page (the "
                            "link in the e-mail), or with POST /v1/quotes/{id}/decision",
                            "Forbidden", where="header")


@router.post("/quotes/{quote_id}/review", response_class=HTMLResponse,
             dependencies=[Depends(signed_link_limit)],
             summary="The approval page's form: approve, or decline with a reason")
async def review_decision(quote_id: str, request: Request,
                          state: AppState = Depends(app_state)) -> HTMLResponse:
    _same_site_form(request, state)
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        raise field_problem(413, "body", "the form is too large", "send the page's form",
                            "Too large")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    token = fields.get("token", "")
    director = _link(state, quote_id, token)
    if fields.get("decision") not in ("approve", "decline"):
        raise field_problem(422, "decision", "approve or decline", "use the page's buttons",
                            "Request is not valid")
    ref = await _quote(state, quote_id, None)
    decision = Decision(approve=fields["decision"] == "approve",
                        reason=fields.get("reason", "")[:1000], by=f"director:{director}",
                        director_email=director, channel=Channel.LINK,
                        ip=request.client.host if request.client else "")
    try:
        decided = await ref.handle.execute_update(QuoteWorkflow.decide, decision,
                                                  result_type=QuoteView)
    except WorkflowUpdateFailedError as exc:
        reason = str(getattr(exc.cause, "message", "") or "the decision was refused")
        return await _page(ref, token, state.config.msp, message=reason,
                           status=refusal_status(exc)[0])
    verb = "approved" if decision.approve else "declined"
    return await _page(ref, token, state.config.msp,
                       message=f"Thank you: the quote is {verb}.", view=decided)
