"""Run folders whose launch.json runs tests/fake_trainer.py instead of LLaMA-Factory, started by
the real launcher and supervisor, for the fault tests; and the small waits they need."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import psutil
import yaml

from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.occupancy import launch_lock
from lorastudio.runs.queue import keep_environment, queue_fields
from lorastudio.runs.status import RunState, update_status

FAKE_TRAINER = Path(__file__).resolve().with_name("fake_trainer.py")


def fake_run(
    adapters: Path,
    name: str = "fake",
    steps: int = 20,
    save_steps: int = 5,
    step_seconds: float = 0.1,
    checkpoint_bytes: int = 1024,
    device: str = "cpu",
) -> Path:
    """A run folder laid out as `launcher.create_run` lays one out (state starting), whose
    command is the fake trainer."""
    run_dir = create_run_dir(adapters, name)
    recipe = {"name": name, "hardware": {"device": device}, "train": {"save_steps": save_steps}}
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    argv = ["python", str(FAKE_TRAINER), str(steps), str(save_steps), str(step_seconds)]
    launch = {"argv": [*argv, str(checkpoint_bytes)], "env": {}, "cwd": str(run_dir)}
    (run_dir / "launch.json").write_text(json.dumps(launch))
    now = time.time()
    update_status(
        run_dir,
        id=run_dir.name,
        name=name,
        state=RunState.STARTING,
        starting_since=now,
        created_at=now,
        device=device,
        attempt=1,
    )
    return run_dir


def queued_fake_run(adapters: Path, name: str = "queued", **options) -> Path:
    """A fake run laid out as `launcher.create_run` lays out one whose devices are busy: whole,
    with state queued and its place at the end of the queue."""
    with launch_lock(adapters):
        fields = queue_fields(adapters, time.time())
        run_dir = fake_run(adapters, name, **options)
        keep_environment(run_dir)
        update_status(run_dir, starting_since=None, **fields)
    return run_dir


def wait_for(predicate, timeout: float = 60, interval: float = 0.05):
    """The first true value of ``predicate()``; fails the test after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def steps_logged(run_dir: Path) -> int:
    path = run_dir / "trainer_log.jsonl"
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1])["current_steps"] if lines else 0


def raw_status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def living(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are running processes (zombies are not)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def group_members(pgid: int) -> list[int]:
    """The running (not zombie) processes of process group ``pgid``."""
    members = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def trainers_of(run_dir: Path) -> list[int]:
    """The fake trainers working in ``run_dir``."""
    found = []
    for process in psutil.process_iter(["pid", "cwd", "cmdline", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE or info["cwd"] != str(run_dir):
            continue
        if any("fake_trainer.py" in part for part in info["cmdline"] or []):
            found.append(info["pid"])
    return found
