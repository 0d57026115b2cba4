"""Files on a ticket: what the desk records of each (the bytes live in object storage,
encrypted), the limits every door checks before it reads a byte, and the type a file
really is (sniffed from its first bytes, never taken from the sender).

Objects are content-addressed per client (:func:`object_key`): the same file twice is
stored once for a client, and a key of one client never names another client's file.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated

import puremagic
from pydantic import BaseModel, ConfigDict, Field

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)
_CLIENT = re.compile(r"^[a-z0-9][a-z0-9-]{1,63}$")
# The bucket's own folders: a client with one of these ids would share keys with them
# (its files under the staged uploads' lifecycle rule, its addresses among the marks).
RESERVED_CLIENT_IDS = frozenset({"staging", "refs"})
SNIFF_BYTES = 8192          # what the type is read from
NAME_MAX_CHARS = 200
# Control characters (C0, C1), quoting and path characters, and the invisible ones that
# change how a name reads: bidirectional marks, embeddings, overrides and isolates
# ("\u202egpj.exe" shows as "exe.jpg"), line and paragraph separators.
_UNSAFE_NAME = re.compile(
    r'[\x00-\x1f\x7f-\x9f"\\/:*?<>|\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]+')

# Served only as downloads, and never with a type a browser would run or render as a
# page from our origin: these go out as application/octet-stream.
ACTIVE_TYPES = frozenset({"text/html", "application/xhtml+xml", "image/svg+xml",
                          "text/xml", "application/xml", "text/javascript",
                          "application/javascript", "application/x-shockwave-flash"})
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


class Channel(StrEnum):
    API = "api"        # POST /v1/tickets/{id}/attachments, or an upload at intake
    EMAIL = "email"    # a MIME part of a mailed-in message
    MERGE = "merge"    # followed a duplicate merged into this ticket


class FileLimits(BaseModel):
    """Per client (``files:`` in the config); checked before an upload is read in full."""

    model_config = ConfigDict(extra="forbid")
    max_file_bytes: int = Field(25 * 1024 * 1024, ge=1024, le=1024 ** 3,
                                description="one file (default 25 MB)")
    max_files_per_ticket: int = Field(50, ge=1, le=500)
    max_ticket_bytes: int = Field(200 * 1024 * 1024, ge=1024, le=10 * 1024 ** 3,
                                  description="all of a ticket's files together")


class Attachment(BaseModel):
    """A file on a ticket: what it is, who sent it, when, by which channel."""

    sha256: str = Field(pattern=SHA256_PATTERN)
    name: str = Field(max_length=NAME_MAX_CHARS)
    content_type: str = Field(max_length=100, description="sniffed from the bytes")
    size: int = Field(ge=0)
    by: str = Field(max_length=200)
    at: datetime
    channel: Channel


class AttachmentIn(BaseModel):
    """The ticket's update: files already stored for its client, to list on it, and the
    client's limits (checked again by the ticket, so two uploads at once cannot pass them
    together). Made by the desk, never by a caller: ``by`` and ``at`` are the desk's."""

    model_config = ConfigDict(extra="forbid")
    files: list[Attachment] = Field(min_length=1, max_length=50)
    limits: FileLimits = FileLimits()

    def refusal(self, held: list[Attachment]) -> LimitRefusal | None:
        """Whether these files may join a ticket holding ``held``."""
        held = list(held)
        for file in self.files:
            refused = refusal(held, file.size, self.limits, file.sha256)
            if refused is not None:
                return refused
            held.append(file)
        return None


UPLOAD_PURPOSE = "upload"
UPLOADS_PER_TICKET_MAX = 10
UploadRef = Annotated[str, Field(min_length=10, max_length=2000, examples=[
    "eyJwIjoidXBsb2FkIn0.c2lnbmF0dXJl"])]


class Upload(BaseModel):
    """A file uploaded before its ticket exists (``POST /v1/attachments``): name the
    ``upload`` in the new ticket's ``uploads`` before ``expires_at``."""

    upload: str = Field(description="a signed reference to the staged file, for one client")
    name: str
    content_type: str
    size: int
    sha256: str
    expires_at: datetime


class FilesOnTicket(BaseModel):
    """A ticket's files and nothing else: what a download or an upload checks, far
    lighter to ask for than the whole view."""

    attachments: list[Attachment]


class FilesHeld(BaseModel):
    """A ticket letting go of its files (at the end of its life, or an exit's purge)."""

    client_id: str
    ticket_id: str
    sha256s: list[str] = Field(max_length=500)


class FilesReleased(BaseModel):
    deleted: int = Field(description="files no other ticket of the client held: gone")
    kept: int = Field(description="files another ticket still holds")


class LimitRefusal(BaseModel):
    """Why a file may not join a ticket: the HTTP status (413 too big, 422 too many), the
    limit's name and a sentence saying what to do."""

    status: int
    limit: str
    message: str


def object_key(client_id: str, sha256: str) -> str:
    """A client's file's content address in the bucket: ``<client>/<sha256>`` (an object
    naming where the sealed bytes are, :func:`data_key`)."""
    if not _CLIENT.match(client_id) or not _SHA256.match(sha256):
        raise ValueError(f"not a client id and a SHA-256: {client_id!r}, {sha256!r}")
    return f"{client_id}/{sha256}"


