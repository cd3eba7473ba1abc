"""The queue of runs waiting for their devices, kept in the run folders alone (no daemon). A run
created while a live run holds its devices is laid out whole, with state ``queued`` and a
``queue_order`` in its status.json; `kick` starts, under the launch lock, every queued run whose
devices are free and that no earlier queued run waits for (first come, first served on each
device; the CPU is one device, each card another). A finishing supervisor kicks (it hands its
devices over), and so do `launch.py train|runs|logs|queue` and the studio's poll, so a killed
supervisor or a reboot strands nothing. Two kickers never start a run twice: the first marks it
starting, which holds its devices, before it lets the lock go. Whoever starts it, a queued run
starts with the environment of the command that queued it (kept beside it, readable by its
owner alone, until it starts). A queued run is cancelled or moved up here too."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lorastudio import processes
from lorastudio.errors import RunError
from lorastudio.files import write_bytes_atomic
from lorastudio.messages import Bilingual, Msg, msg
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import QUEUED_ENV_FILE, SUPERVISOR_LOG
from lorastudio.runs.liveness import SUPERVISOR_MODULE
from lorastudio.runs.occupancy import Claim, held_claims, holder_of, launch_lock, run_claim
from lorastudio.runs.status import (
    RunState,
    RunStatus,
    read_status,
    run_lock,
    state_name,
    update_status,
)

SPAWN_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Waiting:
    """A queued run: its folder, the devices it waits for, and its place (lower goes first)."""

    run_dir: Path
    claim: Claim
    order: float
    queued_at: float | None = None

    @property
    def key(self) -> tuple[float, str]:
        return (self.order, self.run_dir.name)


# ---------------------------------------------------------------- the rules, on plain values


def in_order(waiting: list[Waiting]) -> list[Waiting]:
    """The queue, first in line first (equal places: the older run first)."""
    return sorted(waiting, key=lambda w: w.key)


def ahead_of(waiting: list[Waiting], run_dir: Path) -> list[Waiting]:
    """The queued runs before ``run_dir`` that wait for (some of) its devices, first first."""
    ordered = in_order(waiting)
    mine = next((w for w in ordered if w.run_dir.name == run_dir.name), None)
    if mine is None:
        return []
    return [w for w in ordered if w.key < mine.key and w.claim.overlaps(mine.claim)]


def position(waiting: list[Waiting], run_dir: Path) -> int:
    """Its place in line for its devices: 1 is the next to start."""
    return len(ahead_of(waiting, run_dir)) + 1


def positions(waiting: list[Waiting]) -> dict[str, int]:
    """Every queued run's place in line, by run id."""
    return {w.run_dir.name: position(waiting, w.run_dir) for w in waiting}


def due(waiting: list[Waiting], held: list[Claim]) -> list[Waiting]:
    """The queued runs to start now, in order: those whose devices no live run holds, no earlier
    queued run waits for, and no run started before them in this pass takes."""
    taken = list(held)
    chosen = []
    for entry in in_order(waiting):
        if not any(entry.claim.overlaps(other) for other in taken):
            chosen.append(entry)
        taken.append(entry.claim)  # started or still waiting, the ones after it wait
    return chosen


def next_order(waiting: list[Waiting], now: float) -> float:
    """The place of a run joining the queue: after every run in it (a clock set back too)."""
    return max([now, *(w.order + 1.0 for w in waiting)])


def order_before(waiting: list[Waiting], target: Waiting) -> float | None:
    """A place just before ``target`` and after the run before it; None when no float fits."""
    ordered = in_order(waiting)
    index = ordered.index(target)
    before = ordered[index - 1].order if index > 0 else target.order - 2.0
    middle = (before + target.order) / 2
    return middle if before < middle < target.order else None


def ordinal(n: int) -> Bilingual:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st; 第 n 位 in Chinese."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return Bilingual(f"{n}{suffix}", f"第 {n} 位")


# ---------------------------------------------------------------- the queue on disk


