"""A disk that fills up mid-run: the run ends `failed` for a full disk (never silently left
`running`), `runs`, `logs` and `check` keep working while it is full, and once space is freed
`resume` skips the checkpoint the full disk cut short.

The full disk is real: the adapters folder is a small tmpfs mounted for the test (so writes
fail with ENOSPC in the trainer, the supervisor, SQLite and status.json alike, as on a full
disk), which needs root; elsewhere these tests are skipped. RLIMIT_FSIZE was not chosen: it
fails only the trainer's writes (with EFBIG), never the supervisor's or SQLite's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from conftest import LF_DATA, Studio, tiny_recipe
from fake_runs import fake_run, raw_status, wait_for

from lorastudio.launch import launcher
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.status import RunState, read_status, update_status

pytestmark = pytest.mark.slow

KIB = 1024


def mounted_studio(tmp_path: Path, size: str):
    """A studio whose adapters folder is a tmpfs of ``size`` (skips the test where it cannot be
    mounted); every process left working in it is killed and it is unmounted afterwards."""
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(adapters)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.decode().strip()}")
    yield Studio(tmp_path, LF_DATA)
    for process in psutil.process_iter(["cwd"]):
        if (process.info["cwd"] or "").startswith(str(adapters)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
    subprocess.run(["umount", "-l", str(adapters)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A studio whose adapters folder is a 4 MiB disk of its own."""
    yield from mounted_studio(tmp_path, "4m")


@pytest.fixture
def disk_for_a_real_run(tmp_path: Path):
    """A disk as large as pre-flight wants for a run of the tiny model (tmpfs takes memory only
    for what is written); `shrink` makes it full."""
    yield from mounted_studio(tmp_path, "2g")


def shrink(disk: Path, room: int) -> None:
    """Make the disk only ``room`` bytes larger than what it holds now."""
    stat = os.statvfs(disk)
    used = (stat.f_blocks - stat.f_bfree) * stat.f_frsize
    resize(disk, str(used + room))


def resize(disk: Path, size: str) -> None:
    options = f"remount,size={size}"
    subprocess.run(["mount", "-o", options, "tmpfs", str(disk)], check=True, capture_output=True)


def leave_free(disk: Path, room: int) -> Path:
    """Fill the disk but for ``room`` bytes; the filler file."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler.write_bytes(b"\1" * max(free - room, 0))
    return filler


def fill_up(disk: Path) -> Path:
    """Fill the disk to its last byte; the filler file."""
    filler = disk / "last-bytes"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
        while True:
            handle.write(b"\1" * 4096)
    return filler


def test_a_full_disk_fails_the_run_for_it_and_resume_skips_the_cut_short_checkpoint(
    small_disk: Studio, tiny_model: Path
):
    studio = small_disk
    # Room for the supervisor's spare and two checkpoints of 300 KiB, not for a third.
    run_dir = fake_run(studio.adapters, steps=12, save_steps=2, checkpoint_bytes=300 * KIB)
    filler = leave_free(studio.adapters, (256 + 600 + 150) * KIB)

    launcher.start(run_dir)
    final = launcher.wait_until_final(run_dir, timeout=60)

    assert final.state is RunState.FAILED and final.failure == "disk_full", final
    assert raw_status(run_dir)["state"] == "failed"  # recorded by the supervisor, not guessed
    assert "disk is full" in final.reason_text("en") and "磁盘已满" in final.reason_text("zh")
    assert not (run_dir / "checkpoint-6" / "trainer_state.json").exists()  # cut short

    fill_up(studio.adapters)  # whatever was left
    listed = studio.cli("runs")
    as_json = studio.cli("runs", "--json")
    logs = studio.cli("logs", run_dir.name)
    checked = studio.cli("check", str(studio.write_recipe("t.yaml", tiny_recipe(tiny_model))))
    for result in (listed, as_json, logs, checked):
        assert "Traceback" not in result.stderr, result.stderr
    assert listed.returncode == 0 and run_dir.name in listed.stdout and "failed" in listed.stdout
    assert json.loads(as_json.stdout)[0]["failure"] == "disk_full"
    assert logs.returncode == 0 and "LoRA Studio: starting" in logs.stdout
    assert checked.returncode in (0, 2) and "disk:" in checked.stdout

    for path in (filler, studio.adapters / "last-bytes"):
        path.unlink()
    resumed = studio.cli("resume", run_dir.name, "--detach")

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "from checkpoint-4" in resumed.stdout
    assert (run_dir / "checkpoint-6.incomplete").is_dir()  # kept, out of LLaMA-Factory's way
    final = launcher.wait_until_final(run_dir, timeout=60)
    assert final.state is RunState.SUCCEEDED, final
    assert "checkpoint-6 is incomplete" in (run_dir / "train.log").read_text()


def test_when_status_json_cannot_be_written_the_full_disk_is_worked_out_from_the_log(
    small_disk: Studio,
):
    studio = small_disk
    run_dir = fake_run(studio.adapters)
    gone = subprocess.Popen(["true"])
    gone.wait()
    update_status(
        run_dir,
        state=RunState.RUNNING,
        host=socket.gethostname(),
        supervisor_pid=gone.pid,
        pid=gone.pid,
        pgid=gone.pid,
        started_at=time.time(),
    )
    (run_dir / "train.log").write_text("OSError: [Errno 28] No space left on device\n")
    filler = fill_up(studio.adapters)

    status = reconcile(run_dir)

    assert status.state is RunState.FAILED and status.failure == "disk_full"
    assert read_status(run_dir).state is RunState.RUNNING  # nothing could be written
    listed = studio.cli("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0]["failure"] == "disk_full"

    filler.unlink()
    assert reconcile(run_dir).failure == "disk_full"
    assert raw_status(run_dir)["failure"] == "disk_full"  # recorded once there is room


def test_a_real_run_fails_for_a_full_disk_and_resumes_once_space_is_freed(
    disk_for_a_real_run: Studio, tiny_model: Path
):
    """LLaMA-Factory itself on the full disk: checkpoint-20 is cut short, the run fails for the
    full disk, and resume continues from checkpoint-10 to the end."""
    studio = disk_for_a_real_run
    recipe = studio.write_recipe("tiny.yaml", tiny_recipe(tiny_model, max_steps=30))
    started = studio.cli("train", str(recipe), "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    (run_dir,) = studio.run_dirs()
    wait_for(lambda: (run_dir / "checkpoint-10" / "trainer_state.json").is_file(), timeout=240)
    shrink(studio.adapters, 2 << 20)  # room for the logs, not for a checkpoint

    final = launcher.wait_until_final(run_dir, timeout=240)

    assert final.state is RunState.FAILED and final.failure == "disk_full", final
    assert raw_status(run_dir)["failure"] == "disk_full"
    assert (run_dir / "checkpoint-20").is_dir()
    assert not (run_dir / "checkpoint-20" / "trainer_state.json").exists()
    last = fill_up(studio.adapters)
    listed = studio.cli("runs", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["state"] == "failed"
    assert studio.cli("logs", run_dir.name).returncode == 0

    resize(studio.adapters, "2g")
    last.unlink()
    resumed = studio.cli("resume", run_dir.name)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "from checkpoint-10" in resumed.stdout
    assert f"run {run_dir.name}: succeeded" in resumed.stdout
    assert (run_dir / "checkpoint-20.incomplete").is_dir()
    assert "Resuming training from" in (run_dir / "train.log").read_text()
    steps = [json.loads(line) for line in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
    assert steps[-1]["current_steps"] == 30
