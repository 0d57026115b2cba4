"""Every refusal a workflow raises is typed from domain/refusals.py, and every type has a status.

The walk reads the source (AST), so a new ``raise ApplicationError("...")`` without a type, or
with a string of its own, fails here before it reaches a door as a blanket 409.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from desk.errors import CONFLICT, REFUSAL_STATUS, refused
from domain.refusals import Refusal

ROOT = Path(__file__).resolve().parent.parent
# Where refusals that a door maps to a status are raised. Activities' errors reach no door:
# a workflow catches its ActivityError and raises (or not) a refusal of its own, walked here.
RAISING = sorted((ROOT / "workflows").glob("*.py"))
# Functions in domain/ that decide a refusal for a workflow: (type, message) | None.
DECIDERS = {"typed_decision_refusal": ROOT / "domain" / "quotes.py",
            "transition_refusal": ROOT / "domain" / "lifecycle.py"}


def _member(node: ast.expr) -> str | None:
    """'X' for ``Refusal.X``."""
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "Refusal"):
        return node.attr
    return None


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Names the module binds to a ``Refusal.X`` (e.g. ``RETRY = Refusal.RETRY``)."""
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and (member := _member(stmt.value)) is not None:
            found.update({t.id: member for t in stmt.targets if isinstance(t, ast.Name)})
    return found


def _decider_members(name: str) -> list[str | None]:
    """The members a domain decider returns: each ``return (Refusal.X, message)``."""
    tree = ast.parse(DECIDERS[name].read_text())
    [function] = [n for n in ast.walk(tree)
                  if isinstance(n, ast.FunctionDef) and n.name == name]
    found: list[str | None] = []
    for ret in (n for n in ast.walk(function) if isinstance(n, ast.Return)):
        if isinstance(ret.value, ast.Constant) and ret.value.value is None:
            continue
        first = ret.value.elts[0] if isinstance(ret.value, ast.Tuple) else None
        found.append(_member(first) if first is not None else None)
    return found


def _decided_by(function: ast.AST, variable: str) -> str | None:
    """The domain decider ``variable`` was assigned from in ``function``, if one."""
    for node in ast.walk(function):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id in DECIDERS
                and any(isinstance(t, ast.Name) and t.id == variable for t in node.targets)):
            return node.value.func.id
    return None


def _type_problems(path: Path) -> tuple[int, list[str]]:
    """(raise sites, what is wrong with them) for one file."""
    source = path.read_text()
    tree = ast.parse(source)
    constants = _module_constants(tree)
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    sites, wrong = 0, []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "ApplicationError"):
            continue
        sites += 1
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        given = next((k.value for k in node.keywords if k.arg == "type"), None)
        if given is None:
            wrong.append(f"{where}: no type= (add one from domain/refusals.py)")
            continue
        members: list[str | None]
        if (member := _member(given)) is not None:
            members = [member]
        elif isinstance(given, ast.Name) and given.id in constants:
            members = [constants[given.id]]
        elif (isinstance(given, ast.Subscript) and isinstance(given.value, ast.Name)
              and (decider := next((d for f in functions
                                    if f.lineno <= node.lineno <= (f.end_lineno or 0)
                                    if (d := _decided_by(f, given.value.id))), None))):
            members = _decider_members(decider)
        else:
            wrong.append(f"{where}: type={ast.unparse(given)} is not a Refusal member")
            continue
        wrong += [f"{where}: type {m} is not a Refusal member" for m in members
                  if m not in Refusal.__members__]
    return sites, wrong


def test_every_workflow_refusal_is_typed_from_the_declared_set():
    counted = {path.name: _type_problems(path) for path in RAISING}
    wrong = [w for _, found in counted.values() for w in found]
    assert not wrong, "\n".join(wrong)
    # The walk sees the raises (not a vacuous pass): 49 at the time this test was written.
    assert sum(sites for sites, _ in counted.values()) >= 40


def test_the_walk_catches_an_untyped_raise_and_a_foreign_type(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n"
                   "    raise ApplicationError('no type')\n"
                   "def g():\n"
                   "    raise ApplicationError('own string', type='Oops')\n"
                   "def h():\n"
                   "    raise ApplicationError('unknown member', type=Refusal.NOPE)\n"
                   "def k():\n"
                   "    raise ApplicationError('fine', type=Refusal.INVALID)\n")
    original = globals()["ROOT"]
    globals()["ROOT"] = tmp_path
    try:
        sites, wrong = _type_problems(bad)
    finally:
        globals()["ROOT"] = original
    assert sites == 4
    assert [w.split(": ", 1)[0] for w in wrong] == ["bad.py:2", "bad.py:4", "bad.py:6"]


def test_every_refusal_type_has_a_status_and_only_conflicts_are_409():
    assert set(REFUSAL_STATUS) == set(Refusal)
    statuses = {refusal: status for refusal, (status, _, _) in REFUSAL_STATUS.items()}
    assert statuses[Refusal.EXPIRED] == 410
    assert statuses[Refusal.INVALID] == 422
    assert statuses[Refusal.NOT_ALLOWED] == 403
    assert {r for r, s in statuses.items() if s == 409} == {
        Refusal.INVALID_TRANSITION, Refusal.ALREADY_DONE, Refusal.LIMIT_REACHED,
        Refusal.TICKET_ENDED}


@pytest.mark.parametrize(("kind", "status"), [
    (Refusal.EXPIRED, 410), (Refusal.INVALID, 422), (Refusal.ALREADY_DONE, 409),
    (Refusal.RETRY, 503), (None, 409), ("SomethingElse", 409)])
def test_a_refusal_becomes_the_status_of_its_type_and_an_untyped_one_a_409(kind, status):
    refusal = ApplicationError("the survey link has expired", type=kind)
    problem = refused(WorkflowUpdateFailedError(refusal))
    assert (problem.status, problem.detail) == (status, "the survey link has expired")
    if status == 409:
        assert (problem.title, problem.slug) == CONFLICT[1:]  # the body it always had
    if status == 503:
        assert problem.retry_after == 5
