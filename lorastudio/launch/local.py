"""The backend of runs on this machine (see `lorastudio.runs.backends`): a stop asks the run's
supervisor, which saves the adapter trained so far (or, when the supervisor is gone, ends the
trainer's process group itself); a resume starts a new supervisor on the same run folder, and
LLaMA-Factory continues from the newest checkpoint."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import yaml

from lorastudio.errors import RunError
from lorastudio.launch import launcher
from lorastudio.messages import msg
from lorastudio.runs.layout import RECIPE_FILE, latest_checkpoint
from lorastudio.runs.liveness import refresh_local
from lorastudio.runs.occupancy import ensure_free, launch_lock, run_claim
from lorastudio.runs.status import RunState, RunStatus, read_status, state_name, update_status


def refresh(run_dir: Path, status: RunStatus) -> RunStatus:
    return refresh_local(run_dir, status)


def log_text(run_dir: Path, status: RunStatus) -> None:
    """None: a local run's log is its own train.log, read (and followed) by the caller."""
    return None


def stop(run_dir: Path, status: RunStatus, wait: bool, timeout: float | None) -> RunStatus:
    """SIGTERM to the supervisor, which stops the trainers at their next step."""
    try:
        os.kill(status.supervisor_pid, signal.SIGTERM)  # type: ignore[arg-type]
    except (ProcessLookupError, TypeError):
        # No supervisor (it was killed): end the trainer's group ourselves and record it.
        if isinstance(status.pgid, int):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(status.pgid, signal.SIGKILL)
        return update_status(
            run_dir,
            state=RunState.STOPPED,
            ended_at=time.time(),
            reason=msg("reason.stopped_without_supervisor"),
        )
    return launcher.wait_until_final(run_dir, timeout) if wait else read_status(run_dir)


def resume(run_dir: Path, status: RunStatus) -> RunStatus:
    """Start the run again from its newest checkpoint, on the same devices once they are free.

    Raises:
        RunError: the run is live, finished well, is a node of several, or has no checkpoint.
        DeviceBusyError: another live run holds its devices.
    """
    run = run_dir.name
    if status.nnodes > 1:
        raise RunError(msg("run.multinode_resume", run=run), msg("fix.start_every_node"))
    if status.live:
        raise RunError(
            msg("run.still_live", run=run, state=state_name(status.state)),
            msg("fix.wait_or_stop", run=run),
        )
    if status.state is RunState.SUCCEEDED:
        raise RunError(msg("run.finished", run=run), msg("fix.new_run"))
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise RunError(
            msg("run.no_checkpoint", run=run, every=_save_steps(run_dir)), msg("fix.train_again")
        )
    claim = run_claim(run_dir)
    with launch_lock(run_dir.parent):
        if claim is not None:
            ensure_free(run_dir.parent, claim, exclude=run_dir)
        _mark_resuming(run_dir, status, checkpoint)
    return launcher.start(run_dir)


def _save_steps(run_dir: Path) -> object:
    try:
        recipe = yaml.safe_load((run_dir / RECIPE_FILE).read_text(encoding="utf-8")) or {}
        return (recipe.get("train") or {}).get("save_steps", "?")
    except (OSError, yaml.YAMLError, AttributeError):
        return "?"


def _mark_resuming(run_dir: Path, status: RunStatus, checkpoint: Path) -> None:
    update_status(
        run_dir,
        state=RunState.STARTING,
        starting_since=time.time(),
        attempt=status.attempt + 1,
        resumed_from=checkpoint.name,
        resumed_from_step=int(checkpoint.name.split("-")[-1]),
        reason=None,
        ended_at=None,
        exit_code=None,
        stop_requested_at=None,
        supervisor_pid=None,
    )
