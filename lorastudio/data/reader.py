"""A data file read row by row, never whole: JSON (a list of objects, or one object a line),
JSON Lines, CSV, Parquet and plain text (one document a line), each row with its number and the
line it starts on, and a file that cannot be read stopped at the line where it goes wrong."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lorastudio.data.problems import DataError
from lorastudio.messages import msg

# The file types LLaMA-Factory reads by extension (its FILEEXT2TYPE), arrow left out: a file a
# person uploads is one of these.
KINDS = {".json": "json", ".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet", ".txt": "text"}
CHUNK = 1 << 20
MAX_RECORD = 64 << 20  # one record beyond this is not a training example
MAX_DEPTH = 64  # a conversation nests 3 deep (list, turn, text); JSON's decoder stops near 1000
_WHITESPACE = " \t\r\n"
csv.field_size_limit(MAX_RECORD)


@dataclass(frozen=True)
class Row:
    """One record: its number (from 1), the line it starts on (None in Parquet) and its value
    (an object's fields as a dict; a line of plain text as a str)."""

    number: int
    line: int | None
    value: Any


def kind_of(path: Path) -> str:
    """The reader for ``path``'s extension (json, jsonl, csv, parquet, text).

    Raises:
        DataError: the extension is not one LLaMA-Factory reads.
    """
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise DataError.one(
            msg("data.unknown_type", file=path.name, suffix=path.suffix or "—"),
            msg("fix.data_types", types=", ".join(KINDS)),
        )
    return kind


def rows(path: Path, kind: str | None = None) -> Iterator[Row]:
    """Every row of ``path`` in order, read in chunks (memory stays flat however big it is).

    Raises:
        DataError: at the first line that is not valid UTF-8 or not JSON, naming that line.
    """
    kind = kind or kind_of(path)
    if kind == "parquet":
        yield from _parquet(path)
        return
    with path.open("rb") as handle:
        if kind == "json" and _first_char(handle) == "[":
            yield from _json_array(handle)
        elif kind in ("json", "jsonl"):
            yield from _json_lines(handle)
        elif kind == "csv":
            yield from _csv(handle)
        else:
            yield from ((Row(n, n, text.rstrip("\r\n")) for n, text in _lines(handle)))


def columns(path: Path, kind: str | None = None) -> list[str] | None:
    """The column names a CSV or Parquet file declares (None for the other kinds)."""
    kind = kind or kind_of(path)
    if kind == "csv":
        with path.open("rb") as handle:
            for _, text in _lines(handle):
                return next(csv.reader([text.lstrip("\ufeff")]), [])
        return []
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.ParquetFile(path).schema_arrow.names)
        except Exception as exc:  # pyarrow's own errors: not a Parquet file
            raise _not_parquet(path, exc) from None
    return None


def _first_char(handle: BinaryIO) -> str:
    head = handle.read(4096).decode("utf-8", "ignore").lstrip("\ufeff" + _WHITESPACE)
    handle.seek(0)
    return head[:1]


