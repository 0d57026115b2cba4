"""Answering a survey: a CSAT score on a closed ticket, an NPS score for a client's
period. The signed link in the e-mail is the credential: a door verifies its signature and
expiry (api/auth.signed_payload) and hands its payload here; the answer reaches only the
ticket or the person the link names. Every door answering a survey (the JSON routes, the
survey pages' forms) calls these."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from desk.errors import DeskError, refused
from desk.state import Desk
from domain import nps
from domain.nps import NpsAnswer, NpsReply
from domain.reviews import Job, review_workflow_id
from domain.tickets import CsatAnswer
from workflows.kinds import TicketWorkflow
from workflows.reviews import NpsSurveyWorkflow

_RESPONDENT = re.compile(nps.RESPONDENT_PATTERN)


class SurveyRecorded(BaseModel):
    ticket_id: str
    score: int


class NpsRecorded(BaseModel):
    period: str
    score: int


def nps_closed() -> DeskError:
    return DeskError(410, "Survey closed", "the survey has closed")


async def answer_csat(desk: Desk, link: dict[str, Any], answer: CsatAnswer) -> SurveyRecorded:
    """Record ``answer`` on the ticket ``link`` (a verified CSAT link's payload) names."""
    ticket = str(link["s"])
    ref = await desk.tickets.locate(ticket, None)  # the signed link is the credential
    try:
        view = await ref.handle.execute_update(TicketWorkflow.record_csat, answer,
                                               result_type=ref.view_model)
    except WorkflowUpdateFailedError as exc:  # answered already, survey closed, ...
        raise refused(exc) from exc
    return SurveyRecorded(ticket_id=ticket, score=view.csat_score or answer.score)


async def csat_recorded(desk: Desk, link: dict[str, Any]) -> int | None:
    """The score the ticket ``link`` names has recorded already, if any (its page then
    says so instead of offering a form that can only be refused)."""
    ref = await desk.tickets.locate(str(link["s"]), None)  # the signed link is the credential
    return (await ref.view()).csat_score


async def answer_nps(desk: Desk, link: dict[str, Any], answer: NpsAnswer) -> NpsRecorded:
    """Record ``answer`` for the respondent ``link`` (a verified NPS link's payload) names,
    in their client's survey of the period; 410 once the survey has closed."""
    client_id, period = nps.parse_token_subject(link["s"])
    respondent = link.get("r")
    if not isinstance(respondent, str) or not _RESPONDENT.match(respondent) or not period:
        raise DeskError(401, "Unauthorized", "the link is damaged: open it from the e-mail "
                        "again")
    handle = desk.temporal.get_workflow_handle_for(
        NpsSurveyWorkflow.run, review_workflow_id(Job.NPS, client_id, period))
    reply = NpsReply.model_validate({"respondent": respondent, "score": answer.score,
                                     "comment": answer.comment})
    try:
        recorded = await handle.execute_update(NpsSurveyWorkflow.answer, reply)
    except WorkflowUpdateFailedError as exc:
        raise refused(exc) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND or "already completed" in exc.message:
            raise nps_closed() from exc
        raise
    return NpsRecorded(period=period, score=recorded.score)
