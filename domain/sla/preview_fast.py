"""The fast path of `sla preview --jsonl`: one JSON line in, one JSON line out.

It answers the common line (known policy, timestamps like ``2026-03-02T09:00:00+11:00``
or ``...Z``, valid) with integer microseconds on the policy's compiled timeline, and
returns ``None`` for anything else, so the caller runs the reference path
(:class:`~domain.sla.preview.PreviewRequest` + :func:`~domain.sla.preview.preview`)
which decides and words every error. Its output equals the reference's byte for byte
(``tests/sla/test_preview_fast.py``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.sla.deadlines import TargetPair, compiled_clock, due
from domain.sla.policy import Priority, SlaPolicy
from domain.sla.preview import EARLIEST, LATEST, PAUSES_MAX, SPAN
from domain.sla.timeline import EPOCH, US, HorizonExceeded, merge_pauses, to_us

# A subset of what pydantic accepts, on which datetime.fromisoformat agrees with it.
_STAMP = re.compile(r"\d{4}-[01]\d-[0-3]\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?"
                    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)").fullmatch
_EARLIEST, _LATEST, _SPAN = to_us(EARLIEST), to_us(LATEST), to_us(EPOCH + SPAN)
_KEYS = frozenset({"policy", "priority", "opened_at", "first_response_at", "pauses"})
_fromisoformat = datetime.fromisoformat
_fromtimestamp = datetime.fromtimestamp


class _Target:
    """What one (policy, priority) needs: its targets, clock and the output's start."""

    __slots__ = ("clock", "prefix", "resolution", "response", "zone")

    def __init__(self, name: str, policy: SlaPolicy, priority: Priority) -> None:
        self.clock = compiled_clock(policy)
        pair = TargetPair.of(policy.targets[priority], self.clock.business_day_seconds)
        self.response, self.resolution = pair.response, pair.resolution
        self.zone = ZoneInfo(policy.calendar.timezone)
        self.prefix = (f'{{"policy": {json.dumps(name)}, "priority": {json.dumps(priority.value)}'
                       f', "timezone": {json.dumps(policy.calendar.timezone)}, "response_due": ')


def _us(text: object) -> tuple[int, int]:
    """(UTC microseconds, year as written) of a timestamp in the accepted form."""
    if type(text) is not str or _STAMP(text) is None:
        raise _Fallback
    return to_us(_fromisoformat(text)), int(text[:4])


def _local(micros: int | None, zone: ZoneInfo) -> str:
    if micros is None:
        return "null"
    seconds, fraction = divmod(micros, US)
    moment = _fromtimestamp(seconds, zone)
    if fraction:
        moment = moment.replace(microsecond=fraction)
    return f'"{moment.isoformat()}"'


class _Fallback(Exception):
    """The line is not one the fast path answers: use the reference path."""


class FastPreview:
    """Answers lines for the policies the reference path has already resolved."""

    def __init__(self, policies: dict[str, SlaPolicy]) -> None:
        self.policies = policies  # the reference path's cache: name -> policy
        self._targets: dict[tuple[str, str], _Target | None] = {}

    def _target(self, name: object, priority: object) -> _Target:
        key = (name, priority)
        found = self._targets.get(key)  # type: ignore[arg-type]
        if found is None:
            policy = self.policies.get(name) if type(name) is str else None  # type: ignore[arg-type]
            if (policy is None or type(priority) is not str
                    or priority not in Priority.__members__
                    or Priority(priority) not in policy.targets):
                raise _Fallback
            found = self._targets[key] = _Target(name, policy, Priority(priority))  # type: ignore[arg-type]
        return found

    def answer(self, line: str) -> str | None:
        """The output line (without newline) for ``line``, or ``None``: use the reference."""
        try:
            return self._answer(line)
        except (_Fallback, ValueError, TypeError, KeyError, HorizonExceeded):
            return None

    def _answer(self, line: str) -> str:
        raw = json.loads(line)
        if type(raw) is not dict or not _KEYS.issuperset(raw):
            raise _Fallback
        target = self._target(raw["policy"], raw["priority"])
        opened, year = _us(raw["opened_at"])
        if not _EARLIEST <= opened < _LATEST:
            raise _Fallback
        limit = opened + _SPAN
        latest, latest_year = opened, year
        first_text = raw.get("first_response_at")
        first = None
        if first_text is not None:
            first, first_year = _us(first_text)
            if not opened <= first <= limit:
                raise _Fallback
            if first > latest:
                latest, latest_year = first, first_year
        closed: list[tuple[int, int]] = []
        pauses = raw.get("pauses", ())
        if pauses:
            if type(pauses) is not list or len(pauses) > PAUSES_MAX:
                raise _Fallback
            for pause in pauses:
                if type(pause) is not list or len(pause) != 2:
                    raise _Fallback
                start, _ = _us(pause[0])
                end, end_year = _us(pause[1])
                if not (_EARLIEST <= start < end <= limit):
                    raise _Fallback
                closed.append((start, end))
                if end > latest:
                    latest, latest_year = end, end_year
            closed = merge_pauses(closed)
        elif pauses != () and type(pauses) is not list:
            raise _Fallback
        timeline = target.clock.cover(year, latest_year + 1)
        response = due(target.response, timeline, opened, first, closed, None)
        resolution = due(target.resolution, timeline, opened, first, closed, None)
        zone = target.zone
        return (f'{target.prefix}{_local(response, zone)}, "resolution_due": '
                f'{_local(resolution, zone)}}}')

