"""bench/README.md holds a figure and the command for every benchmark, and `make bench`
runs them all: a new bench cannot land without both."""

from __future__ import annotations

import re
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def benches() -> list[str]:
    """Scripts that measure (bench/qbr_example.py writes an example document)."""
    return sorted(p.name for p in BENCH.glob("*_bench.py")) + sorted(
        p.name for p in BENCH.glob("drill_*.py"))


def test_every_bench_has_a_row_with_its_command_and_a_figure():
    table = [line for line in (BENCH / "README.md").read_text().splitlines()
             if line.startswith("| `")]
    for name in benches():
        rows = [r for r in table if f"bench/{name}" in r.split("|")[1]]
        assert rows, f"bench/README.md has no row whose command runs bench/{name}"
        assert all(re.search(r"\d", r.split("|")[-2]) for r in rows), f"{name}: no figure"


def test_make_bench_runs_every_bench():
    makefile = (BENCH.parent / "Makefile").read_text()
    recipe = makefile[makefile.index("\nbench:"):].split("\n\n")[0]
    missing = [n for n in benches() if f"bench/{n}" not in recipe]
    assert missing == [], f"`make bench` does not run {missing}"
