"""Faults a run must survive, provoked with the real launcher and supervisor and a fake trainer
(tests/fake_trainer.py writes what LLaMA-Factory writes, in seconds): a supervisor killed with
kill -9 and left a zombie, two resumes at once, a stop before the supervisor has started. The
run's final state must be the truth of what its trainer did."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import psutil
from fake_runs import (
    fake_run,
    group_members,
    living,
    raw_status,
    steps_logged,
    trainers_of,
    wait_for,
)

from lorastudio.errors import RunError
from lorastudio.launch import launcher
from lorastudio.runs.layout import has_adapter
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.status import RunState, read_status, update_status


def kill_supervisor(run_dir: Path) -> int:
    """kill -9 the run's supervisor once the trainer has logged a few steps; its pid."""
    wait_for(lambda: steps_logged(run_dir) >= 3)
    pid = read_status(run_dir).supervisor_pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not living([pid]))
    return pid


# ------------------------------------------------------------------ the supervisor killed (kill -9)


def test_a_trainer_that_outlives_its_killed_supervisor_keeps_the_run_live(adapters, unreaped):
    run_dir = fake_run(adapters, steps=60, step_seconds=0.1)
    launcher.start(run_dir)
    supervisor = kill_supervisor(run_dir)

    assert psutil.Process(supervisor).status() == psutil.STATUS_ZOMBIE  # as in the issue
    assert reconcile(run_dir).state is RunState.RUNNING  # its trainer is the run now
    assert trainers_of(run_dir)


def test_a_run_whose_supervisor_was_killed_ends_as_its_trainer_ended(adapters, unreaped):
    run_dir = fake_run(adapters, steps=40, step_seconds=0.05)
    launcher.start(run_dir)
    kill_supervisor(run_dir)

    final = launcher.wait_until_final(run_dir, timeout=60)

    assert final.state is RunState.SUCCEEDED, final
    assert steps_logged(run_dir) == 40 and has_adapter(run_dir)
    assert raw_status(run_dir)["state"] == "succeeded"  # recorded, not only reported
    assert "supervisor" in final.reason_text("en") and "监督进程" in final.reason_text("zh")


def test_stop_reaches_the_trainer_when_the_supervisor_is_a_zombie(adapters, unreaped):
    # 10 000 steps of 0.05 s: the trainer would run for 8 minutes unless the stop reaches it.
    run_dir = fake_run(adapters, steps=10_000, step_seconds=0.05)
    started = launcher.start(run_dir)
    kill_supervisor(run_dir)

    stopped = launcher.stop(run_dir, timeout=60)

    assert stopped.state is RunState.STOPPED, stopped
    assert group_members(started.pgid) == [] and trainers_of(run_dir) == []
    assert has_adapter(run_dir)  # the trainer saved what it had, as on any stop
    assert "adapter trained so far is saved" in stopped.reason_text("en")
    assert steps_logged(run_dir) < 10_000


def test_the_cli_stops_a_run_whose_supervisor_was_killed(studio, unreaped):
    run_dir = fake_run(studio.adapters, steps=10_000, step_seconds=0.05)
    launcher.start(run_dir)
    kill_supervisor(run_dir)

    result = studio.cli("stop", run_dir.name, timeout=120)

    assert result.returncode == 3, result.stdout + result.stderr  # 3: stopped
    assert f"run {run_dir.name}: stopped" in result.stdout and trainers_of(run_dir) == []


# ----------------------------------------------------------- the evidence a dead run leaves behind


def dead_run(adapters: Path, **status) -> Path:
    """A run recorded as running on this machine whose supervisor and trainer are gone."""
    run_dir = fake_run(adapters)
    gone = psutil.Popen(["true"])
    gone.wait()
    update_status(
        run_dir,
        state=RunState.RUNNING,
        host=socket.gethostname(),
        started_at=time.time() - 5,
        supervisor_pid=gone.pid,
        supervisor_create_time=1.0,
        pid=gone.pid,
        pgid=gone.pid,
        **status,
    )
    return run_dir


def write_log(run_dir: Path, steps: int, total: int) -> None:
    lines = [
        f'{{"current_steps": {s}, "total_steps": {total}, "loss": 1.0}}'
        for s in range(1, steps + 1)
    ]
    (run_dir / "trainer_log.jsonl").write_text("\n".join(lines) + "\n")


def test_a_dead_run_with_its_whole_adapter_and_every_step_logged_succeeded(tmp_path: Path):
    run_dir = dead_run(tmp_path)
    write_log(run_dir, 20, 20)
    (run_dir / "adapter_model.safetensors").write_bytes(b"w")
    (run_dir / "adapter_config.json").write_text("{}")

    assert reconcile(run_dir).state is RunState.SUCCEEDED


