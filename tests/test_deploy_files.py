"""The deployment files stay in step with the code: every service of deploy/compose.yaml
runs a real `tempodesk` command from the one image, and the image copies every package
and top-level module pyproject.toml installs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from cli import app

REPO = Path(__file__).resolve().parent.parent


def test_compose_services_run_real_commands_from_one_image():
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    commands = {c.name for c in app.registered_commands}
    ours = {name: s for name, s in compose["services"].items()
            if s.get("image") == "tempodesk:latest"}
    assert {"worker", "api", "codec-server"} <= set(ours)
    for name, service in ours.items():
        assert service["command"][0] in commands, (name, service["command"])
        assert service["environment"]["TEMPODESK_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert compose["services"]["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"]


def test_the_image_copies_what_the_package_installs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    dockerfile = (REPO / "Dockerfile").read_text()
    for package in project["packages"]["find"]["include"]:
        assert f"COPY {package.rstrip('*')} " in dockerfile, package
    modules = project["py-modules"]
    assert "COPY *.py ./" in dockerfile and all((REPO / f"{m}.py").is_file() for m in modules)


def test_the_test_stack_overrides_only_what_compose_yaml_defines():
    """deploy/compose.test.yaml (pytest --temporal=stack) changes deploy/compose.yaml's
    services, never adds its own, and gives Temporal the dev server's dynamic config."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!reset", lambda loader, node: None)  # Compose's reset tag
    deploy = REPO / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    override = yaml.load((deploy / "compose.test.yaml").read_text(), Loader=Loader)
    assert set(override["services"]) <= set(compose["services"])
    assert override["name"] != "deploy"  # `down --volumes` must not reach a stack run by hand
    temporal = override["services"]["temporal"]
    assert any(p.endswith(":7233") for p in temporal["ports"])
    source = temporal["volumes"][0].split(":")[0]
    dynamic = yaml.safe_load((deploy / source).read_text())
    conftest = (REPO / "tests" / "conftest.py").read_text()
    for key, values in dynamic.items():
        if key.startswith("limit."):
            assert f'"{key}={values[0]["value"]}"' in conftest, key


def test_the_operations_page_names_every_search_attribute_for_temporal_cloud():
    """Temporal Cloud needs them registered by hand: the docs' list must be whole."""
    from domain import search_attributes

    page = (REPO / "docs" / "operations.md").read_text()
    section = page[page.index("add them once"):page.index("`tempodesk api` - any number")]
    missing = [k.name for k in search_attributes.ALL_KEYS if f"`{k.name}`" not in section]
    assert missing == [], f"docs/operations.md's Production list lacks {missing}"


def test_the_provider_sandbox_stays_out_of_the_production_image():
    """A test double answering as Graph and SentinelOne has no place next to real keys:
    the image deletes it after installing and fails to build if it still imports."""
    dockerfile = (REPO / "Dockerfile").read_text()
    install = next(line for line in dockerfile.split("\nRUN ") if "/wheels/*.whl" in line)
    assert "provider_sandbox.__file__).unlink()" in install
    assert '! python -c "import provider_sandbox"' in install
