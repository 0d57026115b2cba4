"""Inbound e-mail, read: a raw RFC 5322 message as mail providers' inbound hooks and our
SMTP listener hand it over, turned into what the desk needs to decide (sender, thread,
text, attachments by reference, the receiving server's Authentication-Results) and whether
it is automatic mail that must never open a ticket or start a loop (RFC 3834
Auto-Submitted, Precedence, List-Id, null senders).

Mail is hostile input. Every limit is checked here, and every failure of the standard
library's parser on a message becomes :class:`MalformedMail` with a reason the sender can
act on (the API answers 422, the SMTP listener a permanent 554): nested MIME at most
``MIME_DEPTH_MAX`` deep and ``MIME_PARTS_MAX`` parts, unknown charsets decoded as UTF-8
with replacement characters, control characters stripped from every field we keep."""

from __future__ import annotations

import codecs
import hashlib
import re
from email import errors, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from itertools import islice

from pydantic import BaseModel, Field

from domain.ids import TICKET_ID_PATTERN

MESSAGE_MAX_BYTES = 10 * 1024 * 1024   # the SMTP listener's limit; the API's is 1 MiB
TEXT_MAX_CHARS = 10_000                # a comment's limit
# Files in one message, inline images (signatures in a long thread) included: more is
# refused, never cut. A ticket's own limit (files.max_files_per_ticket) applies as well.
ATTACHMENTS_MAX = 50
MIME_DEPTH_MAX = 10                    # real mail nests 3-4 deep (a forward of a forward)
MIME_PARTS_MAX = 100
AUTH_RESULTS_MAX = 10                  # Authentication-Results headers read, at most
HEADER_MAX_CHARS = 4096                # of one Authentication-Results header
THREAD_IDS_MAX = 50
_OUR_MESSAGE_ID = re.compile(r"<([a-z_]+)\.(" + TICKET_ID_PATTERN.strip("^$")
                             + r")\.\d+\.[a-z_]+(?:\.desk)?@tempodesk>")  # notifications
_SUBJECT_TICKET = re.compile(r"\[(" + TICKET_ID_PATTERN.strip("^$") + r")\]")
_APPROVED = re.compile(r"^\s*approved\b[\s.!]*$", re.IGNORECASE)
_BULK = frozenset({"bulk", "junk", "list", "auto_reply"})
# What opens a nested part: counted before parsing (the parser recurses into each).
_NESTING = re.compile(rb"boundary\s*=|message/(?:rfc822|global)", re.IGNORECASE)
# C0 and C1 controls and DEL, but not tab, line feed, carriage return; then what also
# breaks one line (a header, a display): line and paragraph separators, NEL, tabs.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_NOT_ONE_LINE = re.compile(r"[\t\r\n\u2028\u2029\x85]+")
_ADDRESS = re.compile(r"^[^@\s\"<>(),;:\\\[\]\x00-\x1f\x7f-\x9f]+@[a-z0-9.-]+\.[a-z0-9-]+$")


