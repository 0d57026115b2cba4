"""Client reviews: the NPS answer (its signed link is the credential) and the QBR report,
served to the client's directors and the MSP's agents and admins as HTML or PDF, drawn
from the figures its workflow keeps. What each does is a desk operation (desk/surveys.py,
desk/reports.py); these routes parse, call and answer."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from api.auth import require, signed_link_limit
from api.state import DeskState
from api.survey_links import nps_link
from desk.principal import Principal
from desk.reports import QbrOrdered, read_qbr, report_url
from desk.reports import order_qbr as make_qbr_now
from desk.surveys import NpsRecorded
from desk.surveys import answer_nps as record_nps
from domain.documents.qbr import qbr_html, qbr_pdf
from domain.msp import document_lines
from domain.nps import NpsAnswer
from domain.reviews import QUARTER_PATTERN
from domain.roles import Action

router = APIRouter(tags=["reviews"])
CLIENT_PATTERN = r"^[a-z0-9][a-z0-9-]{1,31}$"


@router.post("/v1/surveys/nps/{token}", response_model=NpsRecorded,
             dependencies=[Depends(signed_link_limit)],
             summary="Record a 0-10 NPS score and a comment from the survey link")
async def answer_nps(answer: NpsAnswer, state: DeskState,
                           token: str = Path(max_length=2048)) -> NpsRecorded:
    return await record_nps(state, nps_link(state, token), answer)


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


@router.get("/v1/reports/qbr/{client}/{quarter}",
            summary="A client's quarterly business review, as HTML (default) or PDF",
            response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
async def qbr_report(
    request: Request,
    state: DeskState,
    client: str = Path(max_length=32, pattern=CLIENT_PATTERN, examples=["belton"]),
    quarter: str = Path(max_length=7, pattern=QUARTER_PATTERN, examples=["2027-Q1"]),
    format: ReportFormat | None = Query(None, description="pdf or html; default: from the "
                                        "Accept header, else html"),
    principal: Principal = require(Action.VIEW_REPORTS),
) -> Any:
    report = await read_qbr(state, principal, client, quarter)
    assert report.figures is not None  # read_qbr answers only a report with its figures
    wanted = format or (ReportFormat.PDF if "application/pdf" in request.headers.get(
        "accept", "") else ReportFormat.HTML)
    if wanted is ReportFormat.PDF:
        return Response(qbr_pdf(report.figures, msp=document_lines(state.config.msp)),
                        media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="qbr-{client}-{quarter}.pdf"'})
    return HTMLResponse(qbr_html(report.figures, url=report_url(state, client, quarter),
                                 msp=document_lines(state.config.msp),
                                 logo_src=state.config.msp.logo_src()))


@router.post("/v1/reports/qbr/{client}/{quarter}", status_code=202, response_model=QbrOrdered,
             summary="Make a client's QBR now (MSP agents and admins): the current quarter "
                     "(its figures so far) or one up to two years back; asking again "
                     "finds the same report",
             responses={200: {"model": QbrOrdered, "description": "the report already existed"}})
async def order_qbr(
    state: DeskState,
    client: str = Path(max_length=32, pattern=CLIENT_PATTERN, examples=["belton"]),
    quarter: str = Path(max_length=7, pattern=QUARTER_PATTERN, examples=["2026-Q4"]),
    principal: Principal = require(Action.PRODUCE_REPORTS),
) -> Response:
    body, _ = await make_qbr_now(state, principal, client, quarter)
    return Response(body.model_dump_json(), status_code=202 if body.started else 200,
                    media_type="application/json", headers={"Location": body.report})
