"""A state file's JSON object as a typed record (a frozen dataclass), and back: each value read
as the type its field names (an enum from its value, an int where a float is named), a value of
another type left out and its key named, keys the record does not know ignored, and a ``reason``
kept both as English words, for a person reading the file, and as its key and arguments, for
either language. `status.json` (`runs.status`) and `export.json` (`runs.export_status`) are
read and written through it."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import StrEnum
from typing import Any

from lorastudio.messages import VERBATIM, Msg


@functools.cache
def field_types(record: type) -> dict[str, Any]:
    """Each field of dataclass ``record`` and the type it is annotated with."""
    hints = typing.get_type_hints(record)
    return {f.name: hints[f.name] for f in dataclasses.fields(record)}


def typed_values(record: type, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The fields of ``record`` that ``raw`` holds, each as its type, and the keys whose values
    had another type (left out)."""
    types_of = field_types(record)
    values: dict[str, Any] = {}
    wrong: list[str] = []
    for key, value in raw.items():
        if key in ("damaged", "reason_msg") or key not in types_of:
            continue
        if key == "reason":
            values["reason"] = _reason(value, raw.get("reason_msg"))
            continue
        if Msg in typing.get_args(types_of[key]):  # another message: its key and arguments
            values[key] = Msg.from_dict(value)
            continue
        converted = _convert(value, types_of[key])
        if converted is _WRONG:
            wrong.append(key)
        else:
            values[key] = converted
    return values, wrong


def json_values(record: type, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` of ``record`` as its file stores them (a reason as its English words and as
    its key and arguments, an enum as its value).

    Raises:
        TypeError: a name that is not a stored field of ``record``.
    """
    types_of = field_types(record)
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in types_of or key == "damaged":
            raise TypeError(f"{record.__name__} has no field {key!r} to store")
        if key == "reason":
            out["reason"] = value.text("en") if isinstance(value, Msg) else (value or "")
            out["reason_msg"] = value.as_dict() if isinstance(value, Msg) else None
        elif isinstance(value, Msg):
            out[key] = value.as_dict()
        elif isinstance(value, StrEnum):
            out[key] = value.value
        else:
            out[key] = value
    return out


_WRONG = object()


def _reason(text: Any, keyed: Any) -> Msg | None:
    found = Msg.from_dict(keyed)
    if found is not None:
        return found
    if isinstance(text, str) and text:
        return Msg(VERBATIM, {"text": text})  # written before reasons had keys
    return None


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` names, or _WRONG."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        return None if type(None) in options else _WRONG
    for option in options:
        origin = typing.get_origin(option) or option
        if isinstance(origin, type) and issubclass(origin, StrEnum):
            try:
                return origin(value)
            except ValueError:
                continue
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value  # the only lists a state file holds are argv's strings
        if origin in (str, dict) and isinstance(value, origin):
            return value
    return _WRONG
