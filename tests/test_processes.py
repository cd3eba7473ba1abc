"""How LoRA Studio starts processes: a daemon (a run's or an export's supervisor) leaves its
caller at once, in a session of its own, not the caller's child, its output in its log."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil

from lorastudio import processes


def wait_for(path: Path) -> dict:
    for _ in range(200):
        if path.is_file() and path.read_text().endswith("\n"):
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def test_a_daemon_runs_in_its_own_session_apart_from_its_caller(tmp_path: Path):
    report = tmp_path / "report.json"

    def work() -> int:
        me = psutil.Process()
        os.write(1, b"the daemon speaks\n")  # its stdout is the log
        facts = {"pid": me.pid, "sid": os.getsid(0), "ppid": me.ppid()}
        report.write_text(json.dumps(facts) + "\n")
        return 0

    processes.daemonize(tmp_path / "daemon.log", work)

    facts = wait_for(report)
    assert facts["pid"] != os.getpid() and facts["ppid"] != os.getpid()
    assert facts["sid"] != os.getsid(0)  # a session of its own: no terminal, no hang-up
    assert not [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    for _ in range(200):
        if "the daemon speaks" in (tmp_path / "daemon.log").read_text():
            break
        time.sleep(0.05)
    assert "the daemon speaks" in (tmp_path / "daemon.log").read_text()
