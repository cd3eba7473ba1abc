"""Export as a job, as a run is one: `start_export` checks the run and hands its export to a
detached supervisor (`lorastudio.chat.export_supervisor`), which runs `llamafactory-cli export`
in its own process group with its output in ``export.log``, records its state in
``export.json`` and puts the merge in place of ``merged/`` only when it is whole. Closing the
studio, the browser tab or the terminal that started it changes nothing; `stop_export` ends it
(SIGTERM to its group, SIGKILL after a grace) and leaves no merged/ from it. Whoever shows an
export reads its files (`lorastudio.runs.export_status`), never its process.

    start_export(run_dir)
    final = wait_for_export(run_dir)
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from pathlib import Path

import psutil

from lorastudio import processes
from lorastudio.chat.export import Export
from lorastudio.errors import ChatError, RunError
from lorastudio.messages import msg
from lorastudio.runs.export_status import (
    ExportState,
    ExportStatus,
    export_state_name,
    kill_exporter,
    read_export,
    reconcile_export,
    remove_partials,
    update_export,
    write_export,
)
from lorastudio.runs.layout import EXPORT_CONFIG, EXPORT_LOG, MERGED_PARTIAL
from lorastudio.runs.liveness import alive, reconcile
from lorastudio.runs.status import run_lock

SUPERVISOR_MODULE = "lorastudio.chat.export_supervisor"
STARTED_TIMEOUT_S = 20.0
EXPORT_ARGV = ("llamafactory-cli", "export", EXPORT_CONFIG)


def start_export(
    run_dir: Path,
    model: str | None = None,
    timeout: float = STARTED_TIMEOUT_S,
    argv: tuple[str, ...] = EXPORT_ARGV,
) -> ExportStatus:
    """Check the run and start its export as a detached job; returns once its supervisor has
    taken over (or the export has already ended).

    Args:
        run_dir: the run folder.
        model: another copy of the base model than the one recorded (expert override).
        argv: what the supervisor runs in the run folder (LLaMA-Factory's export).

    Raises:
        ChatError, AdapterDamagedError, BaseModelMissingError: the run cannot be merged.
        RunError: an export of the run is live already, or its supervisor did not start.
    """
    run_dir = Path(run_dir).resolve()
    if reconcile(run_dir).live:  # a resumed run is writing its adapter anew
        raise ChatError(msg("chat.still_training", run=run_dir.name))
    plan = Export(run_dir, model)
    with run_lock(run_dir):  # of two starts at once, one starts and the other is told
        current = reconcile_export(run_dir)
        if current.live:
            raise RunError(
                msg(
                    "export.already_running",
                    run=run_dir.name,
                    state=export_state_name(current.state),
                ),
                msg("export.fix.follow_or_stop", run=run_dir.name),
            )
        remove_partials(run_dir)  # what an export killed with its machine left behind
        partial = f"{MERGED_PARTIAL}{time.time_ns()}"
        plan.write_config(run_dir / partial)
        (run_dir / EXPORT_LOG).write_bytes(b"")  # the log is this export's
        write_export(
            run_dir,
            state=ExportState.STARTING,
            starting_since=time.time(),
            model=model,
            argv=list(argv),
            partial=partial,
            host=socket.gethostname(),
        )
    _start_supervisor(run_dir)
    return _taken_over(run_dir, timeout)


def _start_supervisor(run_dir: Path) -> None:
    started = processes.run(processes.python_module(SUPERVISOR_MODULE, str(run_dir)), 60)
    if started.returncode != 0:
        reason = started.stderr.strip()[-500:]
        with contextlib.suppress(OSError):
            update_export(
                run_dir,
                state=ExportState.FAILED,
                ended_at=time.time(),
                reason=msg("export.supervisor_failed", error=reason),
            )
        raise RunError(
            msg("export.supervisor_not_started", reason=reason),
            msg("fix.see_log", path=str(run_dir / EXPORT_LOG)),
        )


def _taken_over(run_dir: Path, timeout: float) -> ExportStatus:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = read_export(run_dir)
        if status.final or (status.supervisor_pid and status.state is not ExportState.STARTING):
            return status
        time.sleep(0.05)
    raise RunError(
        msg("export.no_supervisor", seconds=f"{timeout:.0f}"),
        msg("fix.see_log", path=str(run_dir / EXPORT_LOG)),
    )


def stop_export(run_dir: Path, wait: bool = True, timeout: float | None = None) -> ExportStatus:
    """Stop the run's export: its supervisor ends LLaMA-Factory and removes the partial merge;
    merged/ keeps what it held before. An export whose supervisor is gone is ended from here.

    Raises:
        RunError: no export of the run is live.
    """
    run_dir = Path(run_dir).resolve()
    with run_lock(run_dir):  # the supervisor starts LLaMA-Factory under it: before or after
        status = read_export(run_dir)
        if not status.live:
            raise RunError(
                msg("export.not_running", run=run_dir.name, state=export_state_name(status.state))
            )
        now = time.time()
        if alive(status.supervisor_pid, status.supervisor_create_time):
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                psutil.Process(status.supervisor_pid).send_signal(signal.SIGTERM)
        else:  # not started yet (it then starts nothing), or gone: nothing else will end it
            kill_exporter(status)
            remove_partials(run_dir)
            update_export(
                run_dir,
                state=ExportState.STOPPED,
                stop_requested_at=now,
                ended_at=now,
                reason=msg("export.stopped_reason"),
            )
    return wait_for_export(run_dir, timeout) if wait else read_export(run_dir)


def wait_for_export(run_dir: Path, timeout: float | None = None) -> ExportStatus:
    """The export's status once it has ended (or when ``timeout`` seconds have passed)."""
    deadline = None if timeout is None else time.time() + timeout
    while True:
        status = reconcile_export(run_dir)
        if not status.live or (deadline is not None and time.time() > deadline):
            return status
        time.sleep(0.2)
