"""An export job's ``export.json`` as a typed record (`ExportStatus`, its `ExportState`), read
and written only here, as `runs.status` does for status.json; how far the export has got, read
from its log (`export_phase`); and whether an export that says it is live really is
(`reconcile_export`): an export whose supervisor is gone can no longer put its merge in place,
so what is left of it is ended, its partial folder removed, and it is recorded as failed."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import psutil

from lorastudio.files import write_json_atomic
from lorastudio.messages import Msg, msg
from lorastudio.runs.layout import (
    EXPORT_LOG,
    EXPORT_STATUS,
    MERGED_DIR,
    MERGED_OLD,
    MERGED_PARTIAL,
)
from lorastudio.runs.liveness import alive, group_members
from lorastudio.runs.typed_json import json_values, typed_values

STARTING_GRACE_S = 60.0  # a supervisor that is being started has not written its pid yet
PHASE_LOG_BYTES = 4 * 2**20  # the start of export.log that phases are read from


class ExportState(StrEnum):
    """Where a run's export is. A live one has its supervisor (and LLaMA-Factory) working."""

    NONE = "none"  # never exported: no export.json
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    UNKNOWN = "unknown"  # export.json is damaged

    @property
    def live(self) -> bool:
        return self in EXPORT_LIVE

    @property
    def final(self) -> bool:
        return self in EXPORT_FINAL


EXPORT_LIVE = frozenset({ExportState.STARTING, ExportState.RUNNING, ExportState.STOPPING})
EXPORT_FINAL = frozenset({ExportState.SUCCEEDED, ExportState.FAILED, ExportState.STOPPED})


def export_state_name(state: ExportState) -> Msg:
    """The state as a message argument, said in the reader's language."""
    return Msg("export.never") if state is ExportState.NONE else Msg(f"state.{state.value}")


@dataclass(frozen=True)
class ExportStatus:
    """Everything ``export.json`` records about a run's latest export."""

    state: ExportState = ExportState.NONE
    reason: Msg | None = None  # why it ended as it did (failed, stopped)
    model: str | None = None  # another copy of the base model than the recorded one
    argv: list[str] | None = None  # what the supervisor runs, in the run folder
    partial: str | None = None  # the folder (in the run folder) the merge is written into
    host: str | None = None  # the machine its supervisor runs on
    starting_since: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    stop_requested_at: float | None = None
    supervisor_pid: int | None = None
    supervisor_create_time: float | None = None
    pid: int | None = None  # LLaMA-Factory's process, leader of its own process group
    pid_create_time: float | None = None
    pgid: int | None = None
    files: list[str] | None = None  # what merged/ holds, once it succeeded
    damaged: Msg | None = None  # not on disk: why export.json could not be read whole

    @property
    def live(self) -> bool:
        return self.state.live

    @property
    def final(self) -> bool:
        return self.state.final

    @property
    def seconds(self) -> float | None:
        """How long it ran (so far, while it is live)."""
        begun = self.started_at or self.starting_since
        if begun is None:
            return None
        return (self.ended_at or time.time()) - begun


