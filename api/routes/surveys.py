"""CSAT: the signed link in the closing e-mail is the credential for this one route;
answering is the desk's (desk/surveys.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path

from api.auth import signed_link_limit
from api.state import DeskState
from api.survey_links import csat_link
from desk.surveys import SurveyRecorded, answer_csat
from domain.tickets import CsatAnswer

router = APIRouter(prefix="/v1/surveys", tags=["surveys"])


@router.post("/{token}", response_model=SurveyRecorded,
             dependencies=[Depends(signed_link_limit)],
             summary="Record a 1-5 score and a comment from the survey link")
async def answer_survey(answer: CsatAnswer, state: DeskState,
                        token: str = Path(max_length=2048)) -> SurveyRecorded:
    return await answer_csat(state, csat_link(state, token), answer)
