"""Ticket files' side of a ticket's life: letting go of them when the ticket ends (or an
exit's data is purged). The object itself is deleted once no ticket of its client holds
it (activities/file_store.py); safe to run twice."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.file_store import FileStore
from domain.attachments import FilesHeld, FilesReleased


class FileActivities:
    def __init__(self, store: FileStore | None) -> None:
        self.store = store

    @activity.defn
    async def release_files(self, held: FilesHeld) -> FilesReleased:
        if self.store is None:  # retried: the operator sets TEMPODESK_S3_* on the worker
            raise ApplicationError("this worker has no file store: set TEMPODESK_S3_BUCKET "
                                   "(and the endpoint and keys) as on the API",
                                   type="FileStoreNotConfigured")
        deleted = 0
        for sha256 in held.sha256s:
            deleted += await self.store.release(held.client_id, sha256, held.ticket_id)
        return FilesReleased(deleted=deleted, kept=len(held.sha256s) - deleted)

    def all(self) -> list:
        return [self.release_files]
