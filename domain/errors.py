"""Validation errors that name the field at fault and the fix: one formatter for the API's
problem+json, the CLI and the config checker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from domain.ids import TICKET_ID_HINT, TICKET_ID_PATTERN
from domain.shapes import field_at, shape


class FieldError(ValueError):
    """Raised inside validators; the API reports ``field`` and ``fix`` as they are."""

    def __init__(self, field: str, message: str, fix: str) -> None:
        super().__init__(f"{message}; {fix}")
        self.field = field
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class Explained:
    field: str     # dotted path inside ``where`` ("technical_contact.email", "items[2]")
    where: str     # body, query, path, header (the first part of a request error's loc)
    message: str
    fix: str


_FIXES = {
    "missing": "add '{field}'",
    "extra_forbidden": "remove '{field}': it is not a field of this request",
    "string_too_short": "give at least {min_length} characters",
    "string_too_long": "shorten it to at most {max_length} characters",
    "too_long": "send at most {max_length} items",
    "enum": "use one of: {expected}",
    "literal_error": "use one of: {expected}",
    "datetime_from_date_parsing": "write an ISO 8601 date-time with offset, e.g. "
                                  "2026-03-02T09:00:00+11:00",
    "datetime_parsing": "write an ISO 8601 date-time with offset, e.g. 2026-03-02T09:00:00+11:00",
    "timezone_aware": "add the UTC offset, e.g. 2026-03-02T09:00:00+11:00",
    "greater_than_equal": "use a value of at least {ge}",
    "less_than_equal": "use a value of at most {le}",
    "int_parsing": "give a whole number, e.g. 3",
    "float_parsing": "give a number, e.g. 2.5",
    "bool_parsing": "give true or false",
    "string_type": "give text in double quotes, e.g. \"{field}\": \"...\"",
    "model_type": "give a JSON object with its fields, e.g. {{\"name\": ..., ...}}: see /docs",
    "model_attributes_type": "give a JSON object with its fields: see /docs",
    "dict_type": "give a JSON object, e.g. {{\"key\": \"value\"}}",
    "list_type": "give a JSON array, e.g. [\"first\", \"second\"]",
    "string_pattern_mismatch": "match the pattern {pattern}",
}
# Fixes that say what to send, for fields whose shape a newcomer cannot guess.
_FIELD_FIXES = {
    "technical_contact": 'send an object: {"name": "Jo Tran", "email": "jo@client.example"}',
    "severity": 'send an object, e.g. {"users_affected_pct": 40, "work_stoppage": "significant"}',
}
_PATTERN_HINTS = {TICKET_ID_PATTERN: TICKET_ID_HINT}


def error_path(loc: tuple[Any, ...]) -> str:
    """``("clients", 0, "sla", "function-after[...]", "targets")`` -> ``clients[0].sla.targets``."""
    text = ""
    for part in loc:
        if isinstance(part, int) or str(part).isdigit():
            text += f"[{part}]"
        elif not str(part).startswith(("function-", "tagged-union")):
            text += f".{part}" if text else str(part)
    return text


def explain(error: dict[str, Any], request: bool = False,
            model: type[BaseModel] | None = None) -> Explained:
    """One pydantic error as field, message and fix. ``request``: the first part of the
    location says where in an HTTP request (body, query, ...). ``model``: what was
    validated (a route's body), so a missing field's fix gives its shape."""
    loc = tuple(error.get("loc", ()))
    where = str(loc[0]) if request and loc else "body"
    field = error_path(loc[1:] if request else loc)
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldError):
        return Explained(f"{field}.{cause.field}" if field else cause.field, where,
                         cause.message, cause.fix)
    kind = str(error.get("type"))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    leaf = field.rsplit(".", 1)[-1].split("[", 1)[0] if field else ""
    if kind == "missing" and not field:  # no body at all
        return Explained("(body)", where, "the request has no JSON body",
                         "send a JSON object with Content-Type: application/json; /docs "
                         "lists its fields")
    shaped = _shaped(kind, model, loc[1:] if request else loc, leaf)
    if shaped is not None and not (kind.endswith("_type") and leaf in _FIELD_FIXES):
        return Explained(field, where, message, shaped)
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_HINTS:
        return Explained(field or where, where, f"not a valid {leaf or where}",
                         _PATTERN_HINTS[ctx["pattern"]])
    fix = _FIELD_FIXES.get(leaf) if kind.endswith("_type") else None
    if fix is None:
        template = _FIXES.get(kind)
        try:
            fix = template.format(field=leaf or where, **ctx) if template else message
        except (KeyError, IndexError):
            fix = message
    return Explained(field or ("(body)" if request else ""), where, message, fix)


# Errors whose fix is the field's shape, when the model is known.
_SHAPED = {"missing": "add '{field}': {shape}", "model_type": "send {shape}",
           "model_attributes_type": "send {shape}", "list_type": "send {shape}"}


def _shaped(kind: str, model: type[BaseModel] | None, path: tuple[Any, ...],
            leaf: str) -> str | None:
    if model is None or kind not in _SHAPED or not leaf:
        return None
    info = field_at(model, path)
    return None if info is None else _SHAPED[kind].format(field=leaf, shape=shape(info, leaf))


def one_line(errors: list[dict[str, Any]]) -> str:
    """All errors on one line, for the CLI: ``field: message (fix)``."""
    parts = []
    for error in errors:
        e = explain(error)
        parts.append(f"{e.field or 'line'}: {e.message}"
                     + (f" ({e.fix})" if e.fix != e.message else ""))
    return "; ".join(parts)
