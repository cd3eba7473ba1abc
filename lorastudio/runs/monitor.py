"""Watching one run as it trains: each `RunMonitor.poll` reads only what the trainer appended to
``trainer_log.jsonl`` and ``train.log`` since the last poll, plus the small ``status.json``, and
says what changed. The studio polls it a few times a second; nothing here knows about a UI."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from lorastudio.machine.peaks import mfu
from lorastudio.messages import Msg
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import LOG_FILE, TRAINER_LOG, USAGE_LOG
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.metrics import LogPoint, LogTail, TrainerLogReader
from lorastudio.runs.status import RunState, RunStatus, read_status


@dataclass(frozen=True)
class Progress:
    """Where a run stands, for a progress bar."""

    run_id: str
    state: RunState
    reason: Msg | None  # why it is in this state (said in the reader's language)
    step: int
    total_steps: int
    loss: float | None
    eval_loss: float | None
    throughput: float | None  # tokens per second over the whole run (every attempt)
    elapsed: str  # time trained over the whole run, "0:01:02"
    remaining: str
    since_start: float  # seconds since the run (or its last resume) started
    failure: str | None = None  # a failed run's diagnosis kind
    lr: float | None = None  # the learning rate at the last logged step
    mfu: float | None = None  # model FLOPs utilisation (cards we know the peak of)
    cards: CardsNow | None = None  # the cards' memory and utilisation, last sampled

    @property
    def fraction(self) -> float:
        return min(self.step / self.total_steps, 1.0) if self.total_steps else 0.0

    @property
    def live(self) -> bool:
        return self.state.live


@dataclass(frozen=True)
class CardsNow:
    """The run's cards at their last sample: the fullest card's memory, mean utilisation."""

    name: str
    count: int
    memory_used_mib: int
    memory_total_mib: int
    utilization: int | None


def last_usage(run_dir: Path, name: str) -> CardsNow | None:
    """The last line of the run's device_usage.jsonl (read from its end), or None."""
    try:
        with (run_dir / USAGE_LOG).open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 8192))
            lines = handle.read().splitlines()
        cards = json.loads(lines[-1])["cards"]
        fullest = max(cards, key=lambda c: c["memory_used_mib"])
        busy = [c["utilization"] for c in cards if c.get("utilization") is not None]
        return CardsNow(
            name=name,
            count=len(cards),
            memory_used_mib=int(fullest["memory_used_mib"]),
            memory_total_mib=int(fullest["memory_total_mib"]),
            utilization=round(sum(busy) / len(busy)) if busy else None,
        )
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


@dataclass(frozen=True)
class Change:
    """What one poll found: the progress, and whether the curve or the log moved."""

    progress: Progress
    new_points: int
    log_changed: bool
    state_changed: bool


@dataclass
class RunMonitor:
    """Follows one run folder incrementally (by byte offset) from where it was attached."""

    run_dir: Path
    reader: TrainerLogReader = field(init=False)
    log: LogTail = field(init=False)
    last_state: RunState | None = None

    def __post_init__(self) -> None:
        self.reader = TrainerLogReader(self.run_dir / TRAINER_LOG)
        self.log = LogTail(self.run_dir / LOG_FILE)

    @property
    def points(self) -> list[LogPoint]:
        return self.reader.points

    def poll(self) -> Change:
        new_points = len(self.reader.poll())
        log_changed = self.log.poll()
        status = reconcile(self.run_dir)
        state = status.state
        state_changed = state != self.last_state
        self.last_state = state
        return Change(self._progress(status), new_points, log_changed, state_changed)

    def _progress(self, status: RunStatus) -> Progress:
        points = self.reader.points
        last = points[-1] if points else None
        losses = [p.loss for p in points if p.loss is not None]
        evals = [p.eval_loss for p in points if p.eval_loss is not None]
        clock = self.reader.clock()  # over every attempt of a resumed run
        started = status.started_at or status.created_at or time.time()
        ended = status.ended_at if not status.live else None
        return Progress(
            run_id=self.run_dir.name,
            state=status.state,
            reason=status.reason,
            failure=status.failure,
            step=last.step if last else 0,
            total_steps=last.total_steps if last else 0,
            loss=losses[-1] if losses else None,
            eval_loss=evals[-1] if evals else None,
            throughput=clock.throughput,
            elapsed=clock.elapsed,
            remaining=clock.remaining,
            since_start=max(0.0, (ended or time.time()) - started),
            lr=next((p.lr for p in reversed(points) if p.lr is not None), None),
            mfu=self._mfu(status, clock.throughput),
            cards=last_usage(self.run_dir, status.card_name or "") if status.card_name else None,
        )

    def _mfu(self, status: RunStatus, throughput: float | None) -> float | None:
        if not (throughput and status.model_params and status.card_name):
            return None
        cards = status.processes_per_node * max(status.nnodes, 1)
        return mfu(throughput, status.model_params, status.card_name, cards)


def loss_series(points: list[LogPoint], max_points: int = 2000) -> list[tuple[str, int, float]]:
    """``(series, step, loss)`` rows for a plot: "train" and "eval", thinned to ``max_points``
    per series by keeping every n-th point (the last one always)."""
    rows: list[tuple[str, int, float]] = []
    for series, values in (
        ("train", [(p.step, p.loss) for p in points if p.loss is not None]),
        ("eval", [(p.step, p.eval_loss) for p in points if p.eval_loss is not None]),
    ):
        stride = max(1, -(-len(values) // max_points))
        kept = values[::stride]
        if values and kept[-1] != values[-1]:
            kept.append(values[-1])
        rows.extend((series, step, float(loss)) for step, loss in kept)
    return rows


def run_to_watch(adapters_dir: Path) -> Path | None:
    """The run a freshly opened studio shows: the newest live run, else the newest run."""
    dirs = RunIndex(adapters_dir).run_dirs()  # named by start time, oldest first
    for run_dir in reversed(dirs):
        if read_status(run_dir).live and (reconcile(run_dir).live):
            return run_dir
    return dirs[-1] if dirs else None


def newer_live_run(adapters_dir: Path, than: Path | None) -> Path | None:
    """A live run that began after ``than`` did (started by another tab or the CLI, taken
    from the queue, resumed), if there is one; the latest to begin first."""
    since = _began(read_status(than), than) if than is not None else (0.0, "")
    found = []
    for run_dir in RunIndex(adapters_dir).run_dirs():
        if than is not None and run_dir.name == than.name:
            continue
        status = read_status(run_dir)
        if status.live and _began(status, run_dir) > since and reconcile(run_dir).live:
            found.append((_began(status, run_dir), run_dir))
    return max(found)[1] if found else None


def _began(status: RunStatus, run_dir: Path) -> tuple[float, str]:
    """When a run last began (its last start or resume, else its creation), and its name to
    order runs that began at the same moment: a queued run begins when the queue starts it."""
    times = (status.created_at, status.starting_since, status.started_at)
    return (max(t for t in times if t is not None), run_dir.name)