def parse_object_key(key: str) -> tuple[str, str]:
    """(client id, sha256) of an :func:`object_key`; ValueError for anything else."""
    client_id, sep, sha256 = key.partition("/")
    if not sep or not _CLIENT.match(client_id) or not _SHA256.match(sha256):
        raise ValueError(f"{key!r} is not a file's key (<client>/<sha256>)")
    return client_id, sha256


def data_key(client_id: str, name: str) -> str:
    """Where a file's sealed bytes are (its content address names this object)."""
    if not _CLIENT.match(client_id):
        raise ValueError(f"not a client id: {client_id!r}")
    return f"{client_id}/data/{name}"


def staging_key(client_id: str, name: str) -> str:
    """Where a file waits until it is whole, or an upload until its ticket names it
    (``staging/<client>/``: a bucket lifecycle rule clears what is left there)."""
    if not _CLIENT.match(client_id):
        raise ValueError(f"not a client id: {client_id!r}")
    return f"staging/{client_id}/{name}"


def release_marker_key(client_id: str, data: str) -> str:
    """The marker a release writes before it deletes the sealed object ``data`` (one of
    the client's, :func:`data_key`): no upload takes an object so marked for its file."""
    if not data.startswith(data_key(client_id, "")):
        raise ValueError(f"not an object of {client_id!r}: {data!r}")
    return f"refs/{client_id}/released/{data.rsplit('/', 1)[1]}"


def reference_key(client_id: str, sha256: str, ticket_id: str) -> str:
    """A marker saying ``ticket_id`` holds the file, as written before marks were per
    attempt (:func:`mark_key`): still counted, and deleted with the ticket's marks."""
    return f"{reference_prefix(client_id, sha256)}{ticket_id}"


def ticket_marks_prefix(client_id: str, sha256: str, ticket_id: str) -> str:
    return f"{reference_key(client_id, sha256, ticket_id)}/"


def mark_key(client_id: str, sha256: str, ticket_id: str, attempt: str) -> str:
    """The marker one attempt to put the file on ``ticket_id`` writes: a file is deleted
    once no ticket of its client holds it. Each attempt has its own (two uploads of one
    file to one ticket at once), so an attempt that fails takes back only its own."""
    return f"{ticket_marks_prefix(client_id, sha256, ticket_id)}{attempt}"


def reference_prefix(client_id: str, sha256: str) -> str:
    return f"refs/{object_key(client_id, sha256)}/"


def safe_name(name: str | None) -> str:
    """A file name fit for a Content-Disposition header and a page: no path, no control
    or quoting characters, normalised, bounded; ``file`` if nothing is left."""
    text = unicodedata.normalize("NFC", (name or "").replace("\\", "/").rsplit("/", 1)[-1])
    text = _UNSAFE_NAME.sub("_", text).strip(" ._")
    return text[:NAME_MAX_CHARS] or "file"


def sniff(head: bytes) -> str:
    """The content type of a file from its first bytes (magic numbers); text that is
    valid UTF-8 without NULs is text/plain; anything else application/octet-stream."""
    if head:
        try:
            found = puremagic.from_string(head, mime=True)
        except (puremagic.PureError, ValueError):
            found = ""
        if found:
            return found.lower()
        if b"\x00" not in head:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.start < len(head) - 4:  # a character cut at the end is still text
                    return "application/octet-stream"
            return "text/plain"
    return "application/octet-stream"


def served_type(content_type: str) -> str:
    """The type a download is served with: never one a browser would render as a page."""
    return "application/octet-stream" if content_type in ACTIVE_TYPES else content_type


def room_for_file(held: list[Attachment], limits: FileLimits) -> int:
    """The most bytes one more file may have on a ticket holding ``held``."""
    return min(limits.max_file_bytes, limits.max_ticket_bytes - sum(a.size for a in held))


def refusal(held: list[Attachment], size: int | None, limits: FileLimits,
            sha256: str | None = None) -> LimitRefusal | None:
    """Whether one more file of ``size`` bytes (None: not known yet) may join a ticket
    holding ``held``. A file the ticket already holds (same SHA-256) is always fine."""
    if sha256 is not None and any(a.sha256 == sha256 for a in held):
        return None
    if size is not None and size > limits.max_file_bytes:
        return LimitRefusal(status=413, limit="max_file_bytes", message=(
            f"a file may be at most {limits.max_file_bytes:,} bytes: send a smaller one, "
            "or share a link to it in a comment"))
    if len(held) >= limits.max_files_per_ticket:
        return LimitRefusal(status=422, limit="max_files_per_ticket", message=(
            f"the ticket holds {len(held)} files, its limit: put several files in one "
            "archive, or open a new ticket"))
    total = sum(a.size for a in held) + (size or 0)
    if total > limits.max_ticket_bytes:
        return LimitRefusal(status=413, limit="max_ticket_bytes", message=(
            f"the ticket's files would come to {total:,} bytes, over its limit of "
            f"{limits.max_ticket_bytes:,}: send fewer or smaller files"))
    return None
