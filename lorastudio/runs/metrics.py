"""Incremental reading of LLaMA-Factory's ``trainer_log.jsonl`` (by byte offset, tolerating a
half-written last line) into loss points, progress and the run's clock over all its attempts,
and tailing of ``train.log``."""

from __future__ import annotations

import codecs
import dataclasses
import json
import math
import re
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
    tokens: int | None = None  # input tokens seen so far (LLaMA-Factory's total_tokens)


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
            tokens=record.get("total_tokens"),
        )
    except (KeyError, TypeError, ValueError):
        return None


_CLOCK = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d\d):(\d\d)$")


def clock_seconds(text: str) -> float | None:
    """Seconds in LLaMA-Factory's clock text ("0:01:02", "1 day, 2:03:04"); None if not one."""
    match = _CLOCK.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def clock_text(seconds: float) -> str:
    """Seconds as "H:MM:SS" (hours past 24 too)."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _seconds(point: LogPoint) -> float | None:
    """Seconds since this attempt's training began, at this line: exact where LLaMA-Factory
    logged its throughput (total_tokens / throughput), else its whole-second clock."""
    if point.tokens and point.throughput:
        return point.tokens / point.throughput
    return clock_seconds(point.elapsed)


@dataclass
class Attempt:
    """One start of the trainer (the first, or a resume): LLaMA-Factory's clock restarts at each,
    while its step count and tokens seen go on from the checkpoint."""

    first_step: int
    first_seconds: float
    last_step: int
    last_seconds: float
    tokens: int | None = None

    def seconds_per_step(self) -> float | None:
        steps = self.last_step - self.first_step
        return (self.last_seconds - self.first_seconds) / steps if steps > 0 else None


@dataclass(frozen=True)
class RunClock:
    """Time and speed over the whole run, every attempt counted (a resumed run's own lines
    restart the clock at zero and divide all tokens seen by the new attempt's time alone)."""

    elapsed: str  # trained so far, "H:MM:SS" (LLaMA-Factory's own text if never resumed)
    remaining: str  # at this attempt's pace
    throughput: float | None  # tokens per second, all attempts
    attempts: int
    earlier_seconds: float = 0.0  # trained by the attempts before the current one


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
    attempts: list[Attempt] = field(default_factory=list)

    def poll(self) -> list[LogPoint]:
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        if size < self.offset:  # the file was replaced: start over
            self.offset, self.points, self.attempts = 0, [], []
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
            self._time(point)
            while self.points and _replaces(point, self.points[-1]):
                self.points.pop()
            self.points.append(point)
            new.append(point)
        return new

    def _time(self, point: LogPoint) -> None:
        """Count the line into its attempt: a clock that went back (or a step that did) means
        the trainer started again, from a checkpoint."""
        seconds = _seconds(point)
        if seconds is None:
            return
        current = self.attempts[-1] if self.attempts else None
        if current is None or seconds + 1 < current.last_seconds or point.step < current.last_step:
            current = Attempt(point.step, seconds, point.step, seconds)
            self.attempts.append(current)
        current.last_step, current.last_seconds = point.step, max(seconds, current.last_seconds)
        current.tokens = point.tokens if point.tokens is not None else current.tokens

    def clock(self) -> RunClock:
        """Elapsed, remaining and tokens/s over every attempt."""
        last = self.points[-1] if self.points else None
        speeds = [p.throughput for p in self.points if p.throughput]
        if len(self.attempts) < 2 or last is None:  # never resumed: LLaMA-Factory's own figures
            return RunClock(
                elapsed=last.elapsed if last else "",
                remaining=last.remaining if last else "",
                throughput=speeds[-1] if speeds else None,
                attempts=len(self.attempts),
            )
        *earlier, current = self.attempts
        before = sum(a.last_seconds for a in earlier)
        elapsed = before + current.last_seconds
        pace = current.seconds_per_step() or earlier[-1].seconds_per_step()
        left = max(last.total_steps - last.step, 0)
        return RunClock(
            elapsed=clock_text(elapsed),
            remaining=clock_text(left * pace) if pace is not None else "",
            throughput=current.tokens / elapsed if current.tokens and elapsed > 0 else None,
            attempts=len(self.attempts),
            earlier_seconds=before,
        )


@dataclass(frozen=True)
class LogSummary:
    """Where a run stands according to its trainer log."""

    step: int = 0
    total_steps: int = 0
    last_loss: float | None = None
    elapsed: str = ""
    remaining: str = ""
    nan_loss: bool = False
    attempts: int = 1  # the trainer's starts that logged a line (a resume adds one)
    earlier_seconds: float = 0.0  # trained by the attempts before the last one


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
    """Where the run stands by its trainer log, its clock counted over every attempt."""
    reader = TrainerLogReader(path)
    reader.poll()
    summary, clock = summarize_points(reader.points), reader.clock()
    return dataclasses.replace(
        summary,
        elapsed=clock.elapsed,
        remaining=clock.remaining,
        attempts=max(clock.attempts, 1),
        earlier_seconds=clock.earlier_seconds,
    )


def tail_text(path: Path, max_bytes: int = 20_000) -> str:
    """The last ``max_bytes`` of a log, decoded leniently, as a terminal shows it (see
    `screen_lines`)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(one_bar_each(screen_lines(text.split("\n"))))


# A tqdm bar as it is drawn: "desc: 40%|████      | 12/30 [00:05<00:07, 2.4it/s]"
_BAR = re.compile(
    r"^(?P<desc>[^|]*?)\s*\d{1,3}%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[[^\]\n]*\]"
)


def screen_lines(lines: list[str]) -> list[str]:
    """Each line as a terminal shows it after tqdm rewrote it with carriage returns (its last
    state), a progress bar apart from text written right after it (a log line that did not wait
    for the bar's newline, as `[INFO|…]` lines do not)."""
    out = []
    for line in lines:
        shown = line.rstrip("\r").rsplit("\r", 1)[-1]
        bar = _BAR.match(shown)
        if bar and shown[bar.end() :].strip():
            out += [shown[: bar.end()], shown[bar.end() :]]
        else:
            out.append(shown)
    return out


def one_bar_each(lines: list[str]) -> list[str]:
    """The lines with a progress bar shown once, at its newest state and place: an unfinished
    bar's earlier snapshot goes when the same bar (description and total) draws a later one; a
    finished bar stays where it finished."""
    out: list[str | None] = []
    unfinished: dict[tuple[str, str], tuple[int, int]] = {}  # bar -> (its line in out, n)
    for line in lines:
        bar = _BAR.match(line)
        if bar:
            key, n = (bar["desc"].strip(), bar["total"]), int(bar["n"])
            earlier = unfinished.pop(key, None)
            if earlier is not None and earlier[1] <= n:
                out[earlier[0]] = None
            if n < int(bar["total"]):
                unfinished[key] = (len(out), n)
        out.append(line)
    return [line for line in out if line is not None]


@dataclass
class LogTail:
    """Follows a text log by byte offset and keeps its last ``max_lines`` lines as a terminal
    shows them (tqdm's redraws resolved, one line per progress bar); each `poll` reads only the
    bytes added since the last one."""

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
        self.lines = one_bar_each(self.lines + screen_lines(lines))[-self.max_lines :]
        return True

    @property
    def text(self) -> str:
        """The kept lines as a terminal would show them, the unfinished last one included."""
        shown = self.lines + screen_lines([self.partial]) if self.partial else self.lines
        return "\n".join(one_bar_each(shown))
