"""Which component shows which locale text: tabs register their components here as they build
them, and a language switch turns the register into one update per component."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gradio as gr

from ui.locale import t

Text = str | Callable[[str], Any]  # a locale key, or a function of the language
C = TypeVar("C", bound=gr.blocks.Block)


@dataclass
class Labels:
    """The register: (component, {attribute: text}) in build order."""

    lang: str
    entries: list[tuple[gr.blocks.Block, dict[str, Text]]] = field(default_factory=list)

    def text(self, text: Text, lang: str | None = None) -> Any:
        lang = lang or self.lang
        return text(lang) if callable(text) else t(text, lang)

    def bind(self, component: C, **attributes: Text) -> C:
        """Remember that ``component``'s attributes (label, info, value, …) show these texts."""
        self.entries.append((component, attributes))
        return component

    def make(self, factory: Callable[..., C], texts: dict[str, Text], **kwargs: Any) -> C:
        """Build a component with ``texts`` (attribute: text) in the start-up language, bound."""
        filled = {name: self.text(text) for name, text in texts.items()}
        return self.bind(factory(**filled, **kwargs), **texts)

    @property
    def components(self) -> list[gr.blocks.Block]:
        return [component for component, _ in self.entries]

    def updates(self, lang: str) -> dict[gr.blocks.Block, Any]:
        """One update per registered component, every text in ``lang``."""
        return {
            component: gr.update(**{name: self.text(text, lang) for name, text in attrs.items()})
            for component, attrs in self.entries
        }


def _as_update(value: Any) -> dict:
    if isinstance(value, dict) and value.get("__type__") == "update":
        return value
    return gr.update(value=value)


def merge_updates(*outs: dict) -> dict:
    """Several callbacks' {component: update} dicts as one, combining the updates of a
    component that appears in more than one (a new label and new choices, say) instead of
    letting the last one win."""
    merged: dict = {}
    for out in outs:
        for component, value in out.items():
            if component in merged:
                value = _as_update(merged[component]) | _as_update(value)
            merged[component] = value
    return merged