def waiting_runs(adapters_dir: Path) -> list[Waiting]:
    """Every queued run under the adapters folder, first in line first."""
    found = []
    for run_dir in RunIndex(adapters_dir).run_dirs():
        status = read_status(run_dir)
        if status.state is not RunState.QUEUED:
            continue
        claim = run_claim(run_dir)
        if claim is None:
            continue
        order = status.queue_order if status.queue_order is not None else status.created_at
        found.append(Waiting(run_dir, claim, order, status.queued_at))
    return in_order(found)


def blocker(adapters_dir: Path, claim: Claim) -> tuple[str, RunState] | None:
    """Why a new run for ``claim`` would wait: the live run that holds (some of) its devices,
    else the first queued run that waits for them; None when it may start now."""
    holder = holder_of(adapters_dir, claim)
    if holder is not None:
        return holder.name, read_status(holder).state
    for entry in waiting_runs(adapters_dir):
        if entry.claim.overlaps(claim):
            return entry.run_dir.name, RunState.QUEUED
    return None


def keep_environment(run_dir: Path) -> None:
    """Keep this process's environment beside a run it queued (HF_ENDPOINT, HF_HOME, a proxy,
    …): whoever starts the run later gives it to the run. Readable by its owner alone, as it
    may hold tokens; removed once the run starts or is cancelled."""
    data = json.dumps(dict(os.environ)).encode("utf-8")
    write_bytes_atomic(run_dir / QUEUED_ENV_FILE, data, mode=0o600)