def read_export(run_dir: Path) -> ExportStatus:
    """The run's latest export; NONE without export.json, UNKNOWN (with ``damaged`` saying
    why) when it cannot be read whole."""
    try:
        raw = json.loads((run_dir / EXPORT_STATUS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ExportStatus()
    except (OSError, ValueError) as exc:
        damaged = msg("status.unreadable", error=str(exc))
        return ExportStatus(state=ExportState.UNKNOWN, damaged=damaged)
    if not isinstance(raw, dict):
        return ExportStatus(state=ExportState.UNKNOWN, damaged=msg("status.not_object"))
    values, wrong = typed_values(ExportStatus, raw)
    if wrong:
        values["damaged"] = msg("status.wrong_types", fields=", ".join(wrong))
        if "state" in wrong:
            values["state"] = ExportState.UNKNOWN
    return ExportStatus(**values)


def write_export(run_dir: Path, **fields: Any) -> ExportStatus:
    """Start export.json anew with ``fields`` (a new export forgets the last one's).

    Raises:
        OSError: it cannot be written (the disk is full, most often).
    """
    stored = json_values(ExportStatus, fields)
    write_json_atomic(run_dir / EXPORT_STATUS, stored)
    return read_export(run_dir)


def update_export(run_dir: Path, **fields: Any) -> ExportStatus:
    """Merge ``fields`` into export.json, atomically, keeping what else it records.

    Raises:
        OSError: it cannot be written.
    """
    path = run_dir / EXPORT_STATUS
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raw = {}
    merged = (raw if isinstance(raw, dict) else {}) | json_values(ExportStatus, fields)
    write_json_atomic(path, merged)
    return read_export(run_dir)


# ---------------------------------------------------------------- how far it has got


class ExportPhase(StrEnum):
    """What LLaMA-Factory's export is doing, in order, as its log shows it."""

    LOADING = "loading"  # the base model and the adapter
    MERGING = "merging"  # the adapter is merged; the model is being made ready to save
    SAVING = "saving"  # the merged weights and the tokenizer are being written

    @property
    def number(self) -> int:
        return list(ExportPhase).index(self) + 1


# A log line that marks the start of a phase (LLaMA-Factory 0.9.5's own words).
PHASE_MARKS = ((ExportPhase.SAVING, "Convert model dtype to"), (ExportPhase.MERGING, "Merged "))


def export_phase(run_dir: Path) -> ExportPhase:
    """The phase the export's log has reached (LOADING until it says more)."""
    try:
        with (run_dir / EXPORT_LOG).open("rb") as handle:
            text = handle.read(PHASE_LOG_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ExportPhase.LOADING
    for phase, mark in PHASE_MARKS:
        if mark in text:
            return phase
    return ExportPhase.LOADING


# ---------------------------------------------------------------- is it really live


def reconcile_export(run_dir: Path) -> ExportStatus:
    """The export's status, ended and recorded when it claims to be live on this machine but
    its supervisor is gone (killed, or a zombie nobody reaps): nothing would put its merge in
    place, so LLaMA-Factory's process group is killed and the partial folder removed."""
    status = read_export(run_dir)
    if not status.live or status.host != socket.gethostname():
        return status
    if alive(status.supervisor_pid, status.supervisor_create_time):
        return status
    starting = status.supervisor_pid is None and status.state is ExportState.STARTING
    if starting and time.time() - (status.starting_since or 0) < STARTING_GRACE_S:
        return status  # its supervisor is being started
    kill_exporter(status)
    remove_partials(run_dir)
    if status.stop_requested_at is not None:
        state, reason = ExportState.STOPPED, msg("export.stopped_reason")
    else:
        state, reason = ExportState.FAILED, msg("export.supervisor_lost")
    try:
        return update_export(run_dir, state=state, reason=reason, ended_at=time.time())
    except OSError:  # a full disk: said all the same, recorded by a later call
        return dataclasses.replace(status, state=state, reason=reason)


def exporter_group(status: ExportStatus) -> int | None:
    """LLaMA-Factory's process group, while any process of it runs and it is still the one the
    export started (a group id is not reused while any member lives)."""
    if not isinstance(status.pgid, int):
        return None
    if status.pid == status.pgid and status.pid_create_time is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            leader = psutil.Process(status.pgid)
            if abs(leader.create_time() - status.pid_create_time) > 1.0:
                return None  # the leader's pid now belongs to another process
    return status.pgid if group_members(status.pgid) else None


def kill_exporter(status: ExportStatus) -> None:
    """SIGKILL to every process of LLaMA-Factory's group."""
    group = exporter_group(status)
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def remove_partials(run_dir: Path) -> None:
    """Remove the folders exports left half-written in the run folder; a merge set aside to be
    replaced is put back when nothing replaced it (an export ended between the two renames)."""
    for partial in run_dir.glob(f"{MERGED_PARTIAL}*"):
        shutil.rmtree(partial, ignore_errors=True)
    merged = run_dir / MERGED_DIR
    for old in sorted(run_dir.glob(f"{MERGED_OLD}*")):
        if merged.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                old.rename(merged)
