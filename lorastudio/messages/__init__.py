"""Keyed messages: the core says what it means as a key and arguments (`Msg`), and each language
says it in words from one catalogue (`lorastudio.messages.catalog`). Nothing translates a
rendered sentence; a caller picks the language when it renders."""

from __future__ import annotations

import contextlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lorastudio.messages.catalog import DEFAULT_LANGUAGE, LANGUAGES, template

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Bilingual",
    "Msg",
    "brief",
    "msg",
    "say",
    "shorten",
]
MAX_ARG_CHARS = 200  # an argument is user input at worst: never print it unbounded
VERBATIM = "text.verbatim"  # text shown as written: a name, a path, a tool's own words


@dataclass(frozen=True)
class Msg:
    """A message by key, with its arguments; ``text(lang)`` says it in that language. An argument
    may itself be a Msg (said in the same language) or a list of them (joined)."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        if self.key == VERBATIM:  # the caller's own words (a tool's output), bounded by it
            return str(self.args.get("text", ""))
        pattern = template(self.key, lang)
        names = {name for _, name, _, _ in string.Formatter().parse(pattern) if name}
        return pattern.format(**{name: say(self.args.get(name, ""), lang) for name in names})

    def __str__(self) -> str:
        return self.text(DEFAULT_LANGUAGE)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (status.json keeps a run's reason so), read back by ``from_dict``."""
        return {"key": self.key, "args": {k: _plain(v) for k, v in self.args.items()}}

    @classmethod
    def from_dict(cls, data: Any) -> Msg | None:
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            return None
        args = data.get("args") if isinstance(data.get("args"), dict) else {}
        return cls(data["key"], {k: _unplain(v) for k, v in args.items()})


@dataclass(frozen=True)
class Bilingual:
    """A text written in both languages where it is declared (a recipe field's help, beside the
    field), usable as a Msg argument."""

    en: str
    zh: str

    def text(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return self.zh if lang == "zh" else self.en

    def __str__(self) -> str:
        return self.en


def msg(key: str, **args: Any) -> Msg:
    """``Msg(key, args)``, the short way: ``msg("run.not_running", run=run_id, state=state)``."""
    return Msg(key, args)


def say(value: Any, lang: str) -> str:
    """One argument in ``lang``: a Msg is said there, a list of them joined, anything else shown
    as text, cut at ``MAX_ARG_CHARS``."""
    if isinstance(value, Msg | Bilingual):
        return value.text(lang)
    if isinstance(value, list | tuple) and value and all(isinstance(v, Msg) for v in value):
        return ("；" if lang == "zh" else "; ").join(v.text(lang) for v in value)
    return _as_text(value)


def shorten(text: str, limit: int = MAX_ARG_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_text(value: Any) -> str:
    """``str(value)``, bounded: containers and integers by `brief`, which never builds more
    than it shows."""
    if isinstance(value, str):
        return shorten(value)
    return brief(value) if isinstance(value, _CONTAINERS | int) else shorten(str(value))


class _Full(Exception):
    """`brief` has written all it will show."""


_CONTAINERS = list | tuple | dict | set | frozenset
_CLOSE = {list: "]", tuple: ")", set: "}", frozenset: "})"}
_OPEN = {list: "[", tuple: "(", set: "{", frozenset: "frozenset({"}


def brief(value: Any, limit: int = MAX_ARG_CHARS) -> str:
    """``repr(value)`` cut at ``limit`` characters, written only as far as it is shown: a value
    read from a file may be a list that names one list a billion times over, nest thousands
    deep, or be an integer Python will not print (over 4300 digits), and none of it is walked
    beyond what fits."""
    out: list[str] = []
    left = limit + 1

    def emit(text: str) -> None:
        nonlocal left
        out.append(text[:left])
        left -= len(text)
        if left <= 0:
            raise _Full

    def walk(item: Any) -> None:
        if isinstance(item, str):
            emit(repr(item[:left]))
        elif isinstance(item, int):  # bool too; hex has no digit limit
            emit(repr(item) if item.bit_length() < 10_000 else hex(item))
        elif isinstance(item, dict):
            emit("{")
            for index, (key, inner) in enumerate(item.items()):
                emit(", " if index else "")
                walk(key)
                emit(": ")
                walk(inner)
            emit("}")
        elif isinstance(item, _CONTAINERS) and type(item) in _OPEN and item:
            emit(_OPEN[type(item)])
            for index, inner in enumerate(item):
                emit(", " if index else "")
                walk(inner)
            emit(",)" if type(item) is tuple and len(item) == 1 else _CLOSE[type(item)])
        else:
            emit(shorten(repr(item), left))

    with contextlib.suppress(_Full):
        walk(value)
    return shorten("".join(out), limit)


def _plain(value: Any) -> Any:
    if isinstance(value, Msg):
        return value.as_dict()
    if isinstance(value, Bilingual):
        return {"en": value.en, "zh": value.zh}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, Msg) for v in value):
        return [_plain(v) for v in value]
    return _as_text(value)


def _unplain(value: Any) -> Any:
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, dict) and set(value) == {"en", "zh"}:
        return Bilingual(str(value["en"]), str(value["zh"]))
    return (Msg.from_dict(value) or shorten(str(value))) if isinstance(value, dict) else value
