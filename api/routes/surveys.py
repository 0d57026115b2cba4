"""CSAT: the signed link in the closing e-mail is the credential for this one route."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from api.auth import signed_link_limit, signed_payload
from api.problems import Problem
from api.state import AppState, app_state
from domain.tickets import CsatAnswer
from workflows.kinds import TicketWorkflow

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


class SurveyRecorded(BaseModel):
    ticket_id: str
    score: int


@router.post("/{token}", response_model=SurveyRecorded,
             dependencies=[Depends(signed_link_limit)],
             summary="Record a 1-5 score and a comment from the survey link")
async def answer_survey(answer: CsatAnswer, token: str = Path(max_length=2048),
                        state: AppState = Depends(app_state)) -> SurveyRecorded:
    payload = signed_payload(state, token, "csat",
                             Problem(410, "Survey expired", "the survey link has expired"))
    ticket = payload["s"]
    ref = await state.tickets.locate(ticket, None)  # the signed link is the credential
    view = await ref.handle.execute_update(TicketWorkflow.record_csat, answer,
                                           result_type=ref.view_model)
    return SurveyRecorded(ticket_id=ticket, score=view.csat_score or answer.score)
