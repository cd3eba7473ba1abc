"""A run's ``status.json`` as a typed record (`RunStatus`, its `RunState`), read and written only
here: written atomically and merged field by field, so the supervisor, the launcher and a backend
can each record their part; read without ever failing, a damaged file saying so in ``damaged``
(and kept beside the new one when it is next written). Also the run's lock, held by whoever
changes its state on the strength of what it read (resume, stop, the supervisor's start)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from lorastudio.files import write_json_atomic
from lorastudio.messages import Msg, msg
from lorastudio.runs.layout import STATUS_FILE
from lorastudio.runs.typed_json import json_values, typed_values


class RunState(StrEnum):
    """Where a run is in its life. A live run has a process (or a cluster job) working on it; a
    queued one waits for its devices (`lorastudio.runs.queue`) and holds none yet."""

    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    CANCELLED = "cancelled"  # taken out of the queue before it started
    UNKNOWN = "unknown"  # status.json is missing or damaged

    @property
    def live(self) -> bool:
        return self in LIVE_STATES

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


def state_name(state: RunState) -> Msg:
    """The state as a message argument, said in the reader's language."""
    return Msg(f"state.{state.value}")


LIVE_STATES = frozenset({RunState.STARTING, RunState.RUNNING, RunState.STOPPING})
FINAL_STATES = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.STOPPED, RunState.CANCELLED}
)


class Backend(StrEnum):
    """Who runs it: a supervisor on this machine, or a PyTorchJob on a Kubernetes cluster."""

    LOCAL = "local"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class RunStatus:
    """Everything ``status.json`` records about one run (every field optional on disk)."""

    id: str = ""
    name: str = ""
    state: RunState = RunState.UNKNOWN
    reason: Msg | None = None  # why the run is in this state (a final one, mostly)
    failure: str | None = None  # the diagnosis kind of a failed run (runs.diagnosis)
    created_at: float = 0.0
    queued_at: float | None = None  # when it was queued for its devices (None: never)
    queue_order: float | None = None  # its place in the queue: lower goes first
    starting_since: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    step: int | None = None
    recipe_hash: str = ""
    device: str = ""  # cpu, cuda or npu, as resolved on the machine that runs it
    processes_per_node: int = 1
    attempt: int = 1  # 2 after the first resume, …
    resumed_from: str | None = None
    resumed_from_step: int | None = None
    stop_requested_at: float | None = None
    host: str | None = None  # the machine its supervisor runs on
    supervisor_pid: int | None = None
    supervisor_create_time: float | None = None
    pid: int | None = None  # the trainer's main process, leader of its process group
    pid_create_time: float | None = None
    pgid: int | None = None
    node_rank: int = 0  # this machine's rank in a multi-node run (0: it has the adapter)
    nnodes: int = 1
    master_addr: str | None = None
    master_port: int | None = None
    backend: Backend = Backend.LOCAL
    kubernetes: dict[str, Any] | None = None  # a submitted run: namespace, job, context, …
    cluster_error: str | None = None  # why the cluster could not be asked, last time
    card_name: str | None = None  # the cards it trains on, as nvidia-smi / npu-smi name them
    model_params: int | None = None  # the base model's parameters (for MFU)
    fell_back: Msg | None = None  # the safer plan tried after an early out-of-memory
    damaged: Msg | None = None  # not on disk: why status.json could not be read whole

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def final(self) -> bool:
        return self.state.final

    def reason_text(self, lang: str = "en") -> str:
        return self.reason.text(lang) if self.reason is not None else ""


def read_status(run_dir: Path) -> RunStatus:
    """The run's status; a missing file is an UNKNOWN state, a damaged one too, with
    ``damaged`` saying what is wrong (fields that do read are kept)."""
    path = run_dir / STATUS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RunStatus(id=run_dir.name)
    except (OSError, ValueError) as exc:
        return RunStatus(id=run_dir.name, damaged=msg("status.unreadable", error=str(exc)))
    if not isinstance(raw, dict):
        return RunStatus(id=run_dir.name, damaged=msg("status.not_object"))
    return from_json(raw, run_dir.name)


def from_json(raw: dict[str, Any], run_id: str = "") -> RunStatus:
    """A RunStatus from status.json's object; values of the wrong type are dropped (and named
    in ``damaged``), keys it does not know are ignored."""
    values, wrong = typed_values(RunStatus, raw)
    values = {"id": run_id} | values
    if wrong:
        values["damaged"] = msg("status.wrong_types", fields=", ".join(wrong))
    return RunStatus(**values)


def to_json(fields: dict[str, Any]) -> dict[str, Any]:
    """RunStatus fields as status.json stores them (a reason as its English words for a person
    reading the file, and as its key and arguments for either language)."""
    return json_values(RunStatus, fields)


def update_status(run_dir: Path, **fields: Any) -> RunStatus:
    """Merge ``fields`` (RunStatus names and types) into status.json, atomically, keeping what
    other writers recorded; returns the new status. A file that holds no JSON object is kept
    as ``status.json.damaged-<time>`` and the fields start a new one.

    Raises:
        OSError: status.json cannot be written (the disk is full, most often).
    """
    path = run_dir / STATUS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raw = {}
    except (OSError, ValueError):
        raw = None
    if not isinstance(raw, dict):
        keep_damaged_copy(run_dir)
        raw = {}
    merged = raw | to_json(fields)
    write_json_atomic(path, merged)
    return from_json(merged, run_dir.name)


def write_status(run_dir: Path, **fields: Any) -> RunStatus:
    """Write a new status.json holding only ``fields`` (a damaged one is rebuilt this way, after
    `keep_damaged_copy`).

    Raises:
        OSError: status.json cannot be written.
    """
    written = to_json(fields)
    write_json_atomic(run_dir / STATUS_FILE, written)
    return from_json(written, run_dir.name)


def keep_damaged_copy(run_dir: Path) -> Path | None:
    """Keep a damaged status.json as ``status.json.damaged-<time>`` (a hard link, so it needs
    no room on a full disk) before a new one is written over it; the copy's path, or None when
    there was no file."""
    source = run_dir / STATUS_FILE
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 100):
        kept = run_dir / (f"{STATUS_FILE}.damaged-{stamp}" + (f"-{attempt}" if attempt > 1 else ""))
        try:
            os.link(source, kept)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        except OSError:  # a filesystem without hard links
            shutil.copyfile(source, kept)
        return kept
    raise FileExistsError(run_dir / f"{STATUS_FILE}.damaged-{stamp}")


def damaged_copies(run_dir: Path) -> list[Path]:
    """The damaged status files set aside in the run folder, oldest first."""
    return sorted(run_dir.glob(f"{STATUS_FILE}.damaged-*"))


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run's lock (an flock on its folder, so it needs no file and no free space):
    a state read under it stays true until the change made on its strength is recorded."""
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the folder releases the lock