def _queued_environment(run_dir: Path) -> dict[str, str] | None:
    try:
        env = json.loads((run_dir / QUEUED_ENV_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(env, dict):
        return None
    return {str(k): str(v) for k, v in env.items()}


def queue_fields(adapters_dir: Path, now: float) -> dict:
    """The status fields of a run joining the queue now (call under the launch lock)."""
    order = next_order(waiting_runs(adapters_dir), now)
    return {"state": RunState.QUEUED, "queued_at": now, "queue_order": order}


def place_of(run_dir: Path) -> int | None:
    """Where a queued run stands in line (1: next), or None when it is not queued."""
    waiting = waiting_runs(run_dir.parent)
    if not any(w.run_dir.name == run_dir.name for w in waiting):
        return None
    return position(waiting, run_dir)


def queued_note(run_dir: Path) -> Msg | None:
    """ "queued, 2nd in line for cpu", or None when the run is not queued (any more)."""
    waiting = waiting_runs(run_dir.parent)
    mine = next((w for w in waiting if w.run_dir.name == run_dir.name), None)
    if mine is None:
        return None
    nth = ordinal(position(waiting, run_dir))
    return msg("queue.place", nth=nth, devices=mine.claim.describe())


def spawn_supervisor(run_dir: Path) -> None:
    """Start the run's supervisor, detached (it double-forks), and return once it has forked;
    a run that was queued gets the environment of who queued it.

    Raises:
        RunError: the supervisor process could not be started.
    """
    argv = processes.python_module(SUPERVISOR_MODULE, "--daemon", str(run_dir))
    env = processes.child_env(base=_queued_environment(run_dir))
    started = processes.run(argv, SPAWN_TIMEOUT_S, env=env)
    (run_dir / QUEUED_ENV_FILE).unlink(missing_ok=True)  # the supervisor has it
    if started.returncode != 0:
        raise RunError(
            msg("run.supervisor_not_started", reason=started.stderr.strip()[-500:]),
            msg("fix.see_log", path=str(run_dir / SUPERVISOR_LOG)),
        )


def kick(adapters_dir: Path) -> list[Path]:
    """Start every queued run that is due (see `due`); the folders of those started. Safe to
    call from anywhere, any number of times at once: the choice and the change to ``starting``
    happen under the launch lock. Costs a look at the run folders when nothing is queued."""
    if not waiting_runs(adapters_dir):
        return []
    started = []
    with launch_lock(adapters_dir):
        for entry in due(waiting_runs(adapters_dir), held_claims(adapters_dir)):
            if _mark_starting(entry.run_dir):
                _start_or_fail(entry.run_dir)
                started.append(entry.run_dir)
    return started


class Keeper:
    """Kicks the queue of one adapters folder at most every ``every`` seconds, however many
    callers ask (each open page of the studio polls): a queue that lost its handover (a killed
    supervisor, a reboot) moves on while a studio is open, at the cost of a look at the run
    folders now and then."""

    def __init__(self, adapters_dir: Path, every: float = 5.0):
        self.adapters_dir, self.every = adapters_dir, every
        self._at = float("-inf")
        self._lock = threading.Lock()

    def maybe_kick(self) -> list[Path]:
        """`kick`, unless it was done less than ``every`` seconds ago."""
        with self._lock:
            now = time.monotonic()
            if now - self._at < self.every:
                return []
            self._at = now
        try:
            return kick(self.adapters_dir)
        except OSError:  # the folder cannot be read or locked now: the next look tries again
            return []


def _mark_starting(run_dir: Path) -> bool:
    """Take a queued run out of the queue, as starting (which holds its devices); False when it
    was cancelled or started meanwhile, or its folder is gone."""
    try:
        with run_lock(run_dir):
            if read_status(run_dir).state is not RunState.QUEUED:
                return False
            update_status(run_dir, state=RunState.STARTING, starting_since=time.time())
    except OSError:  # deleted meanwhile, or a full disk: it stays as it is
        return False
    return True


def _start_or_fail(run_dir: Path) -> None:
    """Start its supervisor; a run whose supervisor cannot start fails, saying why."""
    try:
        spawn_supervisor(run_dir)
    except RunError as exc:
        _record(run_dir, state=RunState.FAILED, ended_at=time.time(), reason=exc.message)
    except OSError as exc:
        reason = msg("run.supervisor_not_started", reason=str(exc))
        _record(run_dir, state=RunState.FAILED, ended_at=time.time(), reason=reason)


def _record(run_dir: Path, **fields: object) -> None:
    with contextlib.suppress(OSError):  # else it stays starting, and reconcile says it vanished
        update_status(run_dir, **fields)


def cancel(run_dir: Path) -> RunStatus | None:
    """Take a queued run out of the queue for good (state ``cancelled``; its folder stays, with
    its recipe and compiled config); None when it is not queued (any more)."""
    with run_lock(run_dir):
        status = read_status(run_dir)
        if status.state is not RunState.QUEUED:
            return None
        now = time.time()
        cancelled = update_status(
            run_dir,
            state=RunState.CANCELLED,
            ended_at=now,
            stop_requested_at=now,
            reason=msg("reason.cancelled"),
        )
        (run_dir / QUEUED_ENV_FILE).unlink(missing_ok=True)
    kick(run_dir.parent)  # the runs it held back may start now
    return cancelled


def move_up(run_dir: Path) -> int:
    """Move a queued run one place up in line for its devices; its new place.

    Raises:
        RunError: it is not queued, or it is first in line already.
    """
    adapters_dir = run_dir.parent
    with launch_lock(adapters_dir):
        waiting = waiting_runs(adapters_dir)
        _check_queued(run_dir, waiting)
        ahead = ahead_of(waiting, run_dir)
        if not ahead:
            raise RunError(msg("queue.first_already", run=run_dir.name), msg("fix.queue_first"))
        order = order_before(waiting, ahead[-1])
        if order is None:  # no float left between them: number the queue afresh
            waiting = _renumber(waiting)
            target = next(w for w in waiting if w.run_dir == ahead[-1].run_dir)
            order = order_before(waiting, target)
        with run_lock(run_dir):
            if read_status(run_dir).state is RunState.QUEUED:
                update_status(run_dir, queue_order=order)
        place = position(waiting_runs(adapters_dir), run_dir)
    kick(adapters_dir)
    return place


def _check_queued(run_dir: Path, waiting: list[Waiting]) -> None:
    if not any(w.run_dir.name == run_dir.name for w in waiting):
        state = read_status(run_dir).state
        raise RunError(
            msg("queue.not_queued", run=run_dir.name, state=state_name(state)),
            msg("fix.queue_list"),
        )


def _renumber(waiting: list[Waiting]) -> list[Waiting]:
    """Give the queue places 0, 2, 4, … in its order (room for a move between any two)."""
    renumbered = []
    for number, entry in enumerate(in_order(waiting)):
        with run_lock(entry.run_dir):
            update_status(entry.run_dir, queue_order=2.0 * number)
        renumbered.append(Waiting(entry.run_dir, entry.claim, 2.0 * number, entry.queued_at))
    return renumbered
