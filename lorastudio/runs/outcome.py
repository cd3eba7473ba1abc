"""What a run's own files say happened to it, for when no process of it is left to ask: its
supervisor was killed before it could record the end, or status.json could not be read or
written. The trainer's log, its adapter and this attempt's part of train.log are the evidence;
the supervisor diagnoses a failure from the same part of the log."""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from lorastudio.messages import Msg, msg
from lorastudio.runs.diagnosis import Diagnosis, diagnose
from lorastudio.runs.layout import (
    ADAPTER_FILES,
    ATTEMPT_MARK,
    LOG_FILE,
    RECIPE_FILE,
    TRAINER_LOG,
    has_adapter,
)
from lorastudio.runs.metrics import LogSummary, summarize_trainer_log, tail_text
from lorastudio.runs.status import RunState, RunStatus

FULL_BELOW_BYTES = 1 << 20  # a disk with less room than this is full, for a diagnosis
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def attempt_log(run_dir: Path, max_bytes: int = 12_000) -> str:
    """The end of train.log from this attempt's start on: an earlier attempt's errors are no
    diagnosis of this one."""
    tail = tail_text(run_dir / LOG_FILE, max_bytes)
    start = tail.rfind(ATTEMPT_MARK)
    return tail[start:] if start >= 0 else tail


def disk_is_full(folder: Path) -> bool:
    """Whether the disk that holds ``folder`` has (almost) no room left for this user."""
    try:
        return shutil.disk_usage(folder).free < FULL_BELOW_BYTES
    except OSError:
        return False


def is_no_space(exc: BaseException) -> bool:
    """Whether an error is a full disk (or a used-up quota)."""
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def diagnose_attempt(run_dir: Path, exit_code: int | None, summary: LogSummary) -> Diagnosis:
    """Why this attempt failed, from its part of the log; a log that names no cause, or only an
    error line, on a disk with no room left is a full disk (the trainer's own words about it
    may not have fitted in the log either)."""
    diagnosis = diagnose(attempt_log(run_dir), exit_code, nan_loss=summary.nan_loss)
    if diagnosis.kind in ("unknown", "error") and disk_is_full(run_dir):
        return Diagnosis("disk_full", msg("failure.disk_full"))
    return diagnosis


def finished(run_dir: Path, status: RunStatus, summary: LogSummary) -> bool:
    """Whether the trainer trained every step and wrote its adapter in this attempt (its files
    written after the attempt started; any time, when status.json could not say when)."""
    if not has_adapter(run_dir) or not 0 < summary.total_steps <= summary.step:
        return False
    since = (status.started_at or 0.0) - 1.0
    return all((run_dir / name).stat().st_mtime >= since for name in ADAPTER_FILES)


def after_the_end(run_dir: Path, status: RunStatus) -> tuple[dict[str, Any], Msg]:
    """How a local run none of whose processes is left ended, from its files: the final fields
    (state, step, failure) and what the evidence says, to be given as (part of) the reason."""
    summary = summarize_trainer_log(run_dir / TRAINER_LOG)
    fields: dict[str, Any] = {"ended_at": time.time(), "step": summary.step}
    if status.stop_requested_at is not None:
        saved = msg("reason.adapter_saved" if has_adapter(run_dir) else "reason.no_adapter_saved")
        stopped = msg("reason.stopped_without_supervisor", step=summary.step, saved=saved)
        return fields | {"state": RunState.STOPPED}, stopped
    if finished(run_dir, status, summary):
        done = msg("reason.finished_evidence", step=summary.step, total=summary.total_steps)
        return fields | {"state": RunState.SUCCEEDED}, done
    diagnosis = diagnose_attempt(run_dir, None, summary)
    if diagnosis.kind not in ("unknown", "error"):  # a cause the log names for certain
        return fields | {"state": RunState.FAILED, "failure": diagnosis.kind}, diagnosis.message
    if status.damaged is not None:
        total = summary.total_steps or "?"
        unfinished = msg("reason.unfinished_evidence", step=summary.step, total=total)
        return fields | {"state": RunState.FAILED}, unfinished
    return fields | {"state": RunState.FAILED}, msg("reason.vanished")


def rebuilt_fields(run_dir: Path) -> dict[str, Any]:
    """What a status.json that had to be set aside is started again with: the run's id, and
    the name and device its recipe names."""
    fields: dict[str, Any] = {"id": run_dir.name}
    try:
        recipe = yaml.safe_load((run_dir / RECIPE_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        recipe = None
    if isinstance(recipe, dict):
        if isinstance(recipe.get("name"), str):
            fields["name"] = recipe["name"]
        device = (recipe.get("hardware") or {}).get("device")
        if device in ("cpu", "cuda", "npu"):
            fields["device"] = device
    with contextlib.suppress(ValueError):
        fields["created_at"] = time.mktime(time.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S"))
    return fields
