"""Is a run that says it is live really alive? A local run is alive while its supervisor (or,
without it, its trainer) runs; a run on a cluster is asked of its backend. A run whose processes
are all gone is recorded as failed, with the reason, so no screen shows a dead run as running."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import psutil

from lorastudio.messages import msg
from lorastudio.runs.backends import backend_for
from lorastudio.runs.status import Backend, RunState, RunStatus, read_status, update_status

STARTING_GRACE_S = 60.0  # a supervisor that is being started has not written its pid yet


def alive(pid: Any, create_time: Any) -> bool:
    """Whether process ``pid`` runs and is the one started at ``create_time`` (not a reuse of
    its pid, not a zombie)."""
    if not isinstance(pid, int):
        return False
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - float(create_time)) > 1.0:
            return False  # the pid was reused by another process
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def reconcile(run_dir: Path) -> RunStatus:
    """The run's status, corrected when it claims to be live but is not (asked of its cluster
    for a run submitted to Kubernetes)."""
    status = read_status(run_dir)
    if status.backend is not Backend.LOCAL and status.live:
        return backend_for(status.backend).refresh(run_dir, status)
    return refresh_local(run_dir, status)


def refresh_local(run_dir: Path, status: RunStatus) -> RunStatus:
    """A local run's status, recorded as failed when it claims to be live on this machine but
    neither its supervisor nor its trainer runs any more."""
    if not status.live or status.host != socket.gethostname():
        return status
    if alive(status.supervisor_pid, status.supervisor_create_time):
        return status
    if status.state is RunState.STARTING and (
        time.time() - (status.starting_since or 0) < STARTING_GRACE_S
    ):
        return status  # its supervisor is being started
    if alive(status.pid, status.pid_create_time):
        return status  # the trainer runs on without its supervisor; it still writes its log
    return update_status(
        run_dir, state=RunState.FAILED, ended_at=time.time(), reason=msg("reason.vanished")
    )
