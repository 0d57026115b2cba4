"""What must never reach the logs, whatever level the deployment sets: payloads (tickets
carry contacts' e-mail addresses and phone numbers) and SMTP transcripts (addresses).

Logger filters, so they hold even when a deployment turns every logger to DEBUG. Called by
every process that runs a worker, the API or the SMTP listener; installing twice is
harmless.
"""

from __future__ import annotations

import logging

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
