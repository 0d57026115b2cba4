"""What must never reach the logs, whatever level the deployment sets: payloads (tickets
carry contacts' e-mail addresses and phone numbers), SMTP transcripts (addresses) and the
query strings of the URLs the HTTP client logs (signatures).

Logger filters, so they hold even when a deployment turns every logger to DEBUG. Called by
every process that runs a worker, the API or the SMTP listener; installing twice is
harmless.
"""

from __future__ import annotations

import logging

import httpx
from temporalio.exceptions import ApplicationError

# The Temporal SDK dumps whole activations and activity tasks / completions (their
# payloads, decoded unless a codec encrypts them) at DEBUG.
PAYLOAD_LOGGERS = ("temporalio.worker._activity", "temporalio.worker._workflow",
                   "temporalio.worker._workflow_instance", "temporalio.worker._worker")
# aiosmtpd's session transcript: every MAIL FROM / RCPT TO and header line, at INFO/DEBUG.
TRANSCRIPT_LOGGERS = ("mail.log",)
# httpx logs every request's URL at INFO ("HTTP Request: PUT https://...").
URL_LOGGERS = ("httpx",)


class _Below(logging.Filter):
    """Drops the records below ``level`` (its name marks it, so it is added once)."""

    def __init__(self, level: int) -> None:
        super().__init__("tempodesk-log-hygiene")
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


class _NoQueryInUrls(logging.Filter):
    """A URL in a record loses its query string: a URL the file store presigns carries its
    signature and access key id there (anyone holding it could overwrite that object
    until it expires), and other services' URLs may carry tokens the same way."""

    def __init__(self) -> None:
        super().__init__("tempodesk-no-query-in-urls")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) and a.query
                                                  for a in record.args):
            record.args = tuple(a.copy_with(query=None) if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


def install() -> None:
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoQueryInUrls) for f in logger.filters):
            logger.addFilter(_NoQueryInUrls())
    refusals = logging.getLogger("temporalio.activity")
    if not any(isinstance(f, _RefusalsInOneLine) for f in refusals.filters):
        refusals.addFilter(_RefusalsInOneLine())
    for names, level in ((PAYLOAD_LOGGERS, logging.INFO),
                         (TRANSCRIPT_LOGGERS, logging.WARNING)):
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _Below) for f in logger.filters):
                logger.addFilter(_Below(level))


class _RefusalsInOneLine(logging.Filter):
    """A refusal an activity raises on purpose (an ``ApplicationError``: a provider not set
    up, a 4xx, a peer down) is the desk working as designed - the workflow hands it to an
    agent or tries again later - so the SDK's "Completing activity as failed" and its
    traceback become one line naming the activity, the ticket and the reason, which reads
    less like a crash to whoever watches `make run`. Only the log changes: the failure, its
    category and the SDK's metrics are untouched. Anything else an activity raises is a
    bug, and keeps its traceback."""

    def __init__(self) -> None:
        super().__init__("tempodesk-refusals-in-one-line")

    def filter(self, record: logging.LogRecord) -> bool:
        failed = record.exc_info[1] if record.exc_info else None
        if (not isinstance(failed, ApplicationError)
                or getattr(record, "__temporal_error_identifier", None) != "ActivityFailure"):
            return True
        info = getattr(record, "temporal_activity", None) or {}
        logging.getLogger("tempodesk.activities").log(
            record.levelno, "%s for %s (attempt %d) refused: %s%s", info.get("activity_type"),
            info.get("workflow_id"), info.get("attempt", 0),
            f"{failed.type}: " if failed.type else "", failed.message)
        return False
