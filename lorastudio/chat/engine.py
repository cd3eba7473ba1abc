"""The interface a chat engine implements, and which engine serves a setup: the worker loads a
run through `load` and talks to it only through `LoadedChat` and `ChatReply`. Transformers + PEFT
(`lorastudio.chat.model`) is the one engine today; a second (vLLM, say) is a module with the same
`load` and `release_memory`, named in ENGINES, and a ``ChatSetup.engine`` that picks it."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from lorastudio.messages import Msg

DEFAULT_ENGINE = "huggingface"
# engine name -> the module that implements it (imported in the worker process only: it loads
# torch). Each module has `load(setup: dict) -> LoadedChat` and `release_memory() -> None`.
ENGINES: dict[str, str] = {"huggingface": "lorastudio.chat.model"}


class LoadFailure(Exception):
    """Loading failed for a reason the user can act on; ``kind`` (model_missing,
    adapter_damaged) names it for the client, and the message and fix cross to it as keys and
    arguments. Every engine raises it the same way."""

    def __init__(self, kind: str, message: Msg, fix: Msg):
        self.kind, self.message, self.fix = kind, message, fix
        super().__init__(message.text())


@runtime_checkable
class ChatReply(Protocol):
    """One streamed reply: iterate it for text pieces, then read how it ended."""

    finish_reason: str  # stop | length | cancelled
    new_tokens: int

    def __iter__(self) -> Iterator[str]: ...


@runtime_checkable
class LoadedChat(Protocol):
    """A run's base model and adapter, loaded and ready to answer."""

    def info(self) -> dict[str, Any]:
        """What was loaded: run, model, template, device, dtype, parameters, load seconds."""
        ...

    def prompt(self, messages: list[dict[str, str]], system: str, thinking: str) -> tuple[str, int]:
        """The prompt exactly as the model sees it (the run's template applied), and its tokens."""
        ...

    def reply(
        self,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        adapter: bool,
        should_stop: Callable[[], bool],
    ) -> ChatReply:
        """Stream an answer, with the adapter or from the base alone; stop when asked."""
        ...


def engine_module(setup: dict[str, Any]) -> ModuleType:
    """The module of the engine ``setup`` names (the default when it names none).

    Raises:
        KeyError: an engine no module implements.
    """
    return importlib.import_module(ENGINES[setup.get("engine") or DEFAULT_ENGINE])
