"""The layouts a data file can have — Alpaca, ShareGPT, OpenAI messages, plain text — told from
its first rows, and the column/role mapping proposed for it, written as LLaMA-Factory's own
`dataset_info.json` entry (`formatting`, `columns`, `tags`) so LLaMA-Factory reads the file as it
is. OpenAI messages are LLaMA-Factory's sharegpt formatting with role/content tags; plain text is
its pre-training layout (one `prompt` column)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lorastudio.data.problems import DataError
from lorastudio.messages import msg

FORMATS = ("alpaca", "sharegpt", "openai", "text")
# The columns each layout maps, LLaMA-Factory's names (data/README.md), required ones first.
COLUMNS = {
    "alpaca": ("prompt", "response", "query", "system", "history"),
    "sharegpt": ("messages", "system", "tools"),
    "openai": ("messages", "system", "tools"),
    "text": ("prompt",),
}
REQUIRED = {"alpaca": ("prompt", "response"), "sharegpt": ("messages",), "openai": ("messages",)}
REQUIRED["text"] = ("prompt",)
TAGS = (
    "role_tag",
    "content_tag",
    "user_tag",
    "assistant_tag",
    "system_tag",
    "observation_tag",
    "function_tag",
)
# LLaMA-Factory's defaults for an entry without "columns"/"tags" (its DatasetAttr).
LF_COLUMNS = {"prompt": "instruction", "query": "input", "response": "output"}
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "system_tag": "system",
    "observation_tag": "observation",
    "function_tag": "function_call",
}
OPENAI_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
    "observation_tag": "tool",
    "function_tag": "function_call",
}
# Column names people use, per LLaMA-Factory column, in the order they are tried.
SYNONYMS = {
    "prompt": ("instruction", "prompt", "question", "query", "input_text"),
    "query": ("input", "context"),
    "response": ("output", "response", "answer", "completion", "target"),
    "system": ("system", "system_prompt"),
    "history": ("history",),
    "messages": ("messages", "conversations", "conversation", "dialog", "turns"),
    "tools": ("tools",),
    "text": ("text", "content", "document", "body"),
}
ROLE_WORDS = {
    "user_tag": ("human", "user"),
    "assistant_tag": ("gpt", "assistant", "bot", "model", "chatgpt"),
    "system_tag": ("system",),
    "observation_tag": ("observation", "tool"),
    "function_tag": ("function_call", "function"),
}
SAMPLE_ROWS = 50  # rows looked at to recognise a layout


@dataclass(frozen=True)
class Mapping:
    """How LLaMA-Factory reads a file: its layout, which column is which, and (for
    conversations) which key holds the role and the text and which role words mean what."""

    format: str
    columns: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def entry(self, file_name: str) -> dict[str, Any]:
        """This file's `dataset_info.json` entry. Every column and tag is written out: once an
        entry has "columns", LLaMA-Factory leaves the ones it does not list unset."""
        formatting = "alpaca" if self.format in ("alpaca", "text") else "sharegpt"
        entry: dict[str, Any] = {"file_name": file_name, "formatting": formatting}
        entry["columns"] = {k: v for k, v in self.columns.items() if v}
        if formatting == "sharegpt":
            entry["tags"] = {k: v for k, v in self.tags.items() if v}
        return entry

    def with_changes(self, **changes: str) -> Mapping:
        """A copy with some columns or tags set (an empty value unmaps a column)."""
        columns, tags = dict(self.columns), dict(self.tags)
        for key, value in changes.items():
            (tags if key in TAGS else columns)[key] = value
        return Mapping(self.format, columns, tags)

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "columns": dict(self.columns), "tags": dict(self.tags)}


def mapping_from_entry(entry: dict[str, Any]) -> Mapping:
    """The mapping a `dataset_info.json` entry stands for, LLaMA-Factory's defaults filled in
    (a demo entry with only a file name is alpaca with instruction/input/output)."""
    studio = entry.get("lorastudio") if isinstance(entry.get("lorastudio"), dict) else {}
    formatting = entry.get("formatting", "alpaca")
    fmt = studio.get("format") or ("sharegpt" if formatting == "sharegpt" else "alpaca")
    if "columns" in entry:
        columns = {k: v for k, v in entry["columns"].items() if isinstance(v, str)}
        if formatting == "alpaca" and set(columns) == {"prompt"}:
            fmt = "text"  # LLaMA-Factory's pre-training layout (its c4_demo entry)
    elif formatting == "sharegpt":
        columns = {"messages": "conversations"}
    else:
        columns = dict(LF_COLUMNS)
    tags = {}
    if formatting == "sharegpt":
        given = entry.get("tags")
        tags = {k: v for k, v in given.items() if isinstance(v, str)} if given else SHAREGPT_TAGS
    return Mapping(fmt, columns, dict(tags))


def default_mapping(fmt: str, names: Iterable[str] = ()) -> Mapping:
    """The mapping for ``fmt`` with its columns picked from ``names`` (the file's columns)."""
    names = list(names)
    if fmt == "text":
        return Mapping("text", {"prompt": _pick("text", names) or (names[0] if names else "text")})
    columns = {role: _pick(role, names) for role in COLUMNS[fmt]}
    if fmt == "alpaca":
        columns = {k: v or "" for k, v in columns.items()}
        columns["prompt"] = columns["prompt"] or LF_COLUMNS["prompt"]
        columns["response"] = columns["response"] or LF_COLUMNS["response"]
        return Mapping("alpaca", columns)
    fallback = "messages" if fmt == "openai" else "conversations"
    columns["messages"] = columns["messages"] or fallback
    tags = OPENAI_TAGS if fmt == "openai" else SHAREGPT_TAGS
    return Mapping(fmt, {k: v or "" for k, v in columns.items()}, dict(tags))


def _pick(role: str, names: list[str]) -> str | None:
    lowered = {name.lower(): name for name in names}
    return next((lowered[word] for word in SYNONYMS[role] if word in lowered), None)


def layout_of(value: Any) -> str | None:
    """The layout one record looks like (None when it looks like none of them)."""
    if isinstance(value, str):
        return "text"
    if not isinstance(value, dict):
        return None
    turns = _turn_list(value)
    if turns is not None:
        keys = set().union(*(t.keys() for t in turns if isinstance(t, dict)))
        return "openai" if {"role", "content"} <= keys else "sharegpt"
    names = list(value)
    if _pick("prompt", names) and _pick("response", names):
        return "alpaca"
    if len(names) == 1 or (_pick("text", names) and not _pick("response", names)):
        return "text" if isinstance(value.get(_pick("text", names) or names[0]), str) else None
    return None


def _turn_list(value: dict[str, Any]) -> list[Any] | None:
    for name, column in value.items():
        listed = isinstance(column, list) and column and all(isinstance(t, dict) for t in column)
        if name.lower() in SYNONYMS["messages"] and listed:
            return column
    return None


def recognise(sample: list[Any], names: list[str] | None = None) -> Mapping:
    """The layout of a file from its first rows, and the mapping proposed for it.

    Args:
        sample: the file's first rows (dicts; str for a plain text file).
        names: the columns a CSV or Parquet file declares.

    Raises:
        DataError: the file is empty, or its first row looks like none of the layouts.
    """
    if not sample:
        raise DataError.one(msg("data.empty"), msg("fix.empty"))
    layout = layout_of(sample[0])
    if layout is None:
        found = ", ".join(sample[0]) if isinstance(sample[0], dict) else type(sample[0]).__name__
        raise DataError.one(msg("data.unknown_layout", columns=found), msg("fix.pick_format"))
    if layout == "text" and isinstance(sample[0], str):
        return Mapping("text", {"prompt": "text"})  # LLaMA-Factory's text loader's one column
    keys = names or list(dict.fromkeys(k for row in sample if isinstance(row, dict) for k in row))
    proposed = default_mapping(layout, keys)
    if layout in ("sharegpt", "openai"):
        proposed = _with_role_words(proposed, sample)
    return proposed


def _with_role_words(mapping: Mapping, sample: list[Any]) -> Mapping:
    """ShareGPT tags read from the rows: which key holds the role and which the text, and the
    words used for each role (human/gpt, user/assistant, …)."""
    turns = [
        turn
        for row in sample
        if isinstance(row, dict)
        for turn in row.get(mapping.columns["messages"]) or []
        if isinstance(turn, dict)
    ]
    keys = set().union(*(t.keys() for t in turns)) if turns else set()
    role_tag = next((k for k in ("from", "role", "speaker") if k in keys), mapping.tags["role_tag"])
    content_tag = next(
        (k for k in ("value", "content", "text") if k in keys), mapping.tags["content_tag"]
    )
    seen = {str(t.get(role_tag)) for t in turns}
    tags = dict(mapping.tags, role_tag=role_tag, content_tag=content_tag)
    for tag, words in ROLE_WORDS.items():
        tags[tag] = next((w for w in words if w in seen), tags[tag])
    return Mapping(mapping.format, mapping.columns, tags)
