"""The backend of runs on this machine (see `lorastudio.runs.backends`): a stop asks the run's
supervisor, which saves the adapter trained so far; when the supervisor is gone (killed, or a
zombie nobody reaps), the stop signals the trainers itself, waits for them to save, then ends
what is left of their process group. A stop before the supervisor has started the trainer is
recorded, and the supervisor then starts nothing. A resume starts a new supervisor on the same
run folder, and LLaMA-Factory continues from the newest whole checkpoint. Stop and resume decide
under the run's lock (resume under the launch lock too), so two of them never both act on what
they read."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
import yaml

from lorastudio.errors import RunError
from lorastudio.launch import launcher
from lorastudio.messages import msg
from lorastudio.runs import queue as run_queue
from lorastudio.runs.layout import (
    LOG_FILE,
    RECIPE_FILE,
    TRAINER_LOG,
    has_adapter,
    set_aside_checkpoint,
    whole_checkpoint,
)
from lorastudio.runs.liveness import alive, reconcile, refresh_local, run_processes
from lorastudio.runs.metrics import summarize_trainer_log
from lorastudio.runs.occupancy import DeviceBusyError, launch_lock, run_claim
from lorastudio.runs.status import (
    RunState,
    RunStatus,
    read_status,
    run_lock,
    state_name,
    update_status,
)
from lorastudio.runs.supervisor import stop_grace_seconds, trainer_processes


def refresh(run_dir: Path, status: RunStatus) -> RunStatus:
    return refresh_local(run_dir, status)


def log_text(run_dir: Path, status: RunStatus) -> None:
    """None: a local run's log is its own train.log, read (and followed) by the caller."""
    return None


def stop(run_dir: Path, status: RunStatus, wait: bool, timeout: float | None) -> RunStatus:
    """Stop the run: SIGTERM to its supervisor, which stops the trainers at their next step;
    without a supervisor, the trainers are stopped from here."""
    with run_lock(run_dir):
        status = reconcile(run_dir)  # what holds while the lock is held
        if not status.live:
            return status
        if status.state is RunState.STARTING:  # the supervisor starts nothing after this
            return _record(
                run_dir,
                status,
                state=RunState.STOPPED,
                stop_requested_at=time.time(),
                ended_at=time.time(),
                reason=msg("reason.stopped_before_start"),
            )
        supervised = alive(status.supervisor_pid, status.supervisor_create_time)
        if supervised:
            with contextlib.suppress(ProcessLookupError):
                psutil.Process(status.supervisor_pid).send_signal(signal.SIGTERM)
        else:
            _abort_trainers(run_dir, status)
    if not wait:
        return read_status(run_dir)
    if not supervised:
        _end_unsupervised(run_dir, status)
    return launcher.wait_until_final(run_dir, timeout)


def _abort_trainers(run_dir: Path, status: RunStatus) -> None:
    """What the supervisor does on a stop, for a run that lost it: LLaMA-Factory's stop signal
    to the training processes of each process group of the run, and the request recorded."""
    for process in run_processes(run_dir, status):
        if _pgid(process) != process.pid:
            continue  # not the leader of a group: the supervisor, or a trainer's child
        for trainer in trainer_processes(process):
            with contextlib.suppress(psutil.NoSuchProcess):
                trainer.send_signal(signal.SIGABRT)
    _record(run_dir, status, state=RunState.STOPPING, stop_requested_at=time.time())


def _end_unsupervised(run_dir: Path, status: RunStatus) -> None:
    """Wait for the stopped trainers to save and exit, at most the stop's grace, then kill
    whatever of the run is left."""
    deadline = time.time() + stop_grace_seconds()
    while time.time() < deadline and _trainers_left(run_dir, status):
        time.sleep(0.2)
    for process in run_processes(run_dir, status):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


def _trainers_left(run_dir: Path, status: RunStatus) -> bool:
    return any(_pgid(p) == p.pid for p in run_processes(run_dir, status))


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _record(run_dir: Path, status: RunStatus, **fields: object) -> RunStatus:
    try:
        return update_status(run_dir, **fields)
    except OSError:  # a full disk: the end is worked out from the run's files later
        return read_status(run_dir)


def resume(run_dir: Path, status: RunStatus) -> RunStatus:
    """Start the run again from its newest whole checkpoint, on the same devices once they are
    free. Checked under the launch lock and the run's lock: of two resumes at once, one starts
    it and the other finds it starting.

    Raises:
        RunError: the run is live, finished, is a node of several, has no whole checkpoint, or
            its disk is full.
        DeviceBusyError: another live run holds its devices, or a queued run waits for them.
    """
    with launch_lock(run_dir.parent), run_lock(run_dir):
        status = reconcile(run_dir)
        _check_resumable(run_dir, status)
        claim = run_claim(run_dir)
        blocked = run_queue.blocker(run_dir.parent, claim) if claim is not None else None
        if blocked is not None:  # a live run holds its devices, or a queued one goes first
            raise DeviceBusyError(claim, *blocked)
        with launcher.no_space_said(run_dir):
            _mark_resuming(run_dir, status, _checkpoint_to_resume(run_dir))
    return launcher.start(run_dir)


def _check_resumable(run_dir: Path, status: RunStatus) -> None:
    run = run_dir.name
    if status.nnodes > 1:
        raise RunError(msg("run.multinode_resume", run=run), msg("fix.start_every_node"))
    if status.live:
        raise RunError(
            msg("run.still_live", run=run, state=state_name(status.state)),
            msg("fix.wait_or_stop", run=run),
        )
    if status.state is RunState.SUCCEEDED or _trained_to_the_end(run_dir):
        raise RunError(msg("run.finished", run=run), msg("fix.new_run"))


def _trained_to_the_end(run_dir: Path) -> bool:
    """Whether the trainer logged its last step and wrote the adapter, whatever status.json
    says: a resume would only train over that adapter."""
    summary = summarize_trainer_log(run_dir / TRAINER_LOG)
    return has_adapter(run_dir) and 0 < summary.total_steps <= summary.step


def _checkpoint_to_resume(run_dir: Path) -> Path:
    """The newest whole checkpoint; the incomplete ones after it (cut short by a full disk or
    a kill) are set aside, so LLaMA-Factory does not pick them, and the log says so."""
    run = run_dir.name
    checkpoint, incomplete = whole_checkpoint(run_dir)
    if checkpoint is None and incomplete:
        names = ", ".join(c.name for c in incomplete)
        raise RunError(
            msg("run.incomplete_checkpoints", run=run, names=names), msg("fix.train_again")
        )
    if checkpoint is None:
        raise RunError(
            msg("run.no_checkpoint", run=run, every=_save_steps(run_dir)), msg("fix.train_again")
        )
    for cut_short in incomplete:
        kept = set_aside_checkpoint(cut_short)
        with contextlib.suppress(OSError), (run_dir / LOG_FILE).open("a") as log:
            log.write(
                f"# LoRA Studio: {cut_short.name} is incomplete (no readable trainer_state.json); "
                f"set aside as {kept.name}, resuming from {checkpoint.name}\n"
            )
    return checkpoint


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
        failure=None,
        ended_at=None,
        exit_code=None,
        stop_requested_at=None,
        supervisor_pid=None,
    )
