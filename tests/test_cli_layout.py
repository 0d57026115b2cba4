"""The CLI's layout (issue 20): the running parts are built in one composition root, and
the tests reach the CLI, the dev stack and the rest of the desk by public names only, so a
module can change its insides without breaking a test that peeked at them."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The project's own top-level modules and packages (cli, worker, domain, commands, ...).
PROJECT = {p.stem for p in REPO.glob("*.py")} | {
    p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name != "tests"}
# What builds a running part; only composition.py calls these among those who run the desk.
BUILDERS = {"create_app", "create_codec_app", "build_workers", "build_state"}
COMPOSED = [REPO / "cli.py", REPO / "dev_stack.py", *(REPO / "commands").glob("*.py"),
            REPO / "tests" / "conftest.py"]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(path: Path, root: Path = REPO) -> list[str]:
    """``from cli import _x`` and ``cli._x`` for a project module: 'file:line name'."""
    tree = ast.parse(path.read_text(), str(path))
    bound: dict[str, str] = {}  # a name an `import project.module` bound -> the module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in PROJECT:
            found += [f"{node.lineno} {node.module}.{a.name}" for a in node.names
                      if _private(a.name)]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    bound[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and isinstance(node.value, ast.Name) and node.value.id in bound:
            found.append(f"{node.lineno} {bound[node.value.id]}.{node.attr}")
    return [f"{path.relative_to(root)}:{use}" for use in found]


def test_tests_and_benches_use_public_names_only():
    files = [*(REPO / "tests").rglob("*.py"), *(REPO / "bench").rglob("*.py")]
    uses = [use for path in files for use in private_uses(path)]
    assert uses == [], "give these a public name where they live: " + ", ".join(uses)


def test_the_scan_finds_a_private_import(tmp_path):
    """The scan above sees both spellings (it found cli._local_ui_codec, cli._minutes and
    cli._preview_line before they were made public)."""
    probe = tmp_path / "probe.py"
    probe.write_text("import cli\nfrom commands.sla import _x\ncli._serve()\nimport os\n"
                     "os._exit(0)\nfrom tests.peers import _ok\n")
    assert sorted(private_uses(probe, tmp_path)) == ["probe.py:2 commands.sla._x",
                                                     "probe.py:3 cli._serve"]


def test_only_the_composition_root_builds_the_running_parts():
    """The commands, the dev stack and the tests' desks get their workers, API app, codec
    app and SMTP state from composition.py, so they cannot be wired differently."""
    calls = []
    for path in COMPOSED:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in BUILDERS:
                    calls.append(f"{path.relative_to(REPO)}:{node.lineno} {name}")
    assert calls == [], "build these through composition.py: " + ", ".join(calls)
    composed = (REPO / "composition.py").read_text()
    assert all(f"{name}(" in composed for name in BUILDERS)
