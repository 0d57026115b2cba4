"""The ticket core's contract (docs/architecture.md, "The ticket core"): a kind works the
ticket only through the core's public methods, never its private members, and the ticket
is what its notice outbox needs of it. Read from the source, without a server."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

from workflows.kinds import TICKET_WORKFLOWS
from workflows.notice_outbox import OutboxTicket
from workflows.ticket import TicketWorkflow

REPO = Path(__file__).resolve().parents[2]

# What a kind may call on the ticket (besides the hooks it overrides): the table in
# docs/architecture.md names each.
CONTRACT = ("record_event", "mark_changed", "queue_notice", "apply_transition",
            "close_ticket", "start_beside", "loop_answering", "ends_by_kind_rules",
            "assignee_mail", "auto_close_at", "business_after", "business_between",
            "busy_beside", "release_files")


def _private_members(cls: type) -> set[str]:
    """The names beginning with "_" that ``cls`` itself defines: its methods and the
    attributes it sets on ``self``."""
    tree = ast.parse(inspect.getsource(cls))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id == "self"):
            found.add(node.attr)
    return {name for name in found if name.startswith("_") and not name.startswith("__")}


def _kind_modules() -> dict[str, Path]:
    """Every module a ticket kind is written in: the kinds and their mixins."""
    modules = {}
    for kind in TICKET_WORKFLOWS.values():
        for cls in kind.__mro__:
            if cls.__module__.startswith("workflows.") and cls is not TicketWorkflow \
                    and not issubclass(TicketWorkflow, cls):
                modules[cls.__module__] = Path(inspect.getsourcefile(sys.modules[cls.__module__]))
    return modules


def _private_uses(path: Path, private: set[str]) -> list[str]:
    """Where the module at ``path`` reads or writes ``self.<name>`` for a name in ``private``."""
    tree = ast.parse(path.read_text())
    return [f"{path.relative_to(REPO)}:{node.lineno} self.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in private
            and isinstance(node.value, ast.Name) and node.value.id == "self"]


def test_the_kinds_and_their_mixins_are_all_read():
    assert set(_kind_modules()) >= {
        "workflows.incident", "workflows.service_request", "workflows.quote",
        "workflows.onboarding", "workflows.offboarding", "workflows.provider_steps"}
    assert {"_changed", "_refresh", "_set_status", "_work", "_ends"} <= _private_members(
        TicketWorkflow)


def test_no_kind_touches_the_cores_private_members():
    """A kind that sets ``_changed`` or calls ``_refresh`` itself can forget the other half
    (the loop not woken, or the attributes not published): kinds call the contract."""
    private = _private_members(TicketWorkflow)
    uses = [use for path in _kind_modules().values() for use in _private_uses(path, private)]
    assert uses == []


def test_the_contract_is_public_documented_and_written_down():
    architecture = (REPO / "docs" / "architecture.md").read_text()
    for name in CONTRACT:
        member = getattr(TicketWorkflow, name)
        assert not name.startswith("_")
        assert inspect.getdoc(member), f"TicketWorkflow.{name} says what it does"
        assert f"`{name}" in architecture, f"docs/architecture.md names {name}"


def test_the_ticket_is_what_its_outbox_needs():
    """The outbox takes its ticket as one :class:`OutboxTicket`: every member the protocol
    names is on the ticket, taking the protocol's parameters the same way."""
    needed = [name for name, member in vars(OutboxTicket).items()
              if callable(member) and not name.startswith("_")]
    assert sorted(needed) == ["mark_changed", "notices_failing", "notices_held", "record_event"]
    for name in needed:
        wanted = inspect.signature(getattr(OutboxTicket, name)).parameters
        given = inspect.signature(getattr(TicketWorkflow, name)).parameters
        for param, shape in wanted.items():
            assert param in given, f"TicketWorkflow.{name} takes {param}"
            assert given[param].kind == shape.kind, f"TicketWorkflow.{name}({param})"
            assert (given[param].default is inspect.Parameter.empty) == (
                shape.default is inspect.Parameter.empty), f"TicketWorkflow.{name}({param})"
        extra = [p for p in given.values() if p.name not in wanted]
        assert all(p.default is not inspect.Parameter.empty for p in extra)
