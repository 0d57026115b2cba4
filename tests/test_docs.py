"""The docs name only what exists: every route they mention is in the app's route table
(method and path), every `tempodesk` command is a command of the CLI, every relative link
opens a file of the repository, and nothing points outside it."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import typer

from api.app import create_app
from api.route_table import every_route
from cli import app as cli_app
from tests.conftest import make_settings
from tests.web.test_security_matrix import isolated_config

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted([REPO / "README.md", REPO / "bench" / "README.md", *(REPO / "docs").glob("*.md")])
# Our routes; a provider's own (Graph's, SentinelOne's in docs/security.md) are not ours.
ROUTE = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/(?:v1|scim|healthz|docs|redoc|portal|console)"
                   r"[A-Za-z0-9_{}/.\-]*)")
COMMAND = re.compile(r"tempodesk((?: [a-z][a-z-]*)+)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
OUTSIDE = ("../shared", "/work/", "SPEC.md", "seeds/")


@functools.cache
def _routes() -> list[tuple[str, re.Pattern]]:
    app = create_app(make_settings(), isolated_config())
    table = []
    for route in every_route(app.routes):
        for method in getattr(route, "methods", None) or ():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path))
            table.append((method, re.compile(f"^{pattern}$")))
    return table


def _commands() -> set[str]:
    """Every command path of the CLI: 'dev', 'tickets', 'tickets show', ..."""
    names: set[str] = set()

    def walk(command, prefix: str) -> None:
        if prefix:
            names.add(prefix)
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            for name, sub in command.commands.items():
                walk(sub, f"{prefix} {name}".strip())

    walk(typer.main.get_command(cli_app), "")
    return names


def _text(page: Path) -> str:
    return page.read_text()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_route_the_page_names_exists(page):
    table = _routes()
    missing = []
    for method, path in ROUTE.findall(_text(page)):
        path = path.rstrip(".,;:)").split("?")[0]
        if not any(m == method and pattern.match(path) for m, pattern in table):
            missing.append(f"{method} {path}")
    assert missing == [], f"{page.name} names routes the app does not have: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_the_page_names_exists(page):
    commands = _commands()
    missing = []
    for words in COMMAND.findall(_text(page)):
        words = words.split()
        # The longest prefix that is a command; the rest are arguments ("show BEL-1").
        if words and not any(" ".join(words[:n]) in commands for n in (1, 2)):
            missing.append("tempodesk " + " ".join(words[:2]))
    assert missing == [], f"{page.name} names commands the CLI does not have: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_stay_inside_the_repository_and_open(page):
    text = _text(page)
    assert not [o for o in OUTSIDE if o in text], f"{page.name} points outside the repository"
    broken = [link for link in LINK.findall(text)
              if not link.startswith(("http://", "https://", "mailto:"))
              and not (page.parent / link).exists()]
    assert broken == [], f"{page.name} links to files that do not exist: {broken}"


def test_the_readme_stays_a_front_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 150, "README.md is a front page: move detail to docs/"
    assert lines[3:5] == ["make run    # bootstraps .venv, starts Temporal, the worker, the "
                          "API and their helpers, prints the URLs",
                          "make test   # bootstraps .venv, runs the whole suite"]


def test_the_checks_above_read_something():
    """A pattern that stopped matching would pass every page: they must find plenty."""
    text = "".join(_text(page) for page in PAGES)
    assert len(set(ROUTE.findall(text))) > 25
    assert len(set(COMMAND.findall(text))) > 8
    assert len(LINK.findall(text)) > 15
