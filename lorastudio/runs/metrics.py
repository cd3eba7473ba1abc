"""Incremental reading of LLaMA-Factory's ``trainer_log.jsonl`` (by byte offset, tolerating a
half-written last line) into loss points and progress, and tailing of ``train.log``."""

from __future__ import annotations

import codecs
import json
import math
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class LogPoint:
    """One line of trainer_log.jsonl: a logging step (train loss) or an eval result."""

    step: int
    total_steps: int
    loss: float | None = None
    eval_loss: float | None = None
    lr: float | None = None
    epoch: float | None = None
    throughput: float | None = None
    elapsed: str = ""
    remaining: str = ""


def _point(record: dict) -> LogPoint | None:
    try:
        return LogPoint(
            step=int(record["current_steps"]),
            total_steps=int(record.get("total_steps", 0)),
            loss=record.get("loss"),
            eval_loss=record.get("eval_loss"),
            lr=record.get("lr"),
            epoch=record.get("epoch"),
            throughput=record.get("throughput"),
            elapsed=str(record.get("elapsed_time", "")),
            remaining=str(record.get("remaining_time", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _kind(point: LogPoint) -> str:
    return "train" if point.loss is not None else "eval" if point.eval_loss is not None else "end"


def _replaces(new: LogPoint, old: LogPoint) -> bool:
    """A resumed run re-logs steps after its checkpoint; an eval or the train-end line shares
    its step with a train point and replaces nothing."""
    return new.step < old.step or (new.step == old.step and _kind(new) == _kind(old))


@dataclass
class TrainerLogReader:
    """Follows a trainer_log.jsonl; each `poll` returns only the points added since the last.

    A resumed run appends steps it already logged before its last checkpoint; the later points
    replace the earlier ones, so `points` is always one continuous curve.
    """

    path: Path
    offset: int = 0
    points: list[LogPoint] = field(default_factory=list)

    def poll(self) -> list[LogPoint]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:  # the file was replaced: start over
            self.offset, self.points = 0, []
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read(size - self.offset)
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits
        self.offset += len(complete)
        new = []
        for line in complete.splitlines():
            try:
                point = _point(json.loads(line))
            except ValueError:
                continue
            if point is None:
                continue
            while self.points and _replaces(point, self.points[-1]):
                self.points.pop()
            self.points.append(point)
            new.append(point)
        return new


@dataclass(frozen=True)
class LogSummary:
    """Where a run stands according to its trainer log."""

    step: int = 0
    total_steps: int = 0
    last_loss: float | None = None
    elapsed: str = ""
    remaining: str = ""
    nan_loss: bool = False


def summarize_points(points: list[LogPoint]) -> LogSummary:
    if not points:
        return LogSummary()
    losses = [p.loss for p in points if p.loss is not None]
    last = points[-1]
    return LogSummary(
        step=last.step,
        total_steps=last.total_steps,
        last_loss=losses[-1] if losses else None,
        elapsed=last.elapsed,
        remaining=last.remaining,
        nan_loss=any(isinstance(v, float) and not math.isfinite(v) for v in losses),
    )


def summarize_trainer_log(path: Path) -> LogSummary:
    reader = TrainerLogReader(path)
    reader.poll()
    return summarize_points(reader.points)


def tail_text(path: Path, max_bytes: int = 20_000) -> str:
    """The last ``max_bytes`` of a log, decoded leniently, with tqdm's carriage returns resolved."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _resolve_returns(line: str) -> str:
    """What a terminal shows for a line that tqdm rewrote with carriage returns."""
    return line.rstrip("\r").rsplit("\r", 1)[-1]


@dataclass
class LogTail:
    """Follows a text log by byte offset and keeps its last ``max_lines`` lines, with tqdm's
    carriage returns resolved; each `poll` reads only the bytes added since the last one."""

    path: Path
    max_lines: int = 200
    first_read: int = 64_000  # on attaching to a long log, only its end is read
    offset: int = 0
    lines: list[str] = field(default_factory=list)
    partial: str = ""  # the last line, not finished yet
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def poll(self) -> bool:
        """Read what was appended; True when the text changed."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return False
        if size < self.offset:  # the log was replaced: start over
            self.offset, self.lines, self.partial = 0, [], ""
            self.decoder.reset()
        if size == self.offset:
            return False
        skip_first = self.offset == 0 and size > self.first_read
        start = size - self.first_read if skip_first else self.offset
        with self.path.open("rb") as handle:
            handle.seek(start)
            chunk = handle.read(size - start)
        self.offset = start + len(chunk)
        lines = (self.partial + self.decoder.decode(chunk)).split("\n")
        if skip_first:
            lines = lines[1:] or [""]  # the first line was cut where the read began
        self.partial = lines.pop()
        if len(self.partial) > 4096:  # a progress bar redrawn in place: keep its last state
            self.partial = self.partial[-4096:]
        self.lines = (self.lines + [_resolve_returns(line) for line in lines])[-self.max_lines :]
        return True

    @property
    def text(self) -> str:
        """The kept lines as a terminal would show them."""
        shown = [*self.lines, _resolve_returns(self.partial)] if self.partial else self.lines
        return "\n".join(shown)
