"""CSAT: the signed link in the closing e-mail is the credential for this one route."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from api.auth import signed_link_limit
from api.problems import Problem
from api.state import AppState, app_state
from domain import tokens
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
    secret = state.settings.secret
    try:
        payload = tokens.verify(secret, token, "csat")
    except tokens.ExpiredToken as exc:
        raise Problem(410, "Survey expired", "the survey link has expired") from exc
    except tokens.InvalidToken as exc:
        raise Problem(401, "Unauthorized", str(exc)) from exc
    ticket = payload["s"]
    ref = await state.tickets.locate(ticket, None)  # the signed link is the credential
    view = await ref.handle.execute_update(TicketWorkflow.record_csat, answer,
                                           result_type=ref.view_model)
    return SurveyRecorded(ticket_id=ticket, score=view.csat_score or answer.score)
