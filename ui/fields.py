"""The recipe form's fields, derived from the recipe schema (`lorastudio.recipe.recipe_fields`):
kind of widget, default, range and choices, and how a value goes into a widget and back.
Nothing here is written per field: a new schema field gets a widget by itself."""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml

from lorastudio.recipe.loader import load_yaml
from lorastudio.recipe.schema import MAX_COUNT, recipe_fields

Kind = Literal[
    "bool", "choice", "int", "float", "text", "list", "lines", "int_list", "target", "mapping"
]
HIDDEN = frozenset({"schema_version"})  # fixed at 1; shown in the YAML only


@dataclass(frozen=True)
class FieldSpec:
    """One form field: where it sits in a recipe and what the schema allows."""

    path: str
    kind: Kind
    default: Any
    required: bool
    nullable: bool = False
    choices: tuple[Any, ...] = ()
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True

    @property
    def section(self) -> str:
        """The form section: "recipe" for top-level keys, else the dotted parent."""
        parent = self.path.rpartition(".")[0]
        return parent or ("extra" if self.path == "extra" else "recipe")

    def range_text(self) -> str:
        """The allowed range as a short formula (``1 ≤ x ≤ 1024``), or "" when unbounded. A
        sanity cap (steps up to 10⁹, a seed up to 2³²-1) is left out: no one writes near it."""
        high = self.high if self.high is not None and self.high < MAX_COUNT else None
        left = (
            f"{_number(self.low)} {'≤' if self.low_inclusive else '<'} "
            if self.low is not None
            else ""
        )
        right = (
            f" {'≤' if self.high_inclusive else '<'} {_number(high)}" if high is not None else ""
        )
        if not left and not right:
            return ""
        if left and not right:
            return f"x {'≥' if self.low_inclusive else '>'} {_number(self.low)}"
        return f"{left}x{right}"


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else Union[tuple(args)]), nullable  # noqa: UP007
    return annotation, False


def _kind(annotation: Any) -> tuple[Kind, tuple[Any, ...]]:
    origin = get_origin(annotation)
    if annotation is bool:
        return "bool", ()
    if origin is Literal:
        return "choice", get_args(annotation)
    if origin in (Union, types.UnionType):
        return "target", ()  # Literal["all"] | list[str]
    if origin is list:
        return ("int_list" if get_args(annotation) == (int,) else "list"), ()
    if origin is dict:
        return "mapping", ()
    return {int: "int", float: "float"}.get(annotation, "text"), ()


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            bounds |= {"low": item.ge, "low_inclusive": True}
        elif isinstance(item, annotated_types.Gt):
            bounds |= {"low": item.gt, "low_inclusive": False}
        elif isinstance(item, annotated_types.Le):
            bounds |= {"high": item.le, "high_inclusive": True}
        elif isinstance(item, annotated_types.Lt):
            bounds |= {"high": item.lt, "high_inclusive": False}
    return bounds


@functools.cache
def form_fields() -> tuple[FieldSpec, ...]:
    """Every recipe field the form shows, in the schema's order."""
    specs = []
    for doc in recipe_fields():
        if doc.path in HIDDEN:
            continue
        annotation, nullable = _strip_none(doc.info.annotation)
        kind, choices = _kind(annotation)
        if kind == "list" and (doc.info.json_schema_extra or {}).get("one_per_line"):
            kind = "lines"  # free text that may hold commas (eval.prompts)
        specs.append(
            FieldSpec(
                path=doc.path,
                kind=kind,
                default=doc.default,
                required=doc.required,
                nullable=nullable,
                choices=choices,
                **_bounds(doc.info.metadata),
            )
        )
    return tuple(specs)


def value_at(raw: dict[str, Any], path: str, default: Any) -> Any:
    """The value at a dotted path of a raw recipe mapping (``default`` where absent)."""
    node: Any = raw
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def to_widget(spec: FieldSpec, value: Any) -> Any:
    """A recipe value as its widget shows it (a value of the wrong type shows as empty)."""
    if spec.kind == "bool":
        return value if isinstance(value, bool) else bool(spec.default)
    if spec.kind == "choice":
        return str(value) if value is not None else None
    if spec.kind in ("int", "float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return value if ok else None
    if spec.kind == "lines":
        return "\n".join(str(item) for item in value) if isinstance(value, list) else ""
    if spec.kind in ("list", "int_list", "target"):
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return "" if value is None else str(value)
    if spec.kind == "mapping":
        return (
            yaml.safe_dump(value, default_flow_style=False, allow_unicode=True).strip()
            if value
            else ""
        )
    return "" if value is None else str(value)


def _split(text: Any) -> list[str]:
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def _int_or_text(part: str) -> int | str:
    return int(part) if part.lstrip("-").isdigit() else part


def from_widget(spec: FieldSpec, value: Any) -> Any:
    """What a widget holds, as the value to write into the recipe.

    Raises:
        ValueError: the extra-arguments box does not hold a YAML mapping.
    """
    if spec.kind == "choice":
        return next((c for c in spec.choices if str(c) == str(value)), value)
    if spec.kind == "int":
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if spec.kind == "list":
        return _split(value)
    if spec.kind == "lines":
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]
    if spec.kind == "int_list":
        parts = _split(value)
        return [_int_or_text(p) for p in parts] if parts else None
    if spec.kind == "target":
        parts = _split(value)
        return "all" if parts in ([], ["all"]) else parts
    if spec.kind == "mapping":
        try:
            parsed = load_yaml(value or "") or {}
        except yaml.YAMLError:  # not YAML, or beyond a recipe's limits
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError("not a mapping")
        return parsed
    if spec.kind == "text" and spec.nullable and value == "":
        return None
    return value
