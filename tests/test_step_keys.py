"""Step keys and retry rules, without a server: the key a provider sees is built from the
ticket's business data (its parser gives the parts back), and the backoff a failing step
waits is decided by a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.ids import (
    SagaPass,
    TicketKind,
    order_key,
    parse_step_key,
    step_key,
    step_request_id,
)
from domain.provider_steps import (
    StepFailure,
    StepState,
    any_failing,
    record_done,
    record_failure,
    retry_delay,
)

NOW = datetime(2026, 12, 4, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(("saga", "step", "target", "expected"), [
    (SagaPass.DO, "create_account", None, "onboarding:BEL-000003:do:create_account"),
    (SagaPass.UNDO, "create_account", None, "onboarding:BEL-000003:undo:create_account"),
    (SagaPass.UNDO, "build_device", "BEL-LT-042",
     "onboarding:BEL-000003:undo:build_device:BEL-LT-042"),
    (SagaPass.DO, "check_mfa", "2", "onboarding:BEL-000003:do:check_mfa:2"),
])
def test_a_step_key_names_ticket_step_pass_and_item(saga, step, target, expected):
    key = step_key(TicketKind.ONBOARDING, "BEL-000003", saga, step, target)
    assert key == expected
    parsed = parse_step_key(key)
    assert (parsed.kind, parsed.ticket, parsed.saga, parsed.step, parsed.target) == (
        TicketKind.ONBOARDING, "BEL-000003", saga, step, target)


def test_an_item_with_colons_or_other_text_stays_one_ascii_part():
    key = step_key(TicketKind.OFFBOARDING, "BWT-000010", SagaPass.DO, "wipe_device",
                   "SN:42/ü x")
    assert key.isascii() and key.count(":") == 4 and " " not in key
    assert parse_step_key(key).target == "SN:42/ü x"


def test_the_pass_and_the_item_make_different_keys():
    keys = {step_key(TicketKind.ONBOARDING, "BEL-000003", saga, "build_device", host)
            for saga in SagaPass for host in ("BEL-LT-042", "BEL-LT-043")}
    assert len(keys) == 4
    assert len({step_request_id(k) for k in keys}) == 4


def test_a_request_id_is_a_stable_guid():
    key = step_key(TicketKind.OFFBOARDING, "BEL-000009", SagaPass.DO, "disable_account")
    first = step_request_id(key)
    assert first == step_request_id(key) and len(first) == 36 and first.count("-") == 4


@pytest.mark.parametrize("text", [
    "onboarding:BEL-000003:1",                       # a per-run activity id
    "onboarding:BEL-000003:redo:create_account",     # no such pass
    "ticket:BEL-000003:do:create_account",           # no such kind
    "onboarding:not-a-ticket:do:create_account",
    "onboarding:BEL-000003:do:Create Account",
    "onboarding:BEL-000003:do:x:y:z",
    "x" * 400,
])
def test_what_is_not_a_step_key_is_refused(text):
    with pytest.raises(ValueError):
        parse_step_key(text)


def test_a_step_name_must_be_a_name():
    with pytest.raises(ValueError):
        step_key(TicketKind.ONBOARDING, "BEL-000003", SagaPass.DO, "build device")


def test_the_order_key_is_the_quote():
    assert order_key("BEL-000301") == "order:BEL-000301"


def unavailable(**changes) -> StepFailure:
    return StepFailure(error="Graph: provider error (503)", error_type="ProviderUnavailable",
                       **changes)


def test_backoff_doubles_from_5_seconds_to_a_minute():
    delays = [retry_delay(n, unavailable()).total_seconds() for n in range(1, 9)]
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60]
    assert retry_delay(10_000, unavailable()) == timedelta(minutes=1)


def test_after_an_hour_of_failing_every_5_minutes():
    assert retry_delay(60, unavailable(), timedelta(minutes=59)) == timedelta(minutes=1)
    assert retry_delay(61, unavailable(), timedelta(hours=1)) == timedelta(minutes=5)
    step = StepState(name="delete_account", attempts_failed=70,
                     failing_since=NOW - timedelta(hours=2))
    record_failure(step, unavailable(), NOW)
    assert step.next_attempt_at == NOW + timedelta(minutes=5)


def test_waiting_for_the_world_backs_off_to_15_minutes():
    waiting = StepFailure(error="not enrolled yet", error_type="DeviceNotEnrolled")
    assert retry_delay(7, waiting) == timedelta(seconds=320)
    assert retry_delay(9, waiting) == retry_delay(100, waiting) == timedelta(minutes=15)
    assert retry_delay(2, waiting) == timedelta(seconds=10)


def test_a_providers_retry_after_is_followed_within_bounds():
    assert retry_delay(1, unavailable(asked_delay=timedelta(seconds=90))) == \
        timedelta(seconds=90)
    assert retry_delay(1, unavailable(asked_delay=timedelta(days=3))) == timedelta(hours=1)
    assert retry_delay(1, unavailable(asked_delay=timedelta(0))) == timedelta(seconds=1)


def test_a_failure_is_written_on_the_step_and_an_answer_clears_the_episode():
    step = StepState(name="disable_account")
    record_failure(step, unavailable(), NOW)
    record_failure(step, unavailable(), NOW + timedelta(seconds=5))
    assert step.attempts_failed == 2 and step.failing_since == NOW and step.failing
    assert step.next_attempt_at == NOW + timedelta(seconds=15)
    assert any_failing([StepState(name="other"), step])
    record_done(step, NOW + timedelta(seconds=15))
    assert not step.failing and step.next_attempt_at is None and step.attempts_failed == 2
    assert not any_failing([step])


def test_a_refusal_hands_the_step_over_and_a_wait_is_not_failing():
    refused = StepState(name="remove_licences")
    record_failure(refused, StepFailure(error="refused (403)", error_type="ProviderRefused",
                                        non_retryable=True), NOW)
    assert refused.needs_agent and not refused.failing and refused.next_attempt_at is None
    waiting = StepState(name="build_device BEL-LT-042")
    record_failure(waiting, StepFailure(error="not in the site yet",
                                        error_type="DeviceNotEnrolled"), NOW)
    assert not waiting.failing and waiting.next_attempt_at == NOW + timedelta(seconds=5)
    assert waiting.last_error == "not in the site yet"


def test_every_device_name_a_form_takes_makes_a_key():
    """A hostname or serial of the longest length the forms allow, in any script, makes a
    key that parses back (a bound below it failed the workflow on such a device)."""
    from domain.ids import TARGET_MAX_CHARS, SagaPass, parse_step_key, step_key
    from domain.ids import TicketKind as Kind
    from domain.offboarding import Device
    from domain.onboarding import DeviceRequest

    def longest(model, name: str) -> int:
        return next(m.max_length for m in model.model_fields[name].metadata
                    if hasattr(m, "max_length"))

    assert max(longest(DeviceRequest, "hostname"), longest(DeviceRequest, "serial"),
               longest(Device, "serial")) <= TARGET_MAX_CHARS
    for char in ("x", "é", "Ü", "漢", "😀"):
        target = char * TARGET_MAX_CHARS
        key = step_key(Kind.OFFBOARDING, "BEL-000009", SagaPass.UNDO, "release_device", target)
        assert parse_step_key(key).target == target
