"""What a caller sends to act on a ticket: each workflow message without the fields the
desk fills in itself (who acted, the channel, the address a decision came from).

The messages stay as they are (committed histories replay them, e-mail and the signed
quote page build them too); a route takes the body and makes the message with
:meth:`CallerBody.message`, adding what it knows from the credential. A body's schema
lacks those fields and unknown fields are refused, as everywhere; a field the desk fills
is refused by name ("remove 'by': the desk records who acted, from your credential"), so
a value sent is never silently replaced.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, create_model, model_validator

from domain.errors import FieldError
from domain.incidents import MergeRequest, Reprioritisation
from domain.offboarding import HardwareReturn, LegalHold
from domain.onboarding import Cancellation, ExpediteDecision, MfaEnrolled, RetrySteps
from domain.quotes import Decision
from domain.service_requests import ScheduleAgreed
from domain.tickets import (
    Assignment,
    ClientEscalation,
    CommentIn,
    RecipientConfirmation,
    Transition,
)

# Why a caller may not send each field the desk fills (the fix its 422 gives).
FILLED_BY_THE_DESK = {
    "by": "the desk records who acted, from your credential",
    "director_email": "the director deciding is the one your credential names",
    "channel": "the desk records the channel the request came by",
    "ip": "the desk records the address the request came from",
    "from_requester": "the desk knows from your credential whether you speak for the client",
}


def _examples(schema: dict[str, Any], model: type[BaseModel]) -> None:
    examples = getattr(model, "examples", None)
    if examples:
        schema["examples"] = examples


class CallerBody(BaseModel):
    """The base of every body made by :func:`caller_body`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_examples)
    message_type: ClassVar[type[BaseModel]]
    filled: ClassVar[tuple[str, ...]] = ()
    examples: ClassVar[list[dict[str, Any]]] = []

    @model_validator(mode="before")
    @classmethod
    def _refuse_filled(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in cls.filled:
                if name in data:
                    raise FieldError(name, f"'{name}' is not the caller's to set",
                                     f"remove '{name}': {FILLED_BY_THE_DESK[name]}")
        return data

    def message(self, **filled: Any) -> Any:
        """The workflow message: this body plus what the desk fills."""
        return self.message_type.model_validate({**self.model_dump(), **filled})


class NoBody(CallerBody):
    """The body of an action that takes none (acknowledge): nothing, or ``{}``; a field
    sent is refused by name, like every other action's unknown or desk-filled field."""

    filled: ClassVar[tuple[str, ...]] = ("by",)


def caller_body(message: type[BaseModel], examples: list[dict[str, Any]],
                filled: tuple[str, ...] = ("by",)) -> type[CallerBody]:
    """``message``'s fields (types, limits, descriptions) except ``filled``: the body of
    the route that sends it, named ``<Message>Body`` in the OpenAPI document."""
    unknown = set(filled) - set(message.model_fields)
    assert not unknown and set(filled) <= set(FILLED_BY_THE_DESK), unknown
    fields: Any = {name: (info.annotation, info) for name, info in message.model_fields.items()
                   if name not in filled}
    body = create_model(f"{message.__name__}Body", __base__=CallerBody,
                        __doc__=message.__doc__, **fields)
    body.message_type = message
    body.filled = filled
    body.examples = examples
    return body


TransitionBody = caller_body(Transition, [
    {"to": "pending", "reason": "Waiting for Jo to try the new relay settings"},
    {"to": "resolved", "reason": "Relay re-enabled for the office", "preventable": True}])
AssignmentBody = caller_body(Assignment, [{"assignee": "sam.lee@msp.example"}])
RecipientConfirmationBody = caller_body(RecipientConfirmation,
                                        [{"email": "jo.tran@gmail.example"}])
ReprioritisationBody = caller_body(Reprioritisation, [
    {"priority": "P1", "reason": "Every lawyer in the office is affected"}])
MergeRequestBody = caller_body(MergeRequest, [{"survivor": "BEL-000123"}])
HardwareReturnBody = caller_body(HardwareReturn, [
    {"serial": "PF3X9K2L", "condition": "Screen scratched, charger missing"}])
LegalHoldBody = caller_body(LegalHold, [
    {"hold": True, "reason": "Litigation hold requested by the managing partner"}])
CancellationBody = caller_body(Cancellation, [{"reason": "The candidate declined the offer"}])
ExpediteDecisionBody = caller_body(ExpediteDecision, [
    {"approve": True, "reason": "Laptop in stock; licences free"}])
RetryStepsBody = caller_body(RetrySteps, [{"note": "Bought 5 more Microsoft 365 E3 licences"}])
MfaEnrolledBody = caller_body(MfaEnrolled, [{}])
ScheduleAgreedBody = caller_body(ScheduleAgreed, [
    {"at": "2027-02-10T10:00:00+11:00", "note": "Workshop booked with Mia Chen"}])
ClientEscalationBody = caller_body(ClientEscalation, [
    {"reason": "Three days without an answer and the office still cannot send e-mail"}],
    filled=("by", "channel"))
CommentInBody = caller_body(CommentIn, [{"body": "It happened again at 10:15, screenshot "
                                                 "attached"}],
                            filled=("by", "from_requester"))
DecisionBody = caller_body(Decision, [
    {"approve": True},
    {"approve": False, "reason": "Over budget this quarter: please quote 3 laptops"}],
    filled=("by", "director_email", "channel", "ip"))