class MalformedMail(ValueError):
    """A message the desk cannot read; ``reason`` says what to change."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Attachment(BaseModel):
    """A file the message carried: what it was (its bytes go to the ticket's files)."""

    filename: str
    content_type: str
    size: int
    sha256: str


class InboundMessage(BaseModel):
    message_id: str | None
    sender: str = Field(description="the From address, lower case ('' if none or unusable)")
    sender_name: str = ""
    senders_named: int = Field(1, description="addresses in From headers: more than one "
                               "makes the sender ambiguous, and never authenticated")
    subject: str
    text: str = Field(description="the new text of the message, quoted lines kept")
    thread_ids: list[str] = Field(default_factory=list, description="In-Reply-To and "
                                  "References, newest first")
    automatic: str | None = Field(None, description="why this is automatic mail, if it is")
    recipients: list[str] = Field(default_factory=list, description="To and Cc (and the "
                                  "SMTP envelope's recipients), lower case")
    attachments: list[Attachment] = Field(default_factory=list)
    auth_results: list[str] = Field(default_factory=list, description="the values of the "
                                    "Authentication-Results headers, top first")
    content_digest: str = Field("", description="SHA-256 of what the desk keeps of the "
                                "message: with the Message-ID, its idempotency key")

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

    def says_approved(self) -> bool:
        """The reply's own first line is "Approved" (quoted text below is ignored)."""
        for line in self.text.splitlines():
            if line.strip():
                return bool(_APPROVED.match(line))
        return False

    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def one_line(value: str, limit: int = 200) -> str:
    """Text for a header or a one-line display: no control characters, no line breaks."""
    return " ".join(_NOT_ONE_LINE.sub(" ", _CONTROL.sub("", value)).split())[:limit]


def plain_text(value: str, limit: int = TEXT_MAX_CHARS) -> str:
    """Text for a body: line breaks and tabs kept, other control characters dropped."""
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()[:limit]


def automatic(message: Message) -> str | None:
    """Why a message is automatic (RFC 3834 and common practice), or None."""
    submitted = one_line(str(message.get("Auto-Submitted", "no")), 100).lower()
    if submitted != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = one_line(str(message.get("Precedence", "")), 100).lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "mailing list"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "auto-responder"
    if str(message.get("Return-Path", "")).strip() == "<>":
        return "null sender (a bounce)"
    return None


def _shape(message: Message) -> None:
    """Refuse a MIME tree deeper or wider than real mail (walked without recursion)."""
    parts, stack = 0, [(message, 1)]
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > MIME_DEPTH_MAX:
            raise MalformedMail(f"MIME parts nested more than {MIME_DEPTH_MAX} deep: send "
                                "the message flattened (forward it as an attachment)")
        if parts > MIME_PARTS_MAX:
            raise MalformedMail(f"more than {MIME_PARTS_MAX} MIME parts: send fewer "
                                "attachments per message")
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in children)


