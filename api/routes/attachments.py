"""Files on a ticket: upload (streamed to object storage, sealed), list, download. Whoever
may see the ticket may add and read its files; another client's ticket is 404, the same as
one that does not exist. Downloads are always attachments, never pages of our origin."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.auth import require
from api.params import TicketPath
from api.state import AppState, app_state
from api.uploads import one_file
from desk.attachments import attach_file, read_file, stage_file, ticket_files
from desk.principal import Principal
from domain.attachments import SHA256_PATTERN, Attachment, Channel, Upload, served_type
from domain.roles import Action

router = APIRouter(prefix="/v1", tags=["files"])
Sha256Path = Path(pattern=SHA256_PATTERN, examples=["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2"
                                                    "b0b822cd15d6c15b0f00a08"],
                  description="the file's SHA-256, as the ticket lists it")
# The multipart framing around a file: a declared body over the file limit by more than
# this is refused before a byte of it is read.
FRAMING_BYTES = 64 * 1024
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def _file_size(request: Request) -> int | None:
    """The file's size as far as Content-Length tells (less the multipart framing)."""
    declared = request.headers.get("content-length", "")
    return max(int(declared) - FRAMING_BYTES, 0) if declared.isdigit() else None


class AttachmentList(BaseModel):
    ticket_id: str
    attachments: list[Attachment]


@router.post("/tickets/{ticket_id}/attachments", status_code=201, response_model=Attachment,
             openapi_extra=UPLOAD_BODY,
             summary="Add a file to the ticket: multipart/form-data with the part 'file' "
                     "(or a raw body, named by ?name=); one file a request, streamed")
async def upload(request: Request, ticket_id: str = TicketPath,
                 principal: Principal = require(Action.ATTACH_FILES),
                 state: AppState = Depends(app_state)) -> Attachment:
    return await attach_file(state, principal, ticket_id, lambda: one_file(request),
                             Channel.API, declared_size=_file_size(request))


@router.post("/attachments", status_code=201, response_model=Upload,
             openapi_extra=UPLOAD_BODY,
             summary="Upload a file before its ticket exists; name the answer's 'upload' in "
                     "the new ticket's 'uploads' (incidents, service requests) within 24 h")
async def upload_for_intake(request: Request,
                            principal: Principal = require(Action.ATTACH_FILES),
                            state: AppState = Depends(app_state),
                            client_id: str | None = Query(None, max_length=32, description=(
                                "MSP staff: the client the file is for"))) -> Upload:
    return await stage_file(state, principal, client_id, lambda: one_file(request),
                            declared_size=_file_size(request), client_id_in="query")


@router.get("/tickets/{ticket_id}/attachments", response_model=AttachmentList,
            summary="The ticket's files: name, sniffed type, size, SHA-256, who, when, channel")
async def list_files(ticket_id: str = TicketPath,
                     principal: Principal = require(Action.VIEW_TICKETS),
                     state: AppState = Depends(app_state)) -> AttachmentList:
    ticket, attachments = await ticket_files(state, principal, ticket_id)
    return AttachmentList(ticket_id=ticket, attachments=attachments)


@router.get("/tickets/{ticket_id}/attachments/{sha256}", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}, "*/*": {}},
                             "description": "the file, as a download, with the type sniffed "
                                            "from its bytes (active types as octet-stream)"}},
            summary="Download one of the ticket's files (always as an attachment)")
async def download(ticket_id: str = TicketPath, sha256: str = Sha256Path,
                   principal: Principal = require(Action.VIEW_TICKETS),
                   state: AppState = Depends(app_state)) -> StreamingResponse:
    attachment, chunks = await read_file(state, principal, ticket_id, sha256)
    name = attachment.name
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return StreamingResponse(chunks, media_type=served_type(attachment.content_type), headers={
        "Content-Length": str(attachment.size),
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff",
        # Opened directly anyway, it runs nothing and reaches nothing of ours.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
        "ETag": f'"{attachment.sha256}"'})
