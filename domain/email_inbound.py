"""Inbound e-mail, read: a raw RFC 5322 message as mail providers' inbound hooks and our
SMTP listener hand it over, turned into what the desk needs to decide (sender, thread,
text, attachments by reference) and whether it is automatic mail that must never open a
ticket or start a loop (RFC 3834 Auto-Submitted, Precedence, List-Id, null senders)."""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from pydantic import BaseModel, Field

from domain.ids import TICKET_ID_PATTERN

MESSAGE_MAX_BYTES = 10 * 1024 * 1024   # the SMTP listener's limit; the API's is 1 MiB
TEXT_MAX_CHARS = 10_000                # a comment's limit
ATTACHMENTS_MAX = 20
_OUR_MESSAGE_ID = re.compile(r"<([a-z_]+)\.(" + TICKET_ID_PATTERN.strip("^$")
                             + r")\.\d+\.[a-z_]+@tempodesk>")  # notifications.message_id
_SUBJECT_TICKET = re.compile(r"\[(" + TICKET_ID_PATTERN.strip("^$") + r")\]")
_APPROVED = re.compile(r"^\s*approved\b[\s.!]*$", re.IGNORECASE)
_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})


class Attachment(BaseModel):
    """Kept by reference: what it was, not its bytes (the mailbox keeps those)."""

    filename: str
    content_type: str
    size: int
    sha256: str


class InboundMessage(BaseModel):
    message_id: str | None
    sender: str = Field(description="the From address, lower case")
    sender_name: str = ""
    subject: str
    text: str = Field(description="the new text of the message, quoted lines kept")
    thread_ids: list[str] = Field(default_factory=list, description="In-Reply-To and "
                                  "References, newest first")
    automatic: str | None = Field(None, description="why this is automatic mail, if it is")
    recipients: list[str] = Field(default_factory=list, description="To and Cc, lower case")
    attachments: list[Attachment] = Field(default_factory=list)

    def ticket_in_thread(self) -> tuple[str, str] | None:
        """(kind, ticket id) of the first of our notices this message answers."""
        for message_id in self.thread_ids:
            found = _OUR_MESSAGE_ID.fullmatch(message_id)
            if found:
                return found.group(1), found.group(2)
        return None

    def ticket_in_subject(self) -> str | None:
        found = _SUBJECT_TICKET.search(self.subject)
        return found.group(1) if found else None

    def to_escalations(self, local_part: str) -> bool:
        """Sent to the escalations mailbox (e.g. escalations@msp.example)."""
        return any(r.split("@", 1)[0] == local_part for r in self.recipients)

    def says_approved(self) -> bool:
        """The reply's own first line is "Approved" (quoted text below is ignored)."""
        for line in self.text.splitlines():
            if line.strip():
                return bool(_APPROVED.match(line))
        return False


def automatic(message: EmailMessage) -> str | None:
    """Why a message is automatic (RFC 3834 and common practice), or None."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "mailing list"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto-responder"
    if str(message.get("Return-Path", "")).strip() == "<>":
        return "null sender (a bounce)"
    return None


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)  # a fallback: most mail has a plain part
    return content.strip()[:TEXT_MAX_CHARS]


def parse(raw: bytes) -> InboundMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    name, sender = parseaddr(str(message.get("From", "")))
    threads = [mid for _, mid in getaddresses([str(message.get("In-Reply-To", ""))])]
    references = str(message.get("References", "")).split()
    thread_ids = [f"<{m.strip('<>')}>" for m in [*threads, *reversed(references)] if m]
    attachments = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        attachments.append(Attachment(
            filename=str(part.get_filename() or "unnamed")[:200],
            content_type=part.get_content_type(), size=len(payload),
            sha256=hashlib.sha256(payload).hexdigest()))
    subject = " ".join(str(message.get("Subject", "")).split())[:200]
    recipients = [addr.lower() for _, addr in getaddresses(
        [str(v) for v in (*message.get_all("To", []), *message.get_all("Cc", []))]) if addr]
    return InboundMessage(
        message_id=str(message.get("Message-ID", "")).strip() or None,
        sender=sender.lower(), sender_name=name[:200], subject=subject or "(no subject)",
        text=_text(message), thread_ids=list(dict.fromkeys(thread_ids)),
        automatic=automatic(message), attachments=attachments[:ATTACHMENTS_MAX],
        recipients=recipients[:50])


def with_attachments(text: str, attachments: list[Attachment]) -> str:
    if not attachments:
        return text
    listed = "\n".join(f"- {a.filename} ({a.content_type}, {a.size:,} bytes, sha256 "
                       f"{a.sha256[:16]}…)" for a in attachments)
    return f"{text}\n\nAttachments (kept in the mailbox):\n{listed}"[:TEXT_MAX_CHARS]
