"""temporal_client.RetryAbortedUpdates without a server: an update the server aborted
because the workflow task failed under it is sent again, up to UPDATE_ATTEMPTS times, and
then the error reaches the caller (api/problems.py answers it 503); anything else is not
retried."""

from __future__ import annotations

import pytest
from temporalio.service import RPCError, RPCStatusCode

from temporal_client import UPDATE_ATTEMPTS, RetryAbortedUpdates, aborted_update

ABORTED = RPCError("Unable to perform workflow execution update due to unexpected workflow "
                   "task failure.", RPCStatusCode.FAILED_PRECONDITION, b"")


class Next:
    """The next interceptor: fails ``failures`` times with ``error``, then answers."""

    def __init__(self, failures: int, error: RPCError = ABORTED) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    async def start_workflow_update(self, input):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "handle"


async def test_an_aborted_update_is_sent_again():
    after_two = Next(2)
    assert await RetryAbortedUpdates().intercept_client(after_two).start_workflow_update(
        object()) == "handle"
    assert after_two.calls == 3


async def test_it_gives_up_after_its_attempts_and_says_why():
    never = Next(100)
    with pytest.raises(RPCError) as raised:
        await RetryAbortedUpdates().intercept_client(never).start_workflow_update(object())
    assert never.calls == UPDATE_ATTEMPTS and aborted_update(raised.value)


async def test_other_errors_are_not_retried():
    other = Next(1, RPCError("not found", RPCStatusCode.NOT_FOUND, b""))
    with pytest.raises(RPCError):
        await RetryAbortedUpdates().intercept_client(other).start_workflow_update(object())
    assert other.calls == 1
