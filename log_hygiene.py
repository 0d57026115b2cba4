"""What must never reach the logs, whatever level the deployment sets: payloads (tickets
carry contacts' e-mail addresses and phone numbers) and SMTP transcripts (addresses).

Logger filters, so they hold even when a deployment turns every logger to DEBUG. Called by
every process that runs a worker, the API or the SMTP listener; installing twice is
harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

# The Temporal SDK dumps whole activations and activity tasks / completions (their
# payloads, decoded unless a codec encrypts them) at DEBUG.
PAYLOAD_LOGGERS = ("temporalio.worker._activity", "temporalio.worker._workflow",
                   "temporalio.worker._workflow_instance", "temporalio.worker._worker")
# aiosmtpd's session transcript: every MAIL FROM / RCPT TO and header line, at INFO/DEBUG.
TRANSCRIPT_LOGGERS = ("mail.log",)


class _Below(logging.Filter):
    """Drops the records below ``level`` (its name marks it, so it is added once)."""

    def __init__(self, level: int) -> None:
        super().__init__("tempodesk-log-hygiene")
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level


def install() -> None:
    for names, level in ((PAYLOAD_LOGGERS, logging.INFO),
                         (TRANSCRIPT_LOGGERS, logging.WARNING)):
        for name in names:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _Below) for f in logger.filters):
                logger.addFilter(_Below(level))


class RefusalsInOneLine(Interceptor):
    """A refusal an activity raises on purpose (an ``ApplicationError``: a provider not set
    up, a 4xx, a peer down) is the desk working as designed - the workflow hands it to an
    agent or tries again later - so it is logged as one line naming the activity, the
    ticket and the reason, not as a traceback per attempt that reads like a crash to
    whoever watches `make run`. Anything else an activity raises is a bug, and keeps its
    traceback."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _OneLine(next)


class _OneLine(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError as err:
            if err.category == ApplicationErrorCategory.BENIGN:
                raise
            info = activity.info()
            logging.getLogger("tempodesk.activities").warning(
                "%s for %s (attempt %d) refused: %s%s", info.activity_type, info.workflow_id,
                info.attempt, f"{err.type}: " if err.type else "", err.message)
            # BENIGN: the SDK logs it at DEBUG, not again with its traceback.
            raise ApplicationError(err.message, *err.details, type=err.type,
                                   non_retryable=err.non_retryable,
                                   next_retry_delay=err.next_retry_delay,
                                   category=ApplicationErrorCategory.BENIGN) from err.__cause__