def _decoded(part: Message) -> str:
    """A text part's content; an unknown or broken charset reads as UTF-8 with
    replacement characters rather than failing the message."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "us-ascii"
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):
        charset = "utf-8"
    return payload.decode(charset, errors="replace")


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _decoded(part)
    if part.get_content_type() == "text/html":
        content = re.sub(r"<[^>]+>", " ", content)  # a fallback: most mail has a plain part
    return plain_text(content)


def _address(value: str) -> str:
    """A usable address in its stored form, or '' (the message is then ignored)."""
    address = value.strip().lower()
    return address if len(address) <= 254 and _ADDRESS.match(address) else ""


def _headers(message: Message, name: str) -> list[str]:
    return [str(v) for v in (message.get_all(name) or [])]


def parse(raw: bytes) -> InboundMessage:
    """The message, or :class:`MalformedMail`; nothing else escapes."""
    return parse_with_files(raw)[0]


def parse_with_files(raw: bytes) -> tuple[InboundMessage, list[bytes]]:
    """The message and the bytes of each of its ``attachments``, in order; or
    :class:`MalformedMail`, nothing else."""
    if len(raw) > MESSAGE_MAX_BYTES:
        raise MalformedMail(f"larger than {MESSAGE_MAX_BYTES:,} bytes: keep attachments in a "
                            "shared folder and send the link")
    if next(islice(_NESTING.finditer(raw), MIME_PARTS_MAX, None), None) is not None:
        raise MalformedMail(f"more than {MIME_PARTS_MAX} MIME parts: send fewer attachments "
                            "per message")
    try:
        return _parse(raw)
    except MalformedMail:
        raise
    except RecursionError:
        raise MalformedMail(f"MIME parts nested more than {MIME_DEPTH_MAX} deep: send the "
                            "message flattened") from None
    except Exception as exc:  # the stdlib parser on hostile input: refuse, never a 500
        raise MalformedMail(f"not a readable RFC 5322 message ({type(exc).__name__}): send "
                            "it as your mail program wrote it") from None


_FORWARDED = frozenset({"message/rfc822", "message/global"})
_BODY_TYPES = frozenset({"text/plain", "text/html"})


def _files(message: EmailMessage) -> list[tuple[Attachment, bytes]]:
    """Every file the message carries, in order: attached or inline (an image pasted in
    the text), and a forwarded message whole, as .eml. The body's text parts (no file
    name, not marked as an attachment) are the message, not files."""
    found: list[tuple[Attachment, bytes]] = []
    queue = [message]
    while queue:
        part = queue.pop(0)
        kind = part.get_content_type()
        name = part.get_filename()
        if kind in _FORWARDED:
            inner = part.get_payload()
            data = bytes(inner[0]) if isinstance(inner, list) and inner else b""
            name = name or "forwarded.eml"
        elif part.is_multipart():
            children = part.get_payload()
            queue[0:0] = children if isinstance(children, list) else []  # document order
            continue
        elif kind in _BODY_TYPES and not name and part.get_content_disposition() != (
                "attachment"):
            continue
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            name = name or f"inline-{len(found) + 1}.{kind.rpartition('/')[2][:10]}"
        if len(found) == ATTACHMENTS_MAX:  # a file is never dropped: the sender is told
            raise MalformedMail(f"more than {ATTACHMENTS_MAX} files: send them in several "
                                "messages")
        found.append((Attachment(filename=one_line(str(name)) or "unnamed",
                                 content_type=one_line(kind, 100), size=len(data),
                                 sha256=hashlib.sha256(data).hexdigest()), data))
    return found


def _from_unclear(message: Message) -> bool:
    """Whether a From header could be read more than one way: the parser repaired it
    (``jo@client.example <attacker@evil.example>`` reads as the first address here and as
    the second at a DMARC checker). Such a sender is never taken as authenticated.
    Obsolete but unambiguous syntax (a period in a display name) is fine."""
    for header in message.get_all("From") or []:
        for defect in getattr(header, "defects", ()):
            if not isinstance(defect, errors.ObsoleteHeaderDefect):
                return True
    return False


def _parse(raw: bytes) -> tuple[InboundMessage, list[bytes]]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    _shape(message)
    froms = getaddresses(_headers(message, "From"))
    name, sender = parseaddr(_headers(message, "From")[0]) if froms else ("", "")
    threads = [mid for _, mid in getaddresses(_headers(message, "In-Reply-To")[:1])]
    references = str(message.get("References", "")).split()
    thread_ids = [f"<{one_line(m, 250).strip('<>')}>"
                  for m in [*threads, *reversed(references)][:THREAD_IDS_MAX] if m]
    files = _files(message)
    attachments = [attachment for attachment, _ in files]
    subject = one_line(str(message.get("Subject", "")))
    recipients = [a for a in (_address(addr) for _, addr in getaddresses(
        [*_headers(message, "To"), *_headers(message, "Cc")])) if a]
    auth_results = [one_line(value, HEADER_MAX_CHARS) for value in
                    _headers(message, "Authentication-Results")[:AUTH_RESULTS_MAX]]
    message_id = one_line(str(message.get("Message-ID", "")), 250)
    text = _text(message)
    sender_name = one_line(name)
    address = _address(sender)
    digest = hashlib.sha256("\x00".join(
        [address, sender_name, subject, text, *(a.sha256 for a in attachments)]
    ).encode("utf-8", "replace")).hexdigest()
    return InboundMessage(
        message_id=message_id or None, sender=address, sender_name=sender_name,
        senders_named=0 if _from_unclear(message) else len([a for _, a in froms if a]),
        subject=subject or "(no subject)",
        text=text, thread_ids=list(dict.fromkeys(thread_ids)), automatic=automatic(message),
        attachments=attachments, recipients=list(dict.fromkeys(recipients))[:50],
        auth_results=auth_results, content_digest=digest), [data for _, data in files]


def with_attachments(text: str, attachments: list[Attachment], kept: bool = True) -> str:
    """The text, and the files the message carried: on the ticket (``kept``), or only
    named when this desk keeps no files."""
    if not attachments:
        return text
    listed = "\n".join(f"- {a.filename} ({a.content_type}, {a.size:,} bytes, sha256 "
                       f"{a.sha256[:16]}…)" for a in attachments)
    where = ("Files (on the ticket)" if kept
             else "Files (not kept: this desk has no file store)")
    return f"{text}\n\n{where}:\n{listed}"[:TEXT_MAX_CHARS]