def _lines(handle: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, text) for each line, each decoded as strict UTF-8."""
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_utf8(number, exc) from None
        yield number, (text.lstrip("\ufeff") if number == 1 else text)


def _not_utf8(line: int, exc: UnicodeDecodeError) -> DataError:
    return DataError.one(
        msg("data.not_utf8", line=line, byte=exc.object[exc.start : exc.start + 1].hex()),
        msg("fix.save_utf8"),
    )


def _not_json(line: int, reason: str) -> DataError:
    return DataError.one(msg("data.not_json", line=line, reason=reason), msg("fix.json_layout"))


def _too_deep(line: int) -> DataError:
    return DataError.one(msg("data.too_deep", line=line, limit=MAX_DEPTH), msg("fix.flat_record"))


def nests_too_deep(value: Any) -> bool:
    """Whether a decoded record nests deeper than `MAX_DEPTH` (walked level by level, never
    recursively: what passed the decoder may still be hundreds deep)."""
    level = [value]
    for _ in range(MAX_DEPTH):
        level = [
            inner
            for item in level
            if isinstance(item, dict | list)
            for inner in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def decode_line(text: str, line: int) -> Any:
    """One line of JSON Lines as a value, refused (naming the line) when it is not JSON or
    nests deeper than `MAX_DEPTH`.

    Raises:
        DataError: the line is not JSON, or nests too deep.
    """
    try:
        value = json.loads(text)
    except RecursionError:  # the decoder's own stop, thousands of brackets deep
        raise _too_deep(line) from None
    except ValueError as exc:
        raise _not_json(line, getattr(exc, "msg", str(exc))) from None
    if nests_too_deep(value):
        raise _too_deep(line)
    return value


def decode_record(decoder: json.JSONDecoder, text: str, line: int) -> Any:
    """The JSON value at the start of ``text`` (one record of a list), refused when it nests
    deeper than `MAX_DEPTH`.

    Raises:
        DataError: it nests too deep; ValueError: it is not JSON (as ``raw_decode``).
    """
    try:
        value = decoder.raw_decode(text)[0]
    except RecursionError:
        raise _too_deep(line) from None
    if nests_too_deep(value):
        raise _too_deep(line)
    return value


def _json_lines(handle: BinaryIO) -> Iterator[Row]:
    count = 0
    for number, text in _lines(handle):
        if not text.strip():
            continue
        value = decode_line(text, number)
        count += 1
        yield Row(count, number, value)


class _Text:
    """A growing window of decoded text over a binary file, with the line its start is on."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.started = False

    def more(self) -> bool:
        """Read another chunk; False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(CHUNK)
        self.eof = not data
        try:
            text = self.decoder.decode(data, final=self.eof)
        except UnicodeDecodeError as exc:
            before = self.buf.count("\n") + data[: exc.start].count(b"\n")
            raise _not_utf8(self.line + before, exc) from None
        if self.pos > CHUNK:  # drop what was read, counting its lines
            self.line += self.buf.count("\n", 0, self.pos)
            self.buf, self.pos = self.buf[self.pos :], 0
        self.buf += text if self.started else text.lstrip("\ufeff")
        self.started = self.started or bool(text)
        return bool(text) or not self.eof

    def skip_space(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def line_at(self, pos: int) -> int:
        return self.line + self.buf.count("\n", 0, pos)


def _json_array(handle: BinaryIO) -> Iterator[Row]:
    """The objects of a JSON list, decoded one at a time from a sliding window of text."""
    text, decoder = _Text(handle), json.JSONDecoder()
    text.skip_space()
    text.pos += 1  # the "[" _first_char saw
    count = 0
    while True:
        char = text.skip_space()
        if char == "]":
            text.pos += 1
            if text.skip_space():
                raise _not_json(text.line_at(text.pos), "text after the closing ]")
            return
        if count:
            if char != ",":
                raise _not_json(text.line_at(text.pos), "expecting ',' or ']' between records")
            text.pos += 1
            text.skip_space()
        line = text.line_at(text.pos)  # before decoding: reading more may shift the window
        value, text.pos = _decode_one(text, decoder)
        if nests_too_deep(value):
            raise _too_deep(line)
        count += 1
        yield Row(count, line, value)


def _decode_one(text: _Text, decoder: json.JSONDecoder) -> tuple[Any, int]:
    """The JSON value at ``text.pos``, reading more of the file while it is incomplete."""
    while True:
        try:
            return decoder.raw_decode(text.buf, text.pos)
        except RecursionError:  # the decoder's own stop, thousands of brackets deep
            raise _too_deep(text.line_at(text.pos)) from None
        except json.JSONDecodeError as exc:
            near_end = len(text.buf) - exc.pos < 64 or exc.msg.startswith("Unterminated")
            if len(text.buf) - text.pos > MAX_RECORD:
                raise _not_json(text.line_at(text.pos), "a record larger than 64 MiB") from None
            if not (near_end and text.more()):
                raise _not_json(text.line_at(exc.pos), exc.msg) from None


def _csv(handle: BinaryIO) -> Iterator[Row]:
    """Each CSV row as {column: text}; the header is line 1."""
    numbered = _lines(handle)
    where = {"line": 1}

    def texts() -> Iterator[str]:
        for number, text in numbered:
            where["line"] = number
            yield text

    reader = csv.reader(texts())
    header = next(reader, None)
    if header is None:
        return
    count = 0
    for fields in reader:
        if not fields:
            continue
        count += 1
        if len(fields) != len(header):
            raise DataError.one(
                msg("data.csv_width", line=where["line"], found=len(fields), expected=len(header)),
                msg("fix.csv_quote"),
            )
        yield Row(count, where["line"] - _newlines(fields), dict(zip(header, fields, strict=True)))


def _newlines(fields: list[str]) -> int:
    return sum(field.count("\n") for field in fields)


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
        count = 0
        for batch in table.iter_batches(batch_size=1024):
            for value in batch.to_pylist():
                count += 1
                yield Row(count, None, value)
    except DataError:
        raise
    except Exception as exc:  # pyarrow's own errors: not a Parquet file, a damaged one
        raise _not_parquet(path, exc) from None


def _not_parquet(path: Path, exc: Exception) -> DataError:
    return DataError.one(
        msg("data.not_parquet", file=path.name, reason=(str(exc).splitlines() or [""])[0]),
        msg("fix.parquet"),
    )
