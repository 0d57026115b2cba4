"""Putting files on a ticket and reading them back, for every door that takes files (the
upload route, mail). The order keeps a ticket whole: the file is stored and marked as
held by the ticket first, and only then listed on it; if the ticket refuses it (its
limits, an ended ticket) the mark is taken back, so nothing half-written appears."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError

from activities.file_store import (
    FileNotStored,
    FileStore,
    FileStoreUnavailable,
    FileTooLarge,
    SizeHint,
    StoredFile,
)
from activities.sealed_file import SealError
from desk.errors import DeskError, field_problem, unanswered
from desk.state import Desk
from desk.tickets import TicketRef
from domain import tokens
from domain.attachments import (
    UPLOAD_PURPOSE,
    Attachment,
    AttachmentIn,
    Channel,
    FileLimits,
    FilesOnTicket,
    LimitRefusal,
    Upload,
    refusal,
    room_for_file,
    safe_name,
)
from domain.email_inbound import Attachment as MailAttachment
from domain.refusals import Refusal
from domain.tenants import ClientConfig
from domain.tickets import TicketView
from workflows.kinds import TicketWorkflow

RETRY_AFTER_SECONDS = 30
# A download's pieces, as handed to the HTTP server: at least this much, so each of the
# store's 1 MiB chunks (15 whole segments and a bit) goes out as one piece as it arrives;
# at 1 MiB a piece waited for a second chunk (the first byte for 2 MiB of reading).
SEND_BYTES = 512 * 1024
log = logging.getLogger(__name__)
T = TypeVar("T")


def file_store(state: Desk) -> FileStore:
    if state.files is None:
        raise DeskError(503, "Files are not set up", "this desk has no file store: its "
                      "operator sets TEMPODESK_S3_BUCKET (and the endpoint and keys)",
                      retry_after=3600)
    return state.files


def store_down() -> DeskError:
    return DeskError(503, "File store unavailable", "the file store did not answer: nothing "
                     "was kept, send the file again later", retry_after=RETRY_AFTER_SECONDS)


def limit_problem(refused: LimitRefusal) -> DeskError:
    return field_problem(refused.status, "file", refused.message, f"see the client's "
                         f"files.{refused.limit}", "File refused", where="body")


@contextlib.contextmanager
def storing(limits: FileLimits) -> Iterator[None]:
    """Around a write to the store: over the file limit is 413 naming it, a store that
    does not answer 503 to retry (nothing was kept either way)."""
    try:
        yield
    except FileTooLarge as exc:
        raise limit_problem(refusal([], exc.limit + 1, limits)) from exc
    except FileStoreUnavailable as exc:
        raise store_down() from exc


async def answered(state: Desk, call: Awaitable[T]) -> T:
    """A call to Temporal from a file route, bounded like every other request's (file
    routes stream, so the request deadline does not cover them: api/limits.py)."""
    try:
        async with asyncio.timeout(state.settings.api_request_seconds):
            return await call
    except TimeoutError as exc:
        raise unanswered(f"within {state.settings.api_request_seconds:g} s") from exc


async def held_files(ref: TicketRef) -> list[Attachment]:
    on_ticket = await ref.handle.query(TicketWorkflow.files, result_type=FilesOnTicket)
    return list(on_ticket.attachments)


async def add_file(state: Desk, ref: TicketRef, name: str, chunks: AsyncIterator[bytes],
                   by: str, channel: Channel, declared_size: int | None = None,
                   exact_size: int | None = None) -> Attachment:
    """Store one streamed file and list it on the ticket; 413/422 over a limit, 503 if
    the store is down. ``declared_size``: what the body's length says of the file (less
    any framing); ``exact_size``: the file's very length, when the door knows it. A
    declared size over the file limit is refused before the first byte is read, one over
    the ticket's room once the ticket has answered (asked while the first bytes are
    stored)."""
    store = file_store(state)
    limits = ref.client.files
    hint = size_hint(declared_size, exact_size)
    refused = refusal([], hint.length, limits)  # the file's own limit needs no asking
    if refused is not None:
        raise limit_problem(refused)
    # The ticket is asked what it holds while the first bytes are stored (a query's round
    # trip is a tenth of a 25 MB upload's time); its limits stop the stream once it answers.
    asking = asyncio.ensure_future(answered(state, held_files(ref)))
    try:
        with storing(limits):
            stored = await store.put(ref.client.id, within_ticket(
                chunks, asking, hint.length, limits), limits.max_file_bytes, hint)
        held = await asking
    finally:
        settled(asking)
    (attachment,), _ = await list_on_ticket(state, ref, [(name, stored)], by, channel, held)
    return attachment


def size_hint(declared_size: int | None, exact_size: int | None) -> SizeHint:
    """What the door knows of a file's size: its exact length if it has one (then also
    the size its limits are checked against), else the declared one."""
    if exact_size is not None:
        return SizeHint(exact_size, exact=True)
    return SizeHint(declared_size)


def settled(task: asyncio.Future) -> None:
    """A task not needed any more: stopped, and an error it ended with taken (it is
    told elsewhere, or moot: the upload failed first)."""
    task.cancel()
    if task.done() and not task.cancelled():
        task.exception()


async def within_ticket(chunks: AsyncIterator[bytes], asking: asyncio.Future[list[Attachment]],
                        declared_size: int | None, limits: FileLimits) -> AsyncIterator[bytes]:
    """``chunks``, refused (413/422 naming the limit) once the ticket has said what it holds
    and the file would not fit: at the first chunk after the answer, at the latest before
    the stream ends, so a refused file is never stored whole."""
    room: int | None = None  # the bytes the file may have, once the ticket answered
    size = 0

    def check(held: list[Attachment]) -> int:
        refused = refusal(held, max(size, declared_size or 0), limits)
        if refused is not None:
            raise limit_problem(refused)
        return room_for_file(held, limits)

    async for chunk in chunks:
        size += len(chunk)
        if room is None and asking.done():
            room = check(asking.result())
        if room is not None and size > room:
            check(asking.result())
        yield chunk
    check(await asking)


async def list_on_ticket(state: Desk, ref: TicketRef,
                         files: list[tuple[str, StoredFile]], by: str, channel: Channel,
                         held: list[Attachment]) -> tuple[list[Attachment], TicketView]:
    """Files already stored for the ticket's client join the ticket (``held``: what it
    listed before, whose marks are never taken back): the files, and the ticket's view
    (its kind's) once they are on it."""
    store = file_store(state)
    now = datetime.now(UTC)
    attachments = [Attachment(sha256=f.sha256, name=safe_name(name),
                              content_type=f.content_type, size=f.size, by=by[:200], at=now,
                              channel=channel) for name, f in files]
    new = {a.sha256 for a in attachments} - {a.sha256 for a in held}
    pending = [file for _, file in files]  # copies neither kept nor deleted yet
    asked = False  # whether the ticket was asked to list them (it may have, unanswered)
    marks: dict[str, str] = {}  # this attempt's own, by file: only these are taken back
    try:
        while pending:
            file = pending.pop(0)
            if file.sha256 in new and file.sha256 not in marks:
                marks[file.sha256] = await store.hold(ref.client.id, file.sha256,
                                                      ref.ticket_id, file.spare)
            elif file.spare is not None:  # a file the ticket holds already, or sent twice
                await store.keep_one_copy(ref.client.id, file.sha256, file.spare)
        asked = True
        view = await answered(state, ref.handle.execute_update(
            TicketWorkflow.attach, AttachmentIn(files=attachments, limits=ref.client.files),
            result_type=ref.view_model))
        state.listed_files.remember(ref.ticket_id, view.attachments)
    except BaseException as exc:
        for file in pending:
            if file.spare is not None:
                await store.discard(ref.client.id, file.spare)
        # Refused, or never asked: not listed. Asked and not answered: it may be listed
        # yet (an update Temporal took is applied later), so the marks stay (a leak).
        if not asked or isinstance(exc, WorkflowUpdateFailedError):
            await _take_back(store, ref, marks)
        if isinstance(exc, FileStoreUnavailable):
            raise store_down() from exc
        cause = getattr(exc, "cause", None)
        if isinstance(exc, WorkflowUpdateFailedError) and getattr(cause, "type", None) == (
                Refusal.FILE_LIMIT):
            raise field_problem(413, "file", cause.message, "see the client's files limits",
                                "File refused", where="body") from exc
        raise
    return attachments, view


UPLOAD_VALID = timedelta(hours=24)


async def stage_upload(state: Desk, client: ClientConfig, name: str,
                       chunks: AsyncIterator[bytes], by: str,
                       declared_size: int | None, exact_size: int | None = None) -> Upload:
    """A file uploaded before its ticket exists: staged for ``client``, with a signed
    reference the intake takes (``uploads``) within 24 hours."""
    store = file_store(state)
    limits = client.files
    hint = size_hint(declared_size, exact_size)
    refused = refusal([], hint.length, limits)
    if refused is not None:
        raise limit_problem(refused)
    with storing(limits):
        staged = await store.stage(client.id, chunks, limits.max_file_bytes, hint)
    file = staged.file
    expires = datetime.now(UTC) + UPLOAD_VALID
    name = safe_name(name)
    token = tokens.sign(state.settings.secret, UPLOAD_PURPOSE, client.id, expires,
                        key=staged.staging_key, sha=file.sha256, name=name,
                        type=file.content_type, size=str(file.size), by=by[:200])
    return Upload(upload=token, name=name, content_type=file.content_type, size=file.size,
                  sha256=file.sha256, expires_at=expires)


async def claimed_uploads(state: Desk, client: ClientConfig,
                          uploads: list[str]) -> list[dict[str, str]]:
    """The uploads an intake names, each checked (signed for this client, not expired,
    still in the store) before any ticket is opened; 422 naming the one at fault."""
    if not uploads:
        return []
    store = file_store(state)
    claims = []
    for index, token in enumerate(uploads):
        try:
            claim = tokens.verify(state.settings.secret, token, UPLOAD_PURPOSE)
        except tokens.InvalidToken as exc:
            raise field_problem(422, f"uploads[{index}]", str(exc), "upload the file again "
                                "(POST /v1/attachments) and name the new 'upload'",
                                "Upload not usable", where="body") from exc
        if claim["s"] != client.id:
            raise field_problem(422, f"uploads[{index}]", "not an upload of this client",
                                "upload the file with this client's credential",
                                "Upload not usable", where="body")
        try:
            kept = await store.has_upload(client.id, claim["key"], claim["sha"])
        except FileStoreUnavailable as exc:
            raise store_down() from exc
        if not kept:
            raise field_problem(422, f"uploads[{index}]", "the uploaded file is no longer "
                                "kept", "upload the file again", "Upload not usable",
                                where="body")
        claims.append(claim)
    return claims


async def attach_uploads(state: Desk, ref: TicketRef,
                         claims: list[dict[str, str]]) -> TicketView:
    """The claimed uploads join the new ticket (safe to repeat: a replayed intake); its
    view with them."""
    store = file_store(state)
    try:  # a staged upload moved already (a replayed intake) is found at its address
        stored = [(claim["name"], StoredFile(
            sha256=claim["sha"], size=int(claim["size"]), content_type=claim["type"],
            spare=store.staged_copy(ref.client.id, claim["key"]))) for claim in claims]
        _, view = await list_on_ticket(state, ref, stored, claims[0]["by"], Channel.API,
                                       await answered(state, held_files(ref)))
    except FileNotStored as exc:
        raise DeskError(503, "Upload lost", "an upload went missing from the store while "
                        "the ticket was opened: send the request again with the same "
                        "Idempotency-Key", retry_after=5) from exc
    return view


def room_for_mail(limits: FileLimits, held: list[Attachment],
                  carried: list[MailAttachment]) -> None:
    """A message's files against its ticket's limits (``held``: what it lists; none for
    a ticket the message opens), before anything of the message is stored or done: 413
    naming the limit (the sender's server bounces it whole), where a note naming the
    files was kept on the ticket without them, or a ticket opened without them."""
    now = datetime.now(UTC)
    incoming = AttachmentIn(files=[Attachment(
        sha256=f.sha256, name=safe_name(f.filename), content_type=f.content_type[:100],
        size=f.size, by="email", at=now, channel=Channel.EMAIL) for f in carried],
        limits=limits)
    refused = incoming.refusal(held)
    if refused is not None:  # 413 whatever the limit: the listener's 552, final
        # Said to whoever sent the mail, proven or not: the limit, never what the ticket
        # holds (how many files, how many bytes).
        message = (refused.message if refused.limit == "max_file_bytes" else
                   "the ticket has no room for these files: send fewer or smaller files, "
                   "or a link to them")
        raise field_problem(413, "file", message, f"see the client's files.{refused.limit}",
                            "File refused", where="body")


async def store_mail_files(state: Desk, client: ClientConfig,
                           attachments: list[MailAttachment],
                           files: list[bytes]) -> list[tuple[str, StoredFile]]:
    """Store the files a message carries for ``client`` (none kept when the desk has no
    file store: the text names them); 503 if the store cannot take them now."""
    if state.files is None or not files:
        return []
    stored: list[tuple[str, StoredFile]] = []
    try:
        with storing(client.files):
            for attachment, data in zip(attachments, files, strict=True):
                stored.append((attachment.filename, await state.files.put_bytes(
                    client.id, data, client.files.max_file_bytes)))
    except BaseException:
        await discard_spares(state, client, stored)  # the sender's server sends it again
        raise
    return stored


# Files that follow a merged duplicate are never refused by the survivor's limits: the
# merge has happened, and they were within the duplicate's.
MERGED_LIMITS = FileLimits(max_files_per_ticket=500, max_ticket_bytes=10 * 1024 ** 3)


async def discard_spares(state: Desk, client: ClientConfig,
                         stored: list[tuple[str, StoredFile]]) -> None:
    """The copies ``stored`` made, when no ticket will list them (what was to list them
    failed): deleted, not left for good (staged uploads stay for a replay)."""
    if state.files is None:
        return
    for _, file in stored:
        if file.spare is not None:
            await state.files.discard(client.id, file.spare)


def close_unawaited(call: Awaitable[object]) -> None:
    """A coroutine that will not be awaited, closed (no 'never awaited' warning)."""
    close = getattr(call, "close", None)
    if close is not None:
        close()


async def _take_back(store: FileStore, ref: TicketRef, marks: dict[str, str]) -> None:
    """This attempt's marks taken back (the ticket does not list their files)."""
    for sha256, mark in marks.items():
        with contextlib.suppress(Exception):  # the store may be down: a leak at worst
            await store.take_back(ref.client.id, sha256, mark)


async def follow_merge(state: Desk, files: list[Attachment], survivor: TicketRef,
                       held: list[Attachment], merge: Awaitable[T]) -> T:
    """Run ``merge`` (the duplicate's update) with its files following it to the survivor:
    the survivor's hold is marked first (a merged duplicate ends at once and lets go of
    its own), then the files are listed on the survivor. If the store cannot mark them,
    nothing is merged (503: a merged duplicate's files would be deleted with it)."""
    new = [f for f in files if f.sha256 not in {h.sha256 for h in held}]
    if not new or state.files is None:
        return await merge
    marks: dict[str, str] = {}
    try:
        for file in new:
            marks[file.sha256] = await state.files.hold(survivor.client.id, file.sha256,
                                                        survivor.ticket_id)
    except BaseException as exc:
        await _take_back(state.files, survivor, marks)
        close_unawaited(merge)
        if isinstance(exc, FileStoreUnavailable):
            raise store_down() from exc
        raise
    try:
        merged = await merge
    except WorkflowUpdateFailedError:  # refused: nothing merged, the marks taken back
        await _take_back(state.files, survivor, marks)
        raise
    # Unanswered or cancelled: the merge may be applied yet, so the marks stay (a leak).
    try:
        await answered(state, survivor.handle.execute_update(
            TicketWorkflow.attach, AttachmentIn(
                files=[f.model_copy(update={"channel": Channel.MERGE}) for f in new],
                limits=MERGED_LIMITS)))
    except (DeskError, WorkflowUpdateFailedError) as exc:
        log.warning("the files of a merged ticket were not listed on %s: %s",
                    survivor.ticket_id, exc)
    return merged


async def open_file(state: Desk, ref: TicketRef, sha256: str,
                    ) -> tuple[Attachment, AsyncIterator[bytes | memoryview]]:
    """A file the ticket lists, and its bytes (the first piece already opened, so a
    damaged or missing object is an error before any byte is sent); 404 otherwise.

    The store is read while the ticket is asked, and ahead of the sender (a query's round
    trip, the store's reads and the sends overlap); nothing read is sent, and no store
    error is told, unless the ticket lists the file. A ticket this replica saw list the
    file lately is not asked again (desk/listed_files.py: a ticket's list only grows).
    The read names the client's own content address, so it never reaches another
    client's file."""
    ahead = ReadAhead(file_store(state), ref.client.id, sha256)
    try:
        attachment = state.listed_files.get(ref.ticket_id, sha256)
        if attachment is None:  # not seen listed lately: ask the ticket
            held = await answered(state, held_files(ref))
            state.listed_files.remember(ref.ticket_id, held)
            attachment = next((a for a in held if a.sha256 == sha256), None)
        if attachment is None:
            raise DeskError(404, "Not found", f"no file {sha256[:16]}… on {ref.ticket_id}")
        first = await ahead.next()
    except FileNotStored as exc:
        await ahead.close()
        raise DeskError(410, "File gone", "the file was deleted from the store (the ticket "
                      "let go of it)") from exc
    except FileStoreUnavailable as exc:
        await ahead.close()
        raise store_down() from exc
    except SealError as exc:
        await ahead.close()
        log.error("file %s… of %s does not open: %s", sha256[:16], ref.ticket_id, exc)
        raise DeskError(502, "File damaged", "the stored file does not open with the desk's "
                      "keys: tell the desk's operator") from exc
    except BaseException:
        await ahead.close()
        raise

    async def whole() -> AsyncIterator[bytes | memoryview]:
        try:
            piece = first
            while piece is not None:
                yield piece
                piece = await ahead.next()
        finally:  # sent, failed, or the client went away: the read stops too
            await ahead.close()

    return attachment, whole()


class ReadAhead:
    """A file read from the store into a few pieces ahead of whoever sends them (pieces
    of about SEND_BYTES: each send is a trip through the HTTP server's Python code), so
    the store's transfer and the client's go on together; at most ``pieces`` wait."""

    def __init__(self, store: FileStore, client_id: str, sha256: str, pieces: int = 4) -> None:
        self._waiting: asyncio.Queue[memoryview | BaseException | None] = asyncio.Queue(pieces)
        self._task = asyncio.ensure_future(self._read(store, client_id, sha256))

    async def _read(self, store: FileStore, client_id: str, sha256: str) -> None:
        try:
            async for piece in await store.read(client_id, sha256, SEND_BYTES):
                await self._waiting.put(piece)
        except Exception as exc:  # told where the reader is, never left waiting
            await self._waiting.put(exc)
            return
        await self._waiting.put(None)

    async def next(self) -> memoryview | None:
        """The next piece (``None`` at the end); the store's error where the read met it."""
        got = await self._waiting.get()
        if isinstance(got, BaseException):
            raise got
        return got

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.wait([self._task])
