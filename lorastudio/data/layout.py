"""A look at the first record of a recipe's own data file (`data.files`), so a file in the wrong
layout is refused before a run starts instead of failing minutes later inside LLaMA-Factory with
`KeyError: 'instruction'`. Only the first record is read (at most 1 MiB of the file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorastudio.data.problems import DataError
from lorastudio.data.reader import decode_line, decode_record
from lorastudio.messages import Msg, msg

HEAD_BYTES = 1 << 20
# LLaMA-Factory's default columns for a dataset_info entry with no "columns" (data/README.md).
REQUIRED = {
    "alpaca": ("instruction", "output"),
    "sharegpt": ("conversations",),
}
SHAREGPT_TURN = ("from", "value")


def first_record(path: Path) -> Any:
    """The first record of a .json (a list) or .jsonl file; None when it cannot be told from the
    file's first MiB (another suffix, a huge first record, a file that is not a list).

    Raises:
        DataError: the first record nests deeper than a record can (naming its line).
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES).decode("utf-8", "ignore")
    except OSError:
        return None
    decoder = json.JSONDecoder()
    text = head.lstrip("\ufeff \t\r\n")
    line = head[: len(head) - len(text)].count("\n") + 1
    try:
        if path.suffix.lower() == ".jsonl":
            first = text.split("\n", 1)[0]
            return decode_line(first, line) if first.strip() else None
        if path.suffix.lower() == ".json" and text.startswith("["):
            rest = text[1:].lstrip()
            line += text[1 : len(text) - len(rest)].count("\n")
            return None if rest.startswith("]") else decode_record(decoder, rest, line)
    except DataError as exc:
        if exc.keys() == ["data.too_deep"]:
            raise
    except ValueError:
        pass
    return None


def layout_problem(record: Any, layout: str) -> Msg | None:
    """What is wrong with a first record for ``data.format`` (None when it fits)."""
    if not isinstance(record, dict):
        return msg("data.not_objects", kind=type(record).__name__)
    missing = [key for key in REQUIRED[layout] if key not in record]
    if missing:
        has = ", ".join(sorted(record)) or msg("data.no_keys")
        return msg("data.record_lacks", missing=", ".join(missing), has=has)
    if layout == "sharegpt":
        turns = record["conversations"]
        if not isinstance(turns, list) or not turns:
            return msg("data.not_turns")
        bad = [t for t in turns if not (isinstance(t, dict) and all(k in t for k in SHAREGPT_TURN))]
        if bad:
            return msg("data.turn_lacks")
    return None
