"""Inbound e-mail from a mail provider's inbound hook: the raw RFC 5322 message as the body
(``message/rfc822``), authenticated by an integration credential: a client's (mail for
that client only) or the MSP's (`staff:` with role integration: routed by sender). Which
mail may act is decided by domain/mail_rules.py; a message nobody can read is 422."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import require
from api.problems import field_problem
from api.state import DeskState
from desk.mail import Outcome, take_message
from desk.principal import Principal
from domain.email_inbound import MalformedMail
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["channels"])
# The media types the hook takes: a raw message. No Content-Type at all is taken too (some
# providers' hooks send none); any other type is someone sending the wrong thing (415).
MEDIA_TYPES = ("message/rfc822", "application/octet-stream")


@router.post("/email/inbound", status_code=202, response_model=Outcome,
             openapi_extra={"requestBody": {"content": {
                 media: {"schema": {"type": "string", "format": "binary"}}
                 for media in MEDIA_TYPES},
                 "required": True}},
             responses={415: {"description": "a Content-Type other than message/rfc822 or "
                              "application/octet-stream"},
                        422: {"description": "not a message the desk can read (MIME nested "
                              "too deep, too many parts, ...)"}},
             summary="A raw e-mail in: a new ticket, a reply on its ticket, a director's "
                     "'Approved' on a quote, a note, or ignored (automatic mail, unknown "
                     "senders); only authenticated senders act (docs/security.md)")
async def inbound_email(request: Request, state: DeskState,
                        principal: Principal = require(Action.INBOUND_EMAIL)) -> Outcome:
    raw = await request.body()  # first: an oversized body is a 413 whatever its type
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media and media not in MEDIA_TYPES:
        raise field_problem(415, "Content-Type", f"{media[:80]!r} is not taken here",
                            "send the raw RFC 5322 message as the body with Content-Type: "
                            "message/rfc822 (or application/octet-stream)",
                            "Unsupported media type", where="header")
    if not raw.strip():
        raise field_problem(422, "(body)", "no message", "send the raw RFC 5322 message as "
                            "the body (Content-Type: message/rfc822)", "Request is not valid")
    try:
        return await take_message(state, raw, principal)
    except MalformedMail as exc:
        raise field_problem(422, "(body)", exc.reason, "send the message as a mail program "
                            "wrote it", "Unreadable message") from None
