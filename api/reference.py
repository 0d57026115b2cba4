"""docs/api.md, written from the app itself: every route, who may call it, its body's
fields (each with its shape) and an example body. A test checks the committed page is
what this writes, so a new route or field shows up there the day it is added.

    .venv/bin/python -m api.reference     # rewrites docs/api.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from api.body_examples import RAW_BODIES, api_routes, body_model_of, examples_for
from domain.roles import Action, roles_for
from domain.shapes import shape

PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
INTRO = """# The HTTP API: every route, who may call it, and its body

Written by `.venv/bin/python -m api.reference` from the app's own route table (a test
fails when this page is out of date). The same bodies and examples are in `/openapi.json`
and the interactive docs at `/docs` (each body's "Examples" menu).

Every route under `/v1` and `/scim` needs `Authorization: Bearer <key>` (the demo keys are
`td_<client>_<role>_demo`, e.g. `td_belton_agent_demo`; MSP staff keys are
`td_msp_agent_demo`, `td_msp_admin_demo`), except the signed links in e-mails, which carry
their own token. A client's key acts only on its own client: another client's ticket or
report is 404, as if it did not exist. MSP staff name the client in `client_id` when they
raise something.

Who did something is never a field of a body: the desk records it from the credential
(and a decision's director, channel and address the same way). A body that sends such a
field, or any field it does not list, is refused with 422 naming it. A missing field's
error gives its shape (`add 'requester': an object with 'name' (text ...) and 'email' (an
e-mail address)`). Every error is RFC 9457 `application/problem+json`.

Operators have a CLI for some of the same from a shell: `tempodesk tickets list|show`, and
`tempodesk reports qbr CLIENT QUARTER`, which makes a quarterly business review now (the
current quarter, its figures so far, or one up to two years back), as
`POST /v1/reports/qbr/{client}/{quarter}` does, and prints its headline (`--pdf FILE`
writes the PDF).
"""


def _action(route: Any) -> Action | None:
    def walk(dependant: Any) -> Action | None:
        for sub in dependant.dependencies:
            found = getattr(sub.call, "action", None) or walk(sub)
            if found is not None:
                return found
        return None

    return walk(route.dependant)


def _who(route: Any, action: Action | None) -> str:
    if action is not None:
        return "roles " + ", ".join(f"`{r}`" for r in roles_for(action))
    names = {p.name for p in (*route.dependant.path_params, *route.dependant.query_params)}
    if "token" in names or route.path.endswith("/review"):
        return "the signed link in an e-mail (no key)"
    return "anyone (no key)"


def _fields(model: Any) -> list[str]:
    rows = ["| field | required | what to send |", "|---|---|---|"]
    for name, info in model.model_fields.items():
        what = shape(info, name, depth=1).replace("|", "\\|")
        if info.description:
            what += f" - {info.description}"
        rows.append(f"| `{info.alias or name}` | {'yes' if info.is_required() else ''} | "
                    f"{what} |")
    return rows


def _body(route: Any, method: str) -> list[str]:
    model = body_model_of(route)
    if model is None:
        raw = RAW_BODIES.get(f"{method} {route.path}")
        if raw is None:
            return []
        what, example = raw
        text = example if isinstance(example, str) else json.dumps(example, indent=2)
        fence = "json" if not isinstance(example, str) else "text"
        return [f"Body: {what}. Example:", "", f"```{fence}", text.rstrip("\n"), "```"]
    lines = [f"Body (`application/json`, `{model.__name__}`):", "", *_fields(model)]
    for _, (summary, example) in examples_for(model).items():
        lines += ["", f"Example - {summary}:", "", "```json",
                  json.dumps(example, indent=2, ensure_ascii=False), "```"]
    return lines


def page(app: Any) -> str:
    schema = app.openapi()
    sections: dict[str, list[str]] = {}
    for route in api_routes(app.routes):
        if not getattr(route, "include_in_schema", True):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            operation = schema["paths"].get(route.path, {}).get(method.lower())
            if operation is None:
                continue
            tag = (operation.get("tags") or ["other"])[0]
            summary = operation.get("summary") or route.name.replace("_", " ")
            entry = [f"### `{method} {route.path}`", "", summary, "",
                     f"Who: {_who(route, _action(route))}."]
            body = _body(route, method)
            sections.setdefault(tag, []).extend([*entry, *(["", *body] if body else []), ""])
    out = [INTRO]
    for tag, entries in sections.items():
        title = {"scim": "SCIM 2.0", "sla": "SLA"}.get(tag, tag[:1].upper() + tag[1:])
        out += [f"## {title}", "", *entries]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    from api.app import create_app
    from domain.settings import Settings
    from domain.tenants import load_config

    repo = PAGE.parent.parent
    settings = Settings(_env_file=None, config_path=repo / "tempodesk.yaml")
    text = page(create_app(settings, load_config(settings.config_path)))
    PAGE.write_text(text)
    print(f"wrote {PAGE} ({len(text.splitlines())} lines)", file=sys.stderr)


if __name__ == "__main__":
    main()
