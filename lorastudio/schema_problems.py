"""pydantic's validation errors as Problems: one per field, keyed by pydantic's error *type* and
its context (``less_than_equal`` with ``le``), never by its English wording, so every one can be
said in either language; the field's own help (from the schema) is added to the fix."""

from __future__ import annotations

import difflib
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from lorastudio.errors import MISSING, Problem
from lorastudio.messages import Bilingual, Msg, msg

# pydantic error type -> (fix key, the context values it names)
FIX_BY_TYPE: dict[str, tuple[str, tuple[str, ...]]] = {
    "less_than_equal": ("fix.le", ("le",)),
    "less_than": ("fix.lt", ("lt",)),
    "greater_than_equal": ("fix.ge", ("ge",)),
    "greater_than": ("fix.gt", ("gt",)),
    "finite_number": ("fix.finite", ()),
    "int_type": ("fix.integer", ()),
    "int_parsing": ("fix.integer", ()),
    "int_parsing_size": ("fix.integer", ()),
    "int_from_float": ("fix.integer", ()),
    "float_type": ("fix.number", ()),
    "float_parsing": ("fix.number", ()),
    "bool_type": ("fix.boolean", ()),
    "bool_parsing": ("fix.boolean", ()),
    "string_type": ("fix.string", ()),
    "list_type": ("fix.list", ()),
    "dict_type": ("fix.dict", ()),
    "model_type": ("fix.dict", ()),
    "model_attributes_type": ("fix.dict", ()),
    "literal_error": ("fix.choice", ("expected",)),
    "enum": ("fix.choice", ("expected",)),
    "string_pattern_mismatch": ("fix.pattern", ("pattern",)),
    "string_too_short": ("fix.min_length", ("min_length",)),
    "string_too_long": ("fix.max_length", ("max_length",)),
    "too_short": ("fix.min_items", ("min_length",)),
    "too_long": ("fix.max_items", ("max_length",)),
    "none_required": ("fix.none", ()),
}
_TYPE_TAGS = {"int", "str", "float", "bool", "none", "function-after", "function-plain"}


class KeyedValueError(ValueError):
    """Raised by a schema validator: its fix as a keyed message, which pydantic carries to
    `problems_from_validation` in the error's context."""

    def __init__(self, fix: Msg):
        self.fix = fix
        super().__init__(str(fix))


def problems_from_validation(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Every pydantic error as a Problem, one per field (a union's branches merged into one fix
    with alternatives)."""
    problems: dict[str, Problem] = {}
    for error in exc.errors(include_url=False):
        problem = _problem_from_error(error, model)
        kept = problems.get(problem.field)
        if kept is None:
            problems[problem.field] = problem
        elif problem.fix != kept.fix and problem.fix not in _alternatives(kept.fix):
            fix = msg("fix.alternatives", first=kept.fix, second=problem.fix)
            problems[problem.field] = Problem(kept.field, kept.value, kept.message, fix)
    return list(problems.values())


def _alternatives(fix: Msg) -> list[Msg]:
    if fix.key != "fix.alternatives":
        return [fix]
    return [*_alternatives(fix.args["first"]), fix.args["second"]]


def _problem_from_error(error: dict[str, Any], model: type[BaseModel]) -> Problem:
    loc = tuple(error["loc"])
    field = _field_path(loc)
    kind = error["type"]
    value = error.get("input", MISSING)
    help_text = field_help(model, loc)
    context = error.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        fix = (
            msg("fix.did_you_mean", word=close[0])
            if close
            else msg("fix.remove_key", keys=", ".join(allowed))
        )
        return Problem(field, value, msg("problem.unknown_key"), fix)
    if kind == "cross_field":  # a rule across fields (lorastudio.recipe.schema.CROSS_RULES)
        return context["problem"]
    if kind == "missing":
        fix = msg("fix.add_it", help=help_text) if help_text else msg("fix.add_section")
        return Problem(field, MISSING, msg("problem.missing"), fix)
    if kind == "value_error" and isinstance(context.get("error"), KeyedValueError):
        return Problem(field, value, msg("problem.wrong_value"), context["error"].fix)
    key, names = FIX_BY_TYPE.get(kind, ("fix.schema_other", ()))
    args = {name: context.get(name, "") for name in names}
    if key == "fix.choice":
        args = {"choices": _choices(model, loc) or str(context.get("expected", ""))}
    elif key == "fix.schema_other":
        args = {"text": str(error["msg"]).removeprefix("Value error, ")}
    fix = msg(key, **args)
    if help_text:
        fix = msg("fix.with_help", fix=fix, help=help_text)
    return Problem(field, value, msg("problem.wrong_value"), fix)


def field_help(model: type[BaseModel], loc: tuple[Any, ...]) -> Bilingual | None:
    """The help of the schema field at ``loc`` in both languages (its description, and the
    Chinese beside it in ``json_schema_extra``), or None where the path leaves the schema."""
    info = _schema_field(model, loc)
    if info is None or not info.description:
        return None
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    english = info.description.rstrip(".")
    return Bilingual(english, str(extra.get("zh", english)).rstrip("。"))


def _choices(model: type[BaseModel], loc: tuple[Any, ...]) -> str:
    """A closed field's choices as the user writes them (from its Literal), or "" if unknown."""
    info = _schema_field(model, tuple(part for part in loc if part not in _TYPE_TAGS))
    if info is None:
        return ""
    found: list[Any] = []
    stack = [info.annotation]
    while stack:
        kind = stack.pop()
        if typing.get_origin(kind) is typing.Literal:
            found += [a for a in typing.get_args(kind) if a not in found]
        else:
            stack += reversed(typing.get_args(kind))
    return ", ".join(str(choice) for choice in found)


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and ("[" in part or "'" in part or part in _TYPE_TAGS):
            continue  # pydantic's union-branch tags, not a key the user wrote
        else:
            path += f".{part}" if path else str(part)
    return path or "(recipe)"


def _schema_field(model: type[BaseModel], loc: tuple[Any, ...]):
    """The pydantic FieldInfo at ``loc`` (None where the path leaves the schema)."""
    info = None
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return info
        if part not in current.model_fields:
            return None
        info = current.model_fields[part]
        current = info.annotation
    return info


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if (
            isinstance(current, type)
            and issubclass(current, BaseModel)
            and part in current.model_fields
        ):
            current = current.model_fields[part].annotation
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []
