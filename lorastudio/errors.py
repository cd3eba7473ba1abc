"""Typed errors of the core: every problem names the field as the user writes it, the bad value
and the fix. The CLI prints them; the studio translates them. No core function returns an error
string."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe (or with what it asks of this machine)."""

    field: str  # dotted, as written in the recipe: "lora.rank", "data.datasets[1]", "(file)"
    value: Any
    message: str  # what is wrong, without the field name
    fix: str  # what to do about it

    def __str__(self) -> str:
        shown = "" if self.value is MISSING else f" = {self.value!r}"
        return f"{self.field}{shown}: {self.message}. Fix: {self.fix}"


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


class LoraStudioError(Exception):
    """Base of the errors the core raises for the user to read."""


class RecipeError(LoraStudioError):
    """A recipe is wrong; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        head = f"The recipe has {count} problem{'s' if count != 1 else ''}:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class RunError(LoraStudioError):
    """A run cannot be started, found, stopped or resumed; the message says why and what to do."""


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


_TYPE_TAGS = {"int", "str", "float", "bool", "none", "function-after", "function-plain"}


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


def _problem_from_error(error: dict[str, Any], model: type[BaseModel]) -> Problem:
    loc = tuple(error["loc"])
    field = _field_path(loc)
    kind = error["type"]
    value = error.get("input", MISSING)
    info = _schema_field(model, loc)
    help_text = (info.description or "").rstrip(".") if info else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        fix = (
            f"did you mean `{close[0]}`?"
            if close
            else f"remove it; allowed keys: {', '.join(allowed)}"
        )
        return Problem(field, value, "is not a known key", fix)
    if kind == "cross_field":  # a rule across fields (lorastudio.recipe.CROSS_RULES)
        return error["ctx"]["problem"]
    if kind == "missing":
        fix = f"add it — {help_text}" if help_text else "add it (see a shipped recipe in recipes/)"
        return Problem(field, MISSING, "is required but missing", fix)
    if kind == "value_error":  # a validator of one field: its message says what is allowed
        return Problem(field, value, "has a wrong value", message)
    fix = f"{message[0].lower()}{message[1:]}"
    if help_text:
        fix += f" ({help_text})"
    return Problem(field, value, "has a wrong value", fix)


def problems_from_validation(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """Every pydantic error as a Problem, one per field (union branches merged)."""
    problems: dict[str, Problem] = {}
    for error in exc.errors(include_url=False):
        problem = _problem_from_error(error, model)
        if problem.field in problems:
            kept = problems[problem.field]
            if problem.fix not in kept.fix:
                problems[problem.field] = Problem(
                    kept.field, kept.value, kept.message, f"{kept.fix}; or {problem.fix}"
                )
        else:
            problems[problem.field] = problem
    return list(problems.values())


class ChatError(LoraStudioError):
    """Chatting with a run is not possible as asked; the message says why and what to do."""


class TemplateMismatchError(ChatError):
    """A chat template other than the one the adapter was trained with was asked for."""

    def __init__(self, asked: str, trained: str, run: str):
        self.asked, self.trained, self.run = asked, trained, run
        super().__init__(
            f"template '{asked}' is not the template run {run} was trained with ('{trained}'); "
            "chatting with another template is the usual cause of answers that never stop or "
            f"repeat. Fix: use '{trained}' (the default), or force '{asked}' if you know why "
            "(--force-template)"
        )


class BaseModelMissingError(ChatError):
    """The base model a run was trained on cannot be found or loaded here."""


class AdapterDamagedError(ChatError):
    """A run's adapter files are missing, truncated or do not fit its base model."""


class ChatInputError(ChatError):
    """The prompt or a sampling setting was refused; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class WorkerCrashedError(ChatError):
    """The chat worker process died; the next request starts a fresh one."""


class ExportError(LoraStudioError):
    """Merging an adapter into its base model failed; nothing half-written is left behind."""
