"""What a field looks like, in words, from its model: the fix a missing field's error gives
("add 'requester': an object with 'name' (text) and 'email' (an e-mail address)"), so a
caller learns the shape from the error, not only from /openapi.json."""

from __future__ import annotations

import types
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen
from pydantic import AwareDatetime, BaseModel, FutureDatetime, PastDatetime
from pydantic.fields import FieldInfo

_NAMED_MAX = 4  # an object's fields named in its shape
_DATETIMES = (AwareDatetime, FutureDatetime, PastDatetime)  # pydantic's, not datetimes


def field_at(model: type[BaseModel], path: tuple[Any, ...]) -> FieldInfo | None:
    """The field ``path`` (a pydantic error's location, after its first part) reaches in
    ``model``; None when the path leaves the models (a dict's key, a validator's name)."""
    annotation: Any = model
    found: FieldInfo | None = None
    for part in path:
        annotation = _plain(annotation)
        if isinstance(part, int):
            items = get_args(annotation)
            if get_origin(annotation) not in (list, tuple, set, frozenset) or not items:
                return None
            annotation, found = items[0], None
            continue
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        found = _field(annotation, str(part))
        if found is None:
            return None
        annotation = found.annotation
    return found


def _field(model: type[BaseModel], name: str) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias, info.validation_alias):
            return info
    return None


def _plain(annotation: Any) -> Any:
    """``X | None`` -> X; ``Annotated[X, ...]`` -> X."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            kept = [a for a in get_args(annotation) if a is not type(None)]
            if len(kept) != 1:
                return annotation
            annotation = kept[0]
        else:
            return annotation


def shape(info: FieldInfo, name: str = "", depth: int = 0) -> str:
    """``info``'s expected value in words: 'an object with ...', 'one of: a, b', 'a
    date-time with offset, e.g. ...', 'a whole number from 1 to 5', ..."""
    return _shape(info.annotation, info, name, depth)


def _shape(annotation: Any, info: FieldInfo | None, name: str, depth: int) -> str:
    plain = _plain(annotation)
    origin = get_origin(plain)
    example = _example(info)
    if isinstance(plain, type) and issubclass(plain, BaseModel):
        return _object(plain, depth)
    if origin in (list, tuple, set, frozenset):
        items = get_args(plain)
        inner = _shape(items[0], None, name, depth + 1) if items else "values"
        return f"a list of {_plural(inner)}"
    if origin is dict:
        return 'an object of names and values, e.g. {"key": "value"}'
    if origin is Literal:
        return "one of: " + ", ".join(str(v) for v in get_args(plain))
    if isinstance(plain, type) and issubclass(plain, Enum):
        return "one of: " + ", ".join(str(m.value) for m in plain)
    if plain is bool:
        return "true or false"
    if not isinstance(plain, type):
        return "a value: see /docs"
    if plain in _DATETIMES or issubclass(plain, datetime):  # before date: it is one
        return "a date-time with offset, e.g. " + (example or "2027-02-01T09:00:00+11:00")
    if issubclass(plain, date):
        return "a date, e.g. " + (example or "2027-02-01")
    if issubclass(plain, time):
        return "a time of day, e.g. " + (example or "09:00")
    for number, what in ((int, "a whole number"), (float, "a number"),
                         (Decimal, 'a decimal number (e.g. 150 or "150.00")')):
        if issubclass(plain, number):
            return what + _bounds(info)
    if issubclass(plain, str):
        if "email" in name.lower():
            return "an e-mail address"
        if example:
            return f"text, e.g. {example}"
        longest = _max_length(info)
        return "text" + (f" of at most {longest} characters" if longest else "")
    return "a value: see /docs"


def _object(model: type[BaseModel], depth: int) -> str:
    required = [(n, f) for n, f in model.model_fields.items() if f.is_required()]
    if not required:
        optional = list(model.model_fields)[:_NAMED_MAX]
        return "an object" + (f" with any of {_and([repr(n) for n in optional], 'or')}"
                              if optional else ", e.g. {}")
    if depth > 0:  # one level in words; deeper, the names alone
        return f"an object with {_and([repr(n) for n, _ in required][:_NAMED_MAX])}"
    parts = [f"'{n}' ({_shape(f.annotation, f, n, depth + 1)})" for n, f in required]
    return "an object with " + _and(parts[:_NAMED_MAX] + (
        ["more"] if len(parts) > _NAMED_MAX else []))


def _example(info: FieldInfo | None) -> str | None:
    examples = info.examples if info is not None else None
    return str(examples[0]) if examples else None


def _max_length(info: FieldInfo | None) -> int | None:
    for item in info.metadata if info is not None else ():
        if isinstance(item, MaxLen):
            return item.max_length
    return None


def _bounds(info: FieldInfo | None) -> str:
    low = high = None
    for item in info.metadata if info is not None else ():
        if isinstance(item, Ge | Gt):
            low = item.ge if isinstance(item, Ge) else item.gt
        if isinstance(item, Le | Lt):
            high = item.le if isinstance(item, Le) else item.lt
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    return f" of at most {high}" if high is not None else ""


def _plural(shape_text: str) -> str:
    if shape_text.startswith("one of: "):
        return "values, each " + shape_text
    for single, many in (("an object", "objects"), ("a date-time", "date-times"),
                         ("an e-mail address", "e-mail addresses"), ("a date", "dates"),
                         ("a whole number", "whole numbers"), ("a number", "numbers")):
        if shape_text.startswith(single):
            return many + shape_text[len(single):]
    return shape_text


def _and(items: list[str], word: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"
