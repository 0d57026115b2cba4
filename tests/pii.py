"""Checks that personal data never reaches Temporal history in plain text.

    history = await raw_history(plain_client, workflow_id)   # a client WITHOUT the codec
    assert_no_plaintext(history.SerializeToString(), ["Jo Tran", "jo.tran@..."])
    assert_contains(decode_history(history, codec).SerializeToString(), [...])

Shared by the offboarding and onboarding tests.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client

from payload_codec import EncryptionCodec


async def raw_history(client: Client, workflow_id: str) -> History:
    """Every run's events (a ticket continues-as-new), oldest first, as the server stores
    them: fetch_history decodes nothing (pass a client without the codec to be sure)."""
    runs: list[History] = []
    run_id: str | None = None
    while True:
        fetched = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.insert(0, History(events=fetched.events))
        started = fetched.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            return History(events=[e for run in runs for e in run.events])


def _text_forms(needle: str) -> set[bytes]:
    """As written and percent-encoded (URLs quoted in error messages); matched in any case."""
    return {form.lower().encode() for form in (
        needle, quote(needle, safe=""), quote_plus(needle, safe=""))}


def _base64_forms(needle: str) -> set[bytes]:
    """As base64 at each of the three alignments (JSON renderings of history carry payload
    data base64-encoded); matched exactly."""
    text, forms = needle.encode(), set()
    for shift in range(3):  # the needle's offset in its 3-byte group
        encoded = base64.b64encode(b"\0" * shift + text)
        # Keep the characters whose 6 bits all come from the needle, not its neighbours.
        start, end = -(-8 * shift // 6), 8 * (shift + len(text)) // 6
        if end - start >= 8:
            forms.add(encoded[start:end])
    return forms


def found(data: bytes, needles: Iterable[str]) -> list[str]:
    """The needles that occur in ``data`` in any of the forms above."""
    lowered = data.lower()
    return [needle for needle in needles
            if any(form in lowered for form in _text_forms(needle))
            or any(form in data for form in _base64_forms(needle))]


def assert_no_plaintext(history_bytes: bytes, needles: Iterable[str]) -> None:
    needles = list(needles)
    assert needles and all(len(n) >= 4 for n in needles), "give needles of 4+ characters"
    leaked = found(history_bytes, needles)
    assert not leaked, f"personal data in plain text in the history: {leaked}"


def assert_contains(history_bytes: bytes, needles: Iterable[str]) -> None:
    """The positive control: decoded, the history does hold every needle."""
    needles = list(needles)
    missing = [n for n in needles if n not in found(history_bytes, needles)]
    assert not missing, f"not in the decoded history: {missing}"


def decode_history(history: History, codec: EncryptionCodec) -> History:
    """A copy with every payload decrypted, wherever it sits (inputs, results, failures,
    memos, headers, user metadata)."""
    decoded = History()
    decoded.CopyFrom(history)
    _decode_in_place(decoded, codec)
    return decoded


def _decode_in_place(message: Message, codec: EncryptionCodec) -> None:
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            values = list(value.values()) if field.message_type.fields_by_name[
                "value"].message_type is not None else []
        elif field.is_repeated:
            values = list(value)
        else:
            values = [value]
        for item in values:
            if isinstance(item, Payload):
                item.CopyFrom(codec.decrypt(item))
            else:
                _decode_in_place(item, codec)
