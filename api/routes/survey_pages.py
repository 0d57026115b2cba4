"""The pages the survey links open: the CSAT survey of a closed ticket and the NPS survey,
each a small form under the MSP's name, logo and terms (no script; the page CSP).

The signed link is the credential, as for the JSON routes beside them
(``POST /v1/surveys/{token}``, ``POST /v1/surveys/nps/{token}``): these pages' forms answer
through the same desk operations (desk/surveys.py) and check the links the same way
(api/survey_links.py): a form is accepted only from the desk's own page
(domain/form_origin.py), and a refusal (answered already, closed, a bad score) is shown on
the page with its reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowUpdateFailedError

from api.auth import signed_link_limit
from api.page_forms import form_bytes, page_form
from api.pages import TEMPLATES
from api.state import AppState, app_state
from api.survey_links import csat_link, nps_link
from desk.errors import DeskError, refusal_status
from desk.surveys import answer_csat, answer_nps, csat_recorded
from domain import nps
from domain.ids import parse_ticket_id
from domain.nps import NPS_COMMENT_MAX, NpsAnswer
from domain.tickets import CsatAnswer
from domain.words import local_time_text

router = APIRouter(tags=["surveys"])
CSAT_COMMENT_MAX = 5000
FORM_MAX_BYTES = form_bytes(max(CSAT_COMMENT_MAX, NPS_COMMENT_MAX))  # a score, a comment


def _csat_zone(state: AppState, ticket: str) -> str:
    try:
        prefix, _ = parse_ticket_id(ticket)
    except ValueError:
        return "UTC"
    client = state.config.client_by_prefix(prefix)
    return state.config.zone_of(client.id if client else None)


def _page(state: AppState, *, title: str, status: int = 200, message: str = "",
          open: bool = False, **form) -> HTMLResponse:
    msp = state.config.msp
    html = TEMPLATES.get_template("survey.html.j2").render(
        title=title, message=message, open=open, msp=msp, logo_src=msp.logo_src(),
        terms=msp.terms_text(), **form)
    return HTMLResponse(html, status_code=status)


def _csat_form(state: AppState, token: str, payload: dict) -> dict:
    ticket = str(payload["s"])
    until = datetime.fromtimestamp(int(payload["exp"]), UTC)
    return {"question": f"How did we do on your ticket {ticket}?",
            "scale_hint": "1 (poor) to 5 (excellent)", "scores": range(1, 6),
            "comment_max": CSAT_COMMENT_MAX, "form_url": f"/v1/surveys/{token}/answer",
            "until": local_time_text(until, _csat_zone(state, ticket))}


def _nps_form(state: AppState, token: str, payload: dict) -> dict:
    client_id, _ = nps.parse_token_subject(str(payload["s"]))
    client = state.config.client(client_id)
    until = datetime.fromtimestamp(int(payload["exp"]), UTC)
    return {"question": f"How likely are you to recommend {state.config.msp.name} to a "
                        f"colleague{' of ' + client.name if client else ''}?",
            "scale_hint": "0 (not at all likely) to 10 (extremely likely)",
            "scores": range(0, 11), "comment_max": NPS_COMMENT_MAX,
            "form_url": f"/v1/surveys/nps/{token}/answer",
            "until": local_time_text(until, state.config.zone_of(client_id))}


def _refused(exc: DeskError | WorkflowUpdateFailedError) -> tuple[int, str]:
    if isinstance(exc, DeskError):
        return exc.status, exc.detail
    return (refusal_status(exc)[0],
            str(getattr(exc.cause, "message", "") or "the answer was refused"))


def _field_errors(exc: ValidationError, form: dict) -> dict[str, str]:
    """What to say beside each field the form got wrong, in the page's words."""
    said = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field == "score":
            said["score_error"] = f"Pick a score, {form['scale_hint']}."
        elif field == "comment":
            said["comment_error"] = (f"At most {form['comment_max']:,} characters: shorten "
                                     "the comment.")
    return said or {"score_error": "Pick a score and send the form again."}


async def _take_answer(request: Request, state: AppState, model: type[BaseModel],
                       answer: Callable[[Any], Awaitable[Any]], title: str,
                       thanks: Callable[[Any], str], form: dict) -> HTMLResponse:
    """A survey page's posted form, answered through its JSON route's own function: the
    thanks; the form again with what to mend beside the field (the comment kept); or the
    page with the reason it was refused (answered already, closed)."""
    fields = await page_form(request, state, FORM_MAX_BYTES, "answer from the survey's own "
                             "page (the link in the e-mail)")
    comment = fields.get("comment", "")
    try:
        parsed = model.model_validate({"score": fields.get("score", ""), "comment": comment})
    except ValidationError as exc:
        return _page(state, title=title, status=422, open=True, comment=comment, **form,
                     **_field_errors(exc, form))
    try:
        recorded = await answer(parsed)
    except (DeskError, WorkflowUpdateFailedError) as exc:
        status, reason = _refused(exc)
        return _page(state, title=title, status=status, message=reason)
    return _page(state, title="Thank you", message=thanks(recorded))


# ---------------------------------------------------------------- CSAT


@router.get("/v1/surveys/{token}", response_class=HTMLResponse,
            dependencies=[Depends(signed_link_limit)],
            summary="The page the closing e-mail's survey link opens (score 1-5, a comment)")
async def csat_page(token: str = Path(max_length=2048),
                    state: AppState = Depends(app_state)) -> HTMLResponse:
    payload = csat_link(state, token)
    recorded = await csat_recorded(state, payload)
    if recorded is not None:
        return _page(state, title="How did we do?", message=f"Your score of {recorded} for "
                     f"{payload['s']} is recorded already: thank you.")
    return _page(state, title="How did we do?", open=True,
                 **_csat_form(state, token, payload))


@router.post("/v1/surveys/{token}/answer", response_class=HTMLResponse,
             dependencies=[Depends(signed_link_limit)],
             summary="The CSAT page's form: a score 1-5 and a comment")
async def csat_form_answer(request: Request, token: str = Path(max_length=2048),
                           state: AppState = Depends(app_state)) -> HTMLResponse:
    link = csat_link(state, token)  # a bad link is refused before the form is read
    return await _take_answer(
        request, state, CsatAnswer, lambda answer: answer_csat(state, link, answer),
        "How did we do?", lambda recorded: f"Your score of {recorded.score} for "
        f"{recorded.ticket_id} is recorded.", _csat_form(state, token, link))


# ---------------------------------------------------------------- NPS


@router.get("/v1/surveys/nps/{token}", response_class=HTMLResponse,
            dependencies=[Depends(signed_link_limit)],
            summary="The page the NPS invitation's link opens (score 0-10, a comment)")
async def nps_page(token: str = Path(max_length=2048),
                   state: AppState = Depends(app_state)) -> HTMLResponse:
    payload = nps_link(state, token)
    return _page(state, title="One question", open=True, **_nps_form(state, token, payload))


@router.post("/v1/surveys/nps/{token}/answer", response_class=HTMLResponse,
             dependencies=[Depends(signed_link_limit)],
             summary="The NPS page's form: a score 0-10 and a comment")
async def nps_form_answer(request: Request, token: str = Path(max_length=2048),
                          state: AppState = Depends(app_state)) -> HTMLResponse:
    link = nps_link(state, token)
    return await _take_answer(
        request, state, NpsAnswer, lambda answer: answer_nps(state, link, answer),
        "One question", lambda recorded: f"Your score of {recorded.score} is recorded.",
        _nps_form(state, token, link))
