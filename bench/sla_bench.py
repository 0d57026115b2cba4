"""SLA engine throughput, against the `businesstimedelta` library in the same run.

    .venv/bin/python bench/sla_bench.py [--cases 100000] [--baseline-cases 5000]

Our side: response + resolution deadlines for random tickets on the three presets, all
priorities, with 0-3 pauses each (the workload of `sla preview --jsonl`). Baseline: the same
start instants plus a plain business-hours target on the equivalent businesstimedelta rules
(it has no pauses), one deadline per case. Single process, so one core.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import businesstimedelta
import holidays
import pytz

from domain.sla import PRESETS, Priority, compute_deadlines, policy_from_preset


def make_cases(count: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    policies = {name: policy_from_preset(name) for name in PRESETS}
    names = sorted(PRESETS)
    priorities = list(Priority)
    base = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    cases = []
    for _ in range(count):
        name = rng.choice(names)
        opened = base + timedelta(seconds=rng.randrange(0, 365 * 86_400))
        first = opened + timedelta(seconds=rng.randrange(60, 8 * 3600))
        pauses = []
        at = opened
        for _ in range(rng.randrange(0, 4)):
            at = at + timedelta(seconds=rng.randrange(600, 2 * 86_400))
            end = at + timedelta(seconds=rng.randrange(600, 3 * 86_400))
            pauses.append((at, end))
            at = end
        cases.append((policies[name], rng.choice(priorities), opened, first, pauses, name))
    return cases


def bench_ours(cases: list[tuple]) -> tuple[float, int]:
    for policy, *_ in cases[:3]:  # compile each calendar before timing
        compute_deadlines(policy, Priority.P1, cases[0][2])
    start = time.perf_counter()
    for policy, priority, opened, first, pauses, _ in cases:
        compute_deadlines(policy, priority, opened, first, pauses)
    elapsed = time.perf_counter() - start
    return elapsed, 2 * len(cases)  # each case computes a response and a resolution deadline


def btd_rules(preset: str) -> businesstimedelta.Rules:
    calendar = PRESETS[preset]["calendar"]
    start_text, end_text = calendar["hours"]["mon-fri"].split("-")
    zone = pytz.timezone(calendar["timezone"])
    workday = businesstimedelta.WorkDayRule(
        start_time=datetime.strptime(start_text, "%H:%M").time(),
        end_time=datetime.strptime(end_text, "%H:%M").time(),
        working_days=[0, 1, 2, 3, 4], tz=zone)
    spec = calendar["holidays"]
    days = holidays.country_holidays(spec["country"], subdiv=spec["subdivision"],
                                     years=range(2025, 2029))
    return businesstimedelta.Rules([workday, businesstimedelta.HolidayRule(days, tz=zone)])


def bench_baseline(cases: list[tuple]) -> tuple[float, int]:
    rules = {name: btd_rules(name) for name in PRESETS}
    deltas = {name: businesstimedelta.BusinessTimeDelta(rules[name], hours=9) for name in PRESETS}
    start = time.perf_counter()
    for _policy, _priority, opened, _first, _pauses, name in cases:
        _ = opened + deltas[name]
    return time.perf_counter() - start, len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--baseline-cases", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cases = make_cases(args.cases, args.seed)
    ours_s, ours_n = bench_ours(cases)
    base_s, base_n = bench_baseline(cases[: args.baseline_cases])
    ours_rate, base_rate = ours_n / ours_s, base_n / base_s
    pauses = sum(len(c[4]) for c in cases)
    print(f"tempodesk SLA engine: {ours_n:,} deadlines ({len(cases):,} tickets, {pauses:,} pauses)"
          f" in {ours_s:.2f} s = {ours_rate:,.0f} deadlines/s")
    print(f"businesstimedelta:    {base_n:,} deadlines (no pauses) in {base_s:.2f} s"
          f" = {base_rate:,.0f} deadlines/s")
    print(f"ratio: {ours_rate / base_rate:.1f}x businesstimedelta "
          f"(target: >= 50,000 deadlines/s: {'met' if ours_rate >= 50_000 else 'NOT met'})")


if __name__ == "__main__":
    main()
