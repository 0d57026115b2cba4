"""Client reviews: the NPS answer (its signed link is the credential) and the QBR report,
served to the client's directors and the MSP's agents and admins as HTML or PDF, drawn
from the figures its workflow keeps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.auth import require, signed_link_limit, signed_payload
from api.problems import Problem, field_problem
from api.state import AppState, app_state
from desk.principal import Principal
from desk.reports import how_to_produce, produce_qbr
from domain import nps
from domain.documents.qbr import qbr_html, qbr_pdf
from domain.errors import FieldError
from domain.msp import document_lines
from domain.nps import NpsAnswer, NpsReply
from domain.qbr import QbrReport
from domain.reviews import QUARTER_PATTERN, Job, review_workflow_id
from domain.roles import Action
from workflows.reviews import NpsSurveyWorkflow, QbrWorkflow

router = APIRouter(tags=["reviews"])
QUERY_TIMEOUT = timedelta(seconds=5)  # a report that does not answer by then: not ready
_RESPONDENT = re.compile(nps.RESPONDENT_PATTERN)


class NpsRecorded(BaseModel):
    period: str
    score: int


@router.post("/v1/surveys/nps/{token}", response_model=NpsRecorded,
             dependencies=[Depends(signed_link_limit)],
             summary="Record a 0-10 NPS score and a comment from the survey link")
async def answer_nps(answer: NpsAnswer, token: str = Path(max_length=2048),
                     state: AppState = Depends(app_state)) -> NpsRecorded:
    payload = signed_payload(state, token, nps.TOKEN_PURPOSE,
                             Problem(410, "Survey closed", "the survey has closed"))
    client_id, period = nps.parse_token_subject(payload["s"])
    respondent = payload.get("r")
    if not isinstance(respondent, str) or not _RESPONDENT.match(respondent) or not period:
        raise Problem(401, "Unauthorized", "the link is damaged: open it from the e-mail again")
    handle = state.temporal.get_workflow_handle_for(
        NpsSurveyWorkflow.run, review_workflow_id(Job.NPS, client_id, period))
    reply = NpsReply.model_validate({"respondent": respondent, "score": answer.score,
                                     "comment": answer.comment})
    try:
        recorded = await handle.execute_update(NpsSurveyWorkflow.answer, reply)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND or "already completed" in exc.message:
            raise Problem(410, "Survey closed", "the survey has closed") from exc
        raise
    return NpsRecorded(period=period, score=recorded.score)


_NOT_READY = (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.DEADLINE_EXCEEDED,
              RPCStatusCode.CANCELLED)


async def _report(handle: WorkflowHandle[QbrWorkflow, QbrReport]) -> QbrReport | None:
    """The report as its workflow keeps it; None if it cannot say yet: a report just
    asked for answers queries once its first task has run (the engine holds the query
    until then, or refuses it), which a busy worker may take a while to do."""
    try:
        return await handle.query(QbrWorkflow.report, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as exc:
        if exc.status in _NOT_READY:
            return None
        raise


class ReportFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"


@router.get("/v1/reports/qbr/{client}/{quarter}",
            summary="A client's quarterly business review, as HTML (default) or PDF",
            response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
async def qbr_report(
    request: Request,
    client: str = Path(max_length=32, pattern=r"^[a-z0-9][a-z0-9-]{1,31}$",
                       examples=["belton"]),
    quarter: str = Path(max_length=7, pattern=QUARTER_PATTERN, examples=["2027-Q1"]),
    format: ReportFormat | None = Query(None, description="pdf or html; default: from the "
                                        "Accept header, else html"),
    principal: Principal = require(Action.VIEW_REPORTS),
    state: AppState = Depends(app_state),
) -> Any:
    # The same answer whether the client is unknown, another's or has no report yet.
    missing = Problem(404, "Not found", f"no QBR for {client} {quarter}: "
                      f"{how_to_produce(client, quarter)}",
                      extensions={"produce": {"method": "POST", "href": request.url.path}})
    if state.config.client(client) is None or not principal.may_see(client):
        raise missing
    handle = state.temporal.get_workflow_handle_for(
        QbrWorkflow.run, review_workflow_id(Job.QBR, client, quarter))
    try:
        report = await _report(handle)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise missing from exc
        raise
    if report is None or report.figures is None:
        raise Problem(404, "Not found", f"the QBR for {client} {quarter} is being made: "
                      "try again in a minute", headers={"Retry-After": "60"})
    wanted = format or (ReportFormat.PDF if "application/pdf" in request.headers.get(
        "accept", "") else ReportFormat.HTML)
    if wanted is ReportFormat.PDF:
        return Response(qbr_pdf(report.figures, msp=document_lines(state.config.msp)),
                        media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="qbr-{client}-{quarter}.pdf"'})
    url = f"{state.settings.public_url}/v1/reports/qbr/{client}/{quarter}"
    return HTMLResponse(qbr_html(report.figures, url=url, msp=document_lines(state.config.msp),
                                 logo_src=state.config.msp.logo_src()))


class QbrOrdered(BaseModel):
    client: str
    quarter: str
    workflow_id: str = Field(examples=["qbr:belton:2026-Q4"])
    started: bool = Field(description="false: the report already existed (asked for "
                          "before, or made by the client's schedule); nothing new started")
    status: str = Field(description="compiling, interim (a quarter not yet over: its "
                        "figures so far; the final ones are made and mailed at its end), "
                        "ready")
    report: str = Field(description="where to read it (HTML; ?format=pdf for the PDF)")


@router.post("/v1/reports/qbr/{client}/{quarter}", status_code=202, response_model=QbrOrdered,
             summary="Make a client's QBR now (MSP agents and admins): the current quarter "
                     "(its figures so far) or one up to two years back; asking again "
                     "finds the same report",
             responses={200: {"model": QbrOrdered, "description": "the report already existed"}})
async def order_qbr(
    client: str = Path(max_length=32, pattern=r"^[a-z0-9][a-z0-9-]{1,31}$",
                       examples=["belton"]),
    quarter: str = Path(max_length=7, pattern=QUARTER_PATTERN, examples=["2026-Q4"]),
    principal: Principal = require(Action.PRODUCE_REPORTS),
    state: AppState = Depends(app_state),
) -> Response:
    tenant = state.config.client(client)
    if tenant is None or not principal.may_see(client):
        raise Problem(404, "Not found", f"no client {client!r} among yours")
    try:
        order = await produce_qbr(state.temporal, state.settings, tenant, quarter,
                                  datetime.now(UTC))
    except FieldError as exc:
        raise field_problem(422, exc.field, exc.message, exc.fix, "No such report",
                            where="path") from exc
    report = None if order.started else await _report(order.handle)
    status = "compiling" if report is None else report.status  # None: not begun yet
    body = QbrOrdered(client=client, quarter=order.quarter, workflow_id=order.workflow_id,
                      started=order.started, status=status,
                      report=f"{state.settings.public_url}/v1/reports/qbr/{client}/{quarter}")
    return Response(body.model_dump_json(), status_code=202 if order.started else 200,
                    media_type="application/json", headers={"Location": body.report})