def test_an_adapter_left_by_an_earlier_attempt_is_no_evidence_of_success(tmp_path: Path):
    run_dir = dead_run(tmp_path)
    write_log(run_dir, 20, 20)
    for name in ("adapter_model.safetensors", "adapter_config.json"):
        (run_dir / name).write_text("{}")
        os.utime(run_dir / name, (time.time() - 60, time.time() - 60))  # before this attempt

    status = reconcile(run_dir)

    assert status.state is RunState.FAILED and "kill -9" in status.reason_text("en")


def test_a_dead_run_cut_short_failed_because_its_supervisor_vanished(tmp_path: Path):
    run_dir = dead_run(tmp_path)
    write_log(run_dir, 7, 20)

    status = reconcile(run_dir)

    assert status.state is RunState.FAILED and "resume" in status.reason_text("en")


def test_a_dead_run_whose_stop_was_asked_is_stopped(tmp_path: Path):
    run_dir = dead_run(tmp_path, stop_requested_at=time.time())
    write_log(run_dir, 7, 20)

    assert reconcile(run_dir).state is RunState.STOPPED


def test_a_dead_run_whose_log_says_the_disk_filled_up_failed_for_a_full_disk(tmp_path: Path):
    run_dir = dead_run(tmp_path)
    write_log(run_dir, 7, 20)
    (run_dir / "train.log").write_text("OSError: [Errno 28] No space left on device\n")

    status = reconcile(run_dir)

    assert status.state is RunState.FAILED and status.failure == "disk_full"


# ------------------------------------------------------------------------- two resumes at once


def stopped_run(adapters: Path) -> Path:
    """A run stopped after its first checkpoint, its supervisor and trainer gone."""
    run_dir = fake_run(adapters, steps=10_000, save_steps=2, step_seconds=0.05)
    launcher.start(run_dir)
    wait_for(lambda: (run_dir / "checkpoint-2" / "trainer_state.json").is_file())
    assert launcher.stop(run_dir, timeout=60).state is RunState.STOPPED
    return run_dir


def test_two_resumes_released_together_start_exactly_one_supervisor(adapters):
    run_dir = stopped_run(adapters)
    barrier, outcomes = threading.Barrier(2), []

    def resume() -> None:
        barrier.wait()
        try:
            outcomes.append(launcher.resume(run_dir))
        except RunError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refused = [o for o in outcomes if isinstance(o, RunError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "still" in str(refused[0]) and run_dir.name in str(refused[0])
    assert read_status(run_dir).attempt == 2
    wait_for(lambda: steps_logged(run_dir) > 4)
    assert len(trainers_of(run_dir)) == 1
    assert launcher.stop(run_dir, timeout=60).state is RunState.STOPPED
    assert trainers_of(run_dir) == []


# ------------------------------------------------------------------------- stop while starting


def test_a_stop_before_the_supervisor_has_started_wins(adapters):
    run_dir = fake_run(adapters, steps=10_000, step_seconds=0.05)  # created, not started yet

    stopped = launcher.stop(run_dir)
    assert stopped.state is RunState.STOPPED
    launcher.start(run_dir)  # the supervisor comes up after the stop

    final = launcher.wait_until_final(run_dir, timeout=30)
    assert final.state is RunState.STOPPED, final
    assert not (run_dir / "trainer_log.jsonl").exists() and trainers_of(run_dir) == []
    assert read_status(run_dir).supervisor_pid is not None  # it did start, and did not train


def test_a_stop_racing_the_supervisors_start_ends_the_run_stopped(adapters):
    run_dir = fake_run(adapters, steps=10_000, step_seconds=0.05)
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        with contextlib.suppress(RunError):  # the stop won before the supervisor took over
            launcher.start(run_dir)

    thread = threading.Thread(target=start)
    thread.start()
    barrier.wait()
    launcher.stop(run_dir, timeout=60)
    thread.join(timeout=60)

    final = launcher.wait_until_final(run_dir, timeout=60)
    assert final.state is RunState.STOPPED, final
    wait_for(lambda: trainers_of(run_dir) == [], timeout=30)


# ------------------------------------------------- a diagnosis is of this attempt's own log


def test_a_resume_that_fails_otherwise_is_not_called_disk_full(tmp_path: Path):
    """The earlier attempt's "No space left on device" stays in train.log; this attempt's own
    error is the diagnosis."""
    run_dir = fake_run(tmp_path / "adapters")
    (run_dir / "train.log").write_text(
        "# LoRA Studio: starting llamafactory-cli train\n"
        "OSError: [Errno 28] No space left on device\n"
    )
    failing = [sys.executable, "-c", "raise FileNotFoundError('checkpoint-10/trainer_state.json')"]
    launch = json.loads((run_dir / "launch.json").read_text())
    (run_dir / "launch.json").write_text(json.dumps(launch | {"argv": ["python", *failing[1:]]}))

    launcher.start(run_dir)
    final = launcher.wait_until_final(run_dir, timeout=60)

    assert final.state is RunState.FAILED and final.failure == "error", final
    assert "FileNotFoundError" in final.reason_text("en")
    wait_for(lambda: not (run_dir / ".supervisor.spare").exists())
