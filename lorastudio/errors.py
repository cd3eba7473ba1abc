"""Typed errors of the core: every problem names the field as the user writes it, the bad value
and the fix. The CLI prints them; the studio translates them. No core function returns an error
string."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lorastudio.messages import DEFAULT_LANGUAGE, Msg, brief, msg, shorten


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe (or with what it asks of this machine): the field as the
    user writes it, the value found there, what is wrong and the fix, each a keyed message."""

    field: str  # dotted, as written in the recipe: "lora.rank", "data.datasets[1]", "(file)"
    value: Any
    message: Msg  # what is wrong, without the field name
    fix: Msg  # what to do about it

    def shown_value(self) -> str:
        """The value as the message shows it (bounded: a value can be anything a file held),
        or "" when the field is missing."""
        return "" if self.value is MISSING else brief(self.value, 120)

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return self.as_msg().text(lang)

    def as_msg(self) -> Msg:
        """The whole problem as one message (field, value, what is wrong, the fix), for an
        error that quotes it."""
        value = self.shown_value()
        return msg(
            "problem.line",
            field=self.field,
            shown=f" = {value}" if value else "",
            message=_said(self.message),
            fix=_said(self.fix),
        )

    def __str__(self) -> str:
        return self.text(DEFAULT_LANGUAGE)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (preflight.json keeps warnings so), read back by ``from_dict``."""
        data: dict[str, Any] = {"field": self.field}
        if self.value is not MISSING:  # a missing field has no "value"
            plain = isinstance(self.value, str | int | float | bool | list | dict | type(None))
            data["value"] = self.value if plain else shorten(str(self.value))
        return data | {"message": _said(self.message).as_dict(), "fix": _said(self.fix).as_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """The Problem ``as_dict`` wrote (a message that cannot be read back is shown as text)."""

        def keyed(part: Any) -> Msg:
            return Msg.from_dict(part) or msg("text.verbatim", text=str(part))

        return cls(
            str(data.get("field", "")),
            data.get("value", MISSING),
            keyed(data.get("message")),
            keyed(data.get("fix")),
        )


MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
MAX_LISTED = 50  # problems one message lists; a file of 4000 unknown keys says no more


def listed(problems: list[Problem]) -> tuple[list[Problem], Msg | None]:
    """The problems a message lists (the first `MAX_LISTED`) and the line that counts the rest
    (None when every one is listed)."""
    if len(problems) <= MAX_LISTED:
        return list(problems), None
    return problems[:MAX_LISTED], msg("recipe.more_problems", count=len(problems) - MAX_LISTED)


def _said(text: Msg | str) -> Msg:
    return text if isinstance(text, Msg) else msg("text.verbatim", text=text)


class LoraStudioError(Exception):
    """Base of the errors the core raises for the user to read: what went wrong and, where it is
    known, what to do, each a keyed message (``text(lang)`` says both)."""

    def __init__(self, message: Msg | str, fix: Msg | None = None):
        self.message = _said(message)
        self.fix = fix
        super().__init__(self.text(DEFAULT_LANGUAGE))

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.fix is None:
            return self.message.text(lang)
        return msg("error.with_fix", message=self.message, fix=self.fix).text(lang)


class RecipeError(LoraStudioError):
    """A recipe is wrong; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            msg("recipe.problem_one" if count == 1 else "recipe.problems", count=count)
        )

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        shown, more = listed(self.problems)
        lines = [self.message.text(lang), *(f"  - {p.text(lang)}" for p in shown)]
        return "\n".join(lines + ([f"  {more.text(lang)}"] if more else []))

    def render(self) -> str:
        return self.text(DEFAULT_LANGUAGE)


class RunError(LoraStudioError):
    """A run cannot be started, found, stopped or resumed; the message says why and what to do."""


class ChatError(LoraStudioError):
    """Chatting with a run is not possible as asked; the message says why and what to do."""


class TemplateMismatchError(ChatError):
    """A chat template other than the one the adapter was trained with was asked for."""

    def __init__(self, asked: str, trained: str, run: str):
        self.asked, self.trained, self.run = asked, trained, run
        super().__init__(
            msg("chat.template_mismatch", asked=asked, trained=trained, run=run),
            msg("chat.fix.template", asked=asked, trained=trained),
        )


class BaseModelMissingError(ChatError):
    """The base model a run was trained on cannot be found or loaded here."""


class AdapterDamagedError(ChatError):
    """A run's adapter files are missing, truncated or do not fit its base model."""


class ChatInputError(ChatError):
    """The prompt or a sampling setting was refused; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        key = "chat.input_problem_one" if count == 1 else "chat.input_problems"
        super().__init__(msg(key, count=count))

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        head = self.message.text(lang)
        return "\n".join([head, *(f"  - {p.text(lang)}" for p in self.problems)])


class WorkerCrashedError(ChatError):
    """The chat worker process died; the next request starts a fresh one."""


class ExportError(LoraStudioError):
    """Merging an adapter into its base model failed; nothing half-written is left behind."""
