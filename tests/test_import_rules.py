"""The import rules (docs/architecture.md, "Imports"): the layers and "no cycles" hold,
one ``Person`` validates every person the config names, and the worker's provider
activities share one set of provider clients (one Graph token cache)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import httpx
import pytest
import yaml
from pydantic import ValidationError
from temporalio.testing import ActivityEnvironment

import worker
from domain.offboarding import ProviderCall
from domain.onboarding import JoinerCall
from domain.tenants import Providers, TempodeskConfig
from provider_sandbox import ProviderServer
from tests.conftest import DEMO_CONFIG, make_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "activities", "workflows", "desk", "api", "commands")


def test_the_import_contracts_are_kept():
    """``.importlinter`` (what ``make test`` runs): the doors (api | commands) -> desk ->
    workflows -> activities -> domain, no cycle between the modules of a package, nothing
    below the doors imports a door, the wiring (cli.py, worker.py ...) or FastAPI."""
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


def test_workflow_files_import_activities_and_domain_passed_through():
    """House rule 1, the one way workflows import activities: at module level, inside
    ``workflow.unsafe.imports_passed_through()`` (the sandbox then reuses the worker's
    modules rather than re-importing them for every workflow run)."""
    outside = []
    for path in sorted((ROOT / "workflows").glob("*.py")):
        for node in ast.parse(path.read_text()).body:  # module level, outside any `with`
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            outside += [f"{path.name}:{node.lineno} {name}" for name in names
                        if name.split(".")[0] in ("activities", "domain")]
    assert outside == []


def _project_graph() -> grimp.ImportGraph:
    """Every module of the packages, plus the root modules (cli.py, worker.py, ...), which
    grimp cannot read (it reads packages only): their imports are added from their syntax
    tree, function-level imports included."""
    graph = grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)
    roots = {path.stem for path in ROOT.glob("*.py")}
    for name in roots - graph.modules:  # those a package imports are in it already
        graph.add_module(name)
    for name in roots:
        tree = ast.parse((ROOT / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
                targets = [t if t in graph.modules else node.module for t in targets]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in roots | set(PACKAGES) and target in graph.modules:
                    graph.add_import(importer=name, imported=target)
    return graph


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(
                        graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_module_imports_itself_through_others():
    """Zero import cycles between any two modules of the project (type-checking imports
    count: they are a cycle a reader follows all the same)."""
    graph = _project_graph()
    assert "composition" in graph.modules and graph.direct_import_exists(
        importer="composition", imported="worker")  # root modules are read
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = _project_graph()
    graph.add_import(importer="domain.ids", imported="domain.tenants")  # tenants -> ... -> ids
    assert any({"domain.ids", "domain.tenants"} <= set(c) for c in import_cycles(graph))


# ---------------------------------------------------------------- one Person


def _config_with_director(name: str, email: str) -> dict:
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    client = next(c for c in raw["clients"] if c["id"] == "belton")
    client["directors"] = [{"name": name, "email": email}]
    return raw


def test_one_person_model_for_the_config_and_the_reviews():
    from domain import person, reviews, tenants

    assert tenants.Person is reviews.Person is person.Person


@pytest.mark.parametrize(("name", "email", "field"), [
    ("Mia\nChen", "mia.chen@harbourside.example", "name"),   # would break a mail header
    ("", "mia.chen@harbourside.example", "name"),
    ("Mia Chen", "mia.chen@harbourside.example\x00", "email"),
])
def test_a_director_is_validated_as_an_nps_contact_is(name, email, field):
    """Directors are the default NPS contacts: what the survey refuses, the config refuses
    at load, naming the field (before, the config took it and the NPS plan failed)."""
    with pytest.raises(ValidationError) as refused:
        TempodeskConfig.model_validate(_config_with_director(name, email))
    assert any(error["loc"][-1] == field for error in refused.value.errors())


def test_a_directors_address_is_still_kept_in_lower_case():
    config = TempodeskConfig.model_validate(
        _config_with_director("Mia Chen", "Mia.Chen@Harbourside.example"))
    assert config.client("belton").directors[0].email == "mia.chen@harbourside.example"


# ---------------------------------------------------------------- one client bundle


async def test_joiner_and_leaver_steps_share_one_graph_sign_in(config):
    """The worker builds the provider clients once: a leaver's step and a joiner's step
    for the same tenant sign in to Graph once (two Graph instances signed in twice)."""
    with ProviderServer() as sandbox:
        wired = config.model_copy(update={"clients": [
            c.model_copy(update={"providers": Providers(graph_tenant="harbourside-tenant")})
            for c in config.clients]})
        async with httpx.AsyncClient() as http:
            registered = {fn.__name__: fn for fn in worker.activities(
                make_settings(**sandbox.settings()), wired, http)}
            env = ActivityEnvironment()
            await env.run(registered["disable_account"], ProviderCall(
                client_id="belton", ticket_id="BEL-000001", step="disable_account",
                user_principal_name="jo.tran@harbourside.example"))
            await env.run(registered["check_mfa"], JoinerCall(
                client_id="belton", ticket_id="BEL-000002", step="check_mfa",
                user_principal_name="jo.tran@harbourside.example", display_name="Jo Tran"))
    assert len(sandbox.calls("PATCH", "/graph/v1.0/users/")) == 1
    assert len(sandbox.calls("GET", "/authentication/methods")) == 1
    assert len(sandbox.calls("POST", "/login/harbourside-tenant/")) == 1
