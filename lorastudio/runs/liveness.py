"""Is a run that says it is live really alive? A local run is alive while its supervisor or any
process of it runs: its trainer's process group, anything working in the run folder (the trainer
and its children run there), or its supervisor, found by the folder on its command line, so a
run is found even when status.json cannot be read. A run on a cluster is asked of its backend.

A run none of whose processes is left is recorded as it ended, from its own files
(`lorastudio.runs.outcome`): a trainer that finished while its supervisor was gone succeeded. A
status.json that cannot be read is rebuilt from them too, once nothing of the run runs (the
damaged file kept beside it); until then the run counts as running. When status.json cannot be
written (a full disk) the conclusion is returned all the same, and recorded by a later call."""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path
from typing import Any

import psutil

from lorastudio.messages import Msg, msg
from lorastudio.runs.backends import backend_for
from lorastudio.runs.layout import STATUS_FILE
from lorastudio.runs.outcome import after_the_end, rebuilt_fields
from lorastudio.runs.status import (
    Backend,
    RunState,
    RunStatus,
    keep_damaged_copy,
    read_status,
    update_status,
    write_status,
)

STARTING_GRACE_S = 60.0  # a supervisor that is being started has not written its pid yet
SUPERVISOR_MODULE = "lorastudio.runs.supervisor"


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


def group_members(pgid: int) -> list[psutil.Process]:
    """The running (not zombie) processes of process group ``pgid``."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, PermissionError):
            continue
    return members


def is_supervisor_of(process: psutil.Process, run_dir: Path) -> bool:
    """Whether ``process`` is a supervisor started for ``run_dir``."""
    try:
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return SUPERVISOR_MODULE in cmdline and Path(cmdline[-1]).resolve() == run_dir.resolve()


def run_processes(run_dir: Path, status: RunStatus) -> list[psutil.Process]:
    """The running processes of a run on this machine: the members of its trainer's process
    group, every process working in its folder, and its supervisor (zombies are not running)."""
    folder = str(run_dir.resolve())
    group = status.pgid if _group_is_ours(status) else None
    found = []
    for process in psutil.process_iter(["cwd", "cmdline", "status"]):
        info = process.info
        if process.pid == os.getpid() or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = info["cmdline"] or []
        if (
            info["cwd"] == folder
            or (SUPERVISOR_MODULE in cmdline and is_supervisor_of(process, run_dir))
            or (group is not None and _pgid(process) == group)
        ):
            found.append(process)
    return found


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except (ProcessLookupError, PermissionError):
        return None


def _group_is_ours(status: RunStatus) -> bool:
    """Whether the recorded process group is still the trainer's: its leader is gone (a group
    id is not reused while any member lives) or is the process that was started."""
    if not isinstance(status.pgid, int):
        return False
    try:
        leader = psutil.Process(status.pgid)
    except psutil.NoSuchProcess:
        return True
    if status.pid_create_time is None or status.pgid != status.pid:
        return True
    return abs(leader.create_time() - status.pid_create_time) <= 1.0


def reconcile(run_dir: Path) -> RunStatus:
    """The run's status, corrected when it claims to be live but is not (asked of its cluster
    for a run submitted to Kubernetes), or when status.json cannot be read."""
    status = read_status(run_dir)
    if status.backend is not Backend.LOCAL and status.live:
        return backend_for(status.backend).refresh(run_dir, status)
    return refresh_local(run_dir, status)


def refresh_local(run_dir: Path, status: RunStatus) -> RunStatus:
    """A local run's status: recorded as it ended when it claims to be live on this machine but
    none of its processes runs any more; worked out from its processes and files when status.json
    cannot be read."""
    if status.damaged is not None and status.state is RunState.UNKNOWN:
        return _damaged(run_dir, status)
    if not status.live or status.host != socket.gethostname():
        return status
    if alive(status.supervisor_pid, status.supervisor_create_time):
        return status
    if status.state is RunState.STARTING and (
        time.time() - (status.starting_since or 0) < STARTING_GRACE_S
    ):
        return status  # its supervisor is being started
    if alive(status.pid, status.pid_create_time) or run_processes(run_dir, status):
        return status  # the trainer runs on without its supervisor; its group is the run
    fields, outcome = after_the_end(run_dir, status)
    finished = fields["state"] is RunState.SUCCEEDED
    reason = msg("reason.supervisor_lost", outcome=outcome) if finished else outcome
    return _record(run_dir, status, fields | {"reason": reason})


def _damaged(run_dir: Path, status: RunStatus) -> RunStatus:
    """A run whose status.json cannot be read: running while any process of it runs (the
    file is left as it is; the supervisor writes over it at the end), else rebuilt from its
    files, the damaged file kept beside the new one."""
    processes = run_processes(run_dir, status)
    if processes:
        outcome = msg("reason.damaged_live", run=run_dir.name)
        return _as_running(run_dir, status, processes, _damage_reason(run_dir, status, outcome))
    fields, outcome = after_the_end(run_dir, status)
    try:
        kept = keep_damaged_copy(run_dir)
    except OSError:
        kept = None
    if kept is None:
        said = msg("reason.damaged_worked_out", outcome=outcome)
        return dataclasses.replace(status, **fields, reason=_damage_reason(run_dir, status, said))
    said = msg("reason.damaged_rebuilt", kept=kept.name, outcome=outcome)
    rebuilt = rebuilt_fields(run_dir) | fields | {"reason": _damage_reason(run_dir, status, said)}
    try:
        return write_status(run_dir, **rebuilt)
    except OSError:
        return dataclasses.replace(status, **rebuilt)


def _damage_reason(run_dir: Path, status: RunStatus, outcome: Msg) -> Msg:
    path = str(run_dir / STATUS_FILE)
    return msg("reason.status_damaged", path=path, why=status.damaged, outcome=outcome)


def _as_running(
    run_dir: Path, status: RunStatus, processes: list[psutil.Process], reason: Msg
) -> RunStatus:
    """The status of a run found running by its processes: its supervisor and its trainer's
    group as found, so that a stop reaches them."""
    fields: dict[str, Any] = {"state": RunState.RUNNING, "host": socket.gethostname()}
    for process in processes:
        try:
            if is_supervisor_of(process, run_dir):
                fields |= {"supervisor_pid": process.pid}
                fields |= {"supervisor_create_time": process.create_time()}
            elif _pgid(process) == process.pid:  # a group leader: the trainer's main process
                fields |= {"pid": process.pid, "pgid": process.pid}
                fields |= {"pid_create_time": process.create_time()}
        except psutil.NoSuchProcess:
            continue
    return dataclasses.replace(status, **fields, reason=reason)


def _record(run_dir: Path, status: RunStatus, fields: dict[str, Any]) -> RunStatus:
    """Record ``fields``; when status.json cannot be written (a full disk), the status they
    describe all the same."""
    try:
        return update_status(run_dir, **fields)
    except OSError:
        known = {k: v for k, v in fields.items() if k in RunStatus.__dataclass_fields__}
        return dataclasses.replace(status, **known)
