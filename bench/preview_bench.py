"""`tempodesk sla preview --jsonl` end to end, beside the SLA engine in the same run.

    .venv/bin/python bench/preview_bench.py [--tickets 100000] [--save OUT] [--compare OUT]

Writes --tickets mixed JSON Lines requests (the three demo clients, all priorities, UTC
offsets from several zones, with and without a first response, 0-3 pauses) to a temp
file, runs the real console script on it as a subprocess (process start included), checks
one answer per line and no errors, and prints tickets/s. Then the engine's deadlines/s on
the same machine (bench/sla_bench.py's core). --save writes the output; --compare checks it
byte for byte against a saved one. One process each, so one core.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sla_bench import bench_ours, make_cases  # noqa: E402

TEMPODESK = str(Path(sys.executable).parent / "tempodesk")
CONFIG = REPO / "tempodesk.yaml"
POLICIES = ("belton", "betterworld", "plexacet")  # the demo config's clients
PRIORITIES = ("P1", "P2", "P3", "P4")
# UTC offsets a caller may write: the clients' own zones (both sides of DST) and others.
OFFSETS = [timezone(timedelta(minutes=m)) for m in (0, 600, 660, -300, -240, 330, 60, -420)]


def _stamp(rng: random.Random, moment: datetime) -> str:
    text = moment.astimezone(rng.choice(OFFSETS)).isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.3 else text


def make_requests(count: int, seed: int) -> tuple[list[str], int]:
    """The JSON Lines requests, and how many pauses they hold."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    lines = []
    total = 0
    for _ in range(count):
        opened = base + timedelta(seconds=rng.randrange(0, 365 * 86_400))
        if rng.random() < 0.2:
            opened += timedelta(microseconds=rng.randrange(1, 1_000_000))
        request: dict = {"policy": rng.choice(POLICIES), "priority": rng.choice(PRIORITIES),
                         "opened_at": _stamp(rng, opened)}
        if rng.random() < 0.6:
            first = opened + timedelta(seconds=rng.randrange(0, 8 * 3600))
            request["first_response_at"] = _stamp(rng, first)
        pauses = []
        at = opened
        for _ in range(rng.randrange(0, 4)):
            at = at + timedelta(seconds=rng.randrange(600, 2 * 86_400))
            end = at + timedelta(seconds=rng.randrange(600, 3 * 86_400))
            pauses.append([_stamp(rng, at), _stamp(rng, end)])
            at = end
        total += len(pauses)
        if pauses or rng.random() < 0.5:
            request["pauses"] = pauses
        lines.append(json.dumps(request))
    return lines, total


def run_cli(path: Path, config: Path) -> tuple[float, bytes]:
    with path.open("rb") as stdin:
        start = time.perf_counter()
        done = subprocess.run([TEMPODESK, "sla", "preview", "--jsonl", "--config", str(config)],
                              stdin=stdin, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"tempodesk exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--engine-cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--save", type=Path, help="write the CLI's output here")
    parser.add_argument("--compare", type=Path, help="check the output equals this file")
    args = parser.parse_args()

    lines, pauses = make_requests(args.tickets, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "requests.jsonl"
        path.write_text("\n".join(lines) + "\n")
        elapsed, output = run_cli(path, CONFIG)
    answers = output.decode().splitlines()
    if len(answers) != len(lines):
        sys.exit(f"{len(answers):,} answers for {len(lines):,} requests")
    errors = [a for a in answers if '"error"' in a and json.loads(a).keys() == {"line", "error"}]
    if errors:
        sys.exit(f"{len(errors):,} errors, e.g. {errors[0]}")
    if args.save:
        args.save.write_bytes(output)
    if args.compare:
        same = args.compare.read_bytes() == output
        print(f"output {'identical to' if same else 'DIFFERS from'} {args.compare}")
        if not same:
            sys.exit(1)

    cases = make_cases(args.engine_cases, args.seed)
    engine_s, engine_n = bench_ours(cases)
    rate = len(lines) / elapsed
    print(f"tempodesk sla preview --jsonl: {len(lines):,} tickets ({pauses:,} pauses) in "
          f"{elapsed:.2f} s (process start included) = {rate:,.0f} tickets/s")
    print(f"SLA engine (same run):         {engine_n:,} deadlines in {engine_s:.2f} s"
          f" = {engine_n / engine_s:,.0f} deadlines/s")
    print(f"target: >= 40,000 tickets/s: {'met' if rate >= 40_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
