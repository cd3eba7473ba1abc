"""The small process that owns one export (started by `lorastudio.chat.export_job`): it starts
`llamafactory-cli export` in its own process group with its output appended to export.log,
records pid and state in export.json, carries out a stop (SIGTERM to the group, SIGKILL after
the grace), and at the end either puts the whole merge in place of merged/ or removes it. It
runs detached from whoever started it, so closing the studio or its tab never touches it.

Run as ``python -m lorastudio.chat.export_supervisor RUN_DIR``; it daemonizes at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import psutil

from lorastudio import processes
from lorastudio.chat.export import check_output, install, read_config, write_config
from lorastudio.errors import ExportError
from lorastudio.messages import msg
from lorastudio.runs.export_status import (
    ExportState,
    ExportStatus,
    kill_exporter,
    read_export,
    remove_partials,
    update_export,
)
from lorastudio.runs.layout import EXPORT_LOG
from lorastudio.runs.liveness import group_members
from lorastudio.runs.status import run_lock

POLL_SECONDS = 0.2
STRAGGLERS_GRACE_S = 10.0  # LLaMA-Factory has exited; what it started may take this long


def stop_grace_seconds() -> float:
    """How long LLaMA-Factory may take to end on SIGTERM before its group is killed."""
    return float(os.environ.get("LORASTUDIO_EXPORT_STOP_GRACE", "10"))


class ExportSupervisor:
    """Starts LLaMA-Factory's export, waits for it, handles a stop, records the end."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.stop_requested_at: float | None = None
        self.term_sent = False  # a stop counts once LLaMA-Factory has been told, not before

    def _request_stop(self, signum: int, frame: object) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.time()

    def listen(self) -> None:
        """Take SIGTERM (and Ctrl-C) as a stop request; never die of a hang-up."""
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def run(self) -> int:
        """Start the export, unless a stop came first, and see it to its end."""
        me = psutil.Process()
        with run_lock(self.run_dir):  # a stop holds it too: it comes before the start or after
            status = read_export(self.run_dir)
            if status.final or status.stop_requested_at is not None:
                return 0  # stopped before it started: stop_export recorded it
            update_export(
                self.run_dir, supervisor_pid=me.pid, supervisor_create_time=me.create_time()
            )
            proc = self._spawn(status)
            try:
                status = update_export(
                    self.run_dir,
                    state=ExportState.RUNNING,
                    started_at=time.time(),
                    pid=proc.pid,
                    pid_create_time=psutil.Process(proc.pid).create_time(),
                    pgid=proc.pid,
                )
            except BaseException:
                _kill_group(proc.pid)  # an export nobody could find must not run
                raise
        try:
            code = self._watch(proc)
        except BaseException:
            _kill_group(proc.pid)  # an export that lost its supervisor ends with it
            raise
        self._finish(status, code)
        return 0

    def _spawn(self, status: ExportStatus) -> subprocess.Popen:
        argv = status.argv or []
        log = (self.run_dir / EXPORT_LOG).open("ab")
        return processes.start(
            [processes.tool(argv[0]), *argv[1:]],
            cwd=self.run_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a stop reaches all of it
        )

    def _watch(self, proc: subprocess.Popen) -> int | None:
        """Wait for LLaMA-Factory (and anything it started) to end; on a stop, SIGTERM to its
        group, and SIGKILL once the grace has passed."""
        deadline = None
        killed = False
        while True:
            code = proc.poll()
            if self.stop_requested_at is not None and not self.term_sent and code is None:
                with contextlib.suppress(OSError):  # a full disk does not stop a stop
                    update_export(
                        self.run_dir,
                        state=ExportState.STOPPING,
                        stop_requested_at=self.stop_requested_at,
                    )
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                self.term_sent = True
                deadline = time.time() + stop_grace_seconds()
            if code is not None:
                if not group_members(proc.pid):
                    return code
                if deadline is None:
                    deadline = time.time() + STRAGGLERS_GRACE_S
            if deadline is not None and time.time() > deadline and not killed:
                _kill_group(proc.pid)
                killed = True
            time.sleep(POLL_SECONDS)

    def _finish(self, status: ExportStatus, code: int | None) -> None:
        partial = self.run_dir / str(status.partial)
        fields: dict = {"exit_code": code, "ended_at": time.time()}
        if self.term_sent:
            remove_partials(self.run_dir)
            fields |= {"state": ExportState.STOPPED, "reason": msg("export.stopped_reason")}
            update_export(self.run_dir, **fields)
            return
        try:
            check_output(self.run_dir, code, partial)
            merged = install(self.run_dir, partial)
        except ExportError as failed:
            remove_partials(self.run_dir)
            fields |= {"state": ExportState.FAILED, "reason": failed.message}
            update_export(self.run_dir, **fields)
            return
        config = read_config(self.run_dir) | {"export_dir": str(merged)}
        write_config(self.run_dir, config)  # left behind, it re-runs this export by hand
        files = sorted(p.name for p in merged.iterdir())
        update_export(self.run_dir, state=ExportState.SUCCEEDED, files=files, **fields)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def supervise(run_dir: Path) -> int:
    """Run the export to its end; whatever happens, the end is recorded and no partial merge
    is left behind."""
    supervisor = ExportSupervisor(run_dir)
    supervisor.listen()  # before its pid is recorded: a stop may signal it from then on
    try:
        return supervisor.run()
    except Exception as exc:  # the export must end with a recorded state, whatever happened
        traceback.print_exc()
        kill_exporter(read_export(run_dir))
        remove_partials(run_dir)
        with contextlib.suppress(OSError):
            update_export(
                run_dir,
                state=ExportState.FAILED,
                ended_at=time.time(),
                reason=msg("export.supervisor_failed", error=repr(exc)),
            )
        return 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    run_dir = Path(args[0]).resolve()
    processes.daemonize(run_dir / EXPORT_LOG, lambda: supervise(run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
