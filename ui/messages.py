"""What the user sees for each error the core raises: one table maps error types to a heading,
and the error says itself in the user's language (the core's messages are keyed, so nothing here
reads or translates a sentence). No traceback ever reaches the page: anything unexpected becomes
a one-line message here and its traceback goes to the studio's console."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from lorastudio.errors import (
    ChatInputError,
    ExportError,
    LoraStudioError,
    Problem,
    RecipeError,
    RunError,
    TemplateMismatchError,
    listed,
)
from lorastudio.llamafactory.spec import LlamaFactoryMissingError
from lorastudio.messages import Msg
from lorastudio.runs.occupancy import DeviceBusyError
from lorastudio.workspace import DataRegistryError
from ui.locale import t

log = logging.getLogger("lorastudio.studio")

# Error type -> heading key; the first match in order wins (subclasses before their bases).
ERROR_TYPES: tuple[tuple[type[BaseException], str], ...] = (
    (RecipeError, "error.recipe"),
    (DeviceBusyError, "error.run"),
    (RunError, "error.run"),
    (DataRegistryError, "error.setup"),
    (LlamaFactoryMissingError, "error.setup"),
    (TemplateMismatchError, "error.template_guard"),
    (ChatInputError, "error.chat_input"),
    (ExportError, "error.export"),
    (LoraStudioError, "error.run"),
)


def problem_text(problem: Problem, lang: str, with_field: bool = True) -> str:
    """One problem as a line of Markdown: field, value, what is wrong, the fix."""
    fix = t("error.fix", lang, fix=problem.fix.text(lang))
    value = problem.shown_value()  # from the value itself: rendered text is never parsed
    shown = f" = {value}" if value else ""
    head = f"`{problem.field}{shown}`" if with_field else (f"`{value}`" if value else "")
    return t("error.line", lang, head=head, message=problem.message.text(lang), fix=fix).strip()


def reason_text(reason: Msg | None, lang: str) -> str:
    """Why a run is as it is (a RunStatus or Progress reason), in ``lang``."""
    return reason.text(lang) if reason is not None else ""


def explain(error: BaseException, lang: str) -> str:
    """Markdown for any error a callback met; unexpected ones are logged, never shown raw."""
    key = next((key for kind, key in ERROR_TYPES if isinstance(error, kind)), None)
    if key is None:
        log.error("unexpected error in the studio", exc_info=error)
        return "⚠️ " + t("error.unexpected", lang, kind=type(error).__name__)
    if isinstance(error, RecipeError | ChatInputError):
        shown, more = listed(error.problems)
        lines = [f"- {problem_text(p, lang)}" for p in shown] + ([more.text(lang)] if more else [])
        return "\n".join([t(key, lang, count=len(error.problems)), *lines])
    if isinstance(error, TemplateMismatchError):
        return "⚠️ " + t(key, lang, asked=error.asked, trained=error.trained, run=error.run)
    if isinstance(error, DeviceBusyError):
        return "⚠️ " + error.text(lang)
    assert isinstance(error, LoraStudioError)
    return f"⚠️ {t(key, lang)} {error.text(lang)}"


def guarded(message: gr.Markdown, fn: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap a callback whose first input is the language and which returns updates as a dict:
    any error becomes a sentence in ``message`` (its traceback goes to the console), and a
    callback with nothing to update updates nothing."""

    @functools.wraps(fn)
    def call(lang: str, *args: Any) -> dict:
        try:
            out = fn(lang, *args)
        except Exception as exc:
            return {message: explain(exc, lang)}
        return out or {message: gr.skip()}

    return call


def streamed(message: gr.Markdown, fn: Callable[..., Iterator[dict]]) -> Callable[..., Iterator]:
    """``guarded`` for a generator callback: an error, raised before or while it streams,
    becomes a sentence in ``message``; what was shown until then stays on the page."""

    @functools.wraps(fn)
    def call(lang: str, *args: Any) -> Iterator[dict]:
        try:
            yield from fn(lang, *args)
        except Exception as exc:
            yield {message: explain(exc, lang)}

    return call
