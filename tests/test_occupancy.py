"""Two runs share a machine only on different devices: a start on a device that a live run holds
waits in the queue (tests/test_queue.py), or, without the queue, is refused with a message naming
that run (the CLI and the studio both start through here)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import LF_DATA, Studio, tiny_recipe

from lorastudio.checks.preflight import run_preflight
from lorastudio.launch import launcher
from lorastudio.machine.hardware import Accelerator, Hardware
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.occupancy import Claim, DeviceBusyError, claim_for, holder_of
from lorastudio.runs.status import RunState, read_status, update_status
from lorastudio.workspace import Workspace


def live_run(adapters: Path, name: str, device: str, devices: list[int] | None = None) -> Path:
    """A run folder that looks live: its 'supervisor' is this very test process."""
    run_dir = create_run_dir(adapters, name)
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump({"hardware": {"devices": devices}}))
    me = psutil.Process()
    update_status(
        run_dir,
        id=run_dir.name,
        name=name,
        state="running",
        created_at=time.time(),
        device=device,
        host=socket.gethostname(),
        supervisor_pid=me.pid,
        supervisor_create_time=me.create_time(),
    )
    return run_dir


def two_gpus() -> Hardware:
    cards = tuple(Accelerator("cuda", i, "Test GPU", 81559, 0) for i in range(2))
    return Hardware(cuda=cards, npu=(), cpu_count=2)


def recipe(tmp_path: Path, device: str, devices: list[int] | None = None):
    text = tiny_recipe(tmp_path, name="second").replace("device: cpu", f"device: {device}")
    if devices is not None:
        text += f"  devices: {devices}\n"
    return parse_recipe_text(text)


def test_the_cpu_counts_as_one_device_and_cards_overlap_by_id():
    assert claim_for("cpu", [0, 1]).overlaps(Claim("cpu"))
    assert claim_for("cuda", [0]).overlaps(claim_for("cuda", None))
    assert not claim_for("cuda", [0]).overlaps(claim_for("cuda", [1]))
    assert not claim_for("cuda", None).overlaps(claim_for("npu", None))
    assert not claim_for("cpu", None).overlaps(claim_for("cuda", [0]))


def test_a_second_cpu_run_is_refused_naming_the_live_run(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    busy = live_run(workspace.adapters_dir, "first", "cpu")
    with pytest.raises(DeviceBusyError) as caught:
        launcher.create_run(recipe(tmp_path, "cpu"), workspace, queue=False)
    assert busy.name in str(caught.value) and caught.value.holder == busy.name
    assert [p.name for p in workspace.adapters_dir.iterdir() if p.is_dir()] == [busy.name]


def test_a_run_on_other_cards_may_start_beside_a_live_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The two GPUs are described, not real: pre-flight's version probe is told CUDA works.
    cuda_ok = {"torch": "2.6.0+cu124", "torch_cuda": "12.4", "cuda_available": True}
    monkeypatch.setattr(
        launcher,
        "preflight",
        lambda recipe, ws, target, registry, hardware=None: run_preflight(
            recipe, ws, target, hardware, registry, probe=lambda: cuda_ok
        ),
    )
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    live_run(workspace.adapters_dir, "first", "cuda", [0])
    run_dir = launcher.create_run(recipe(tmp_path, "cuda", [1]), workspace, two_gpus())
    assert run_dir.is_dir()
    with pytest.raises(DeviceBusyError, match="cuda 0"):
        launcher.create_run(recipe(tmp_path, "cuda", [0, 1]), workspace, two_gpus(), queue=False)
    queued = launcher.create_run(recipe(tmp_path, "cuda", [0, 1]), workspace, two_gpus())
    assert read_status(queued).state is RunState.QUEUED


def test_a_finished_run_holds_nothing(tmp_path: Path):
    adapters = tmp_path / "adapters"
    done = live_run(adapters, "first", "cpu")
    update_status(done, state="succeeded")
    assert holder_of(adapters, Claim("cpu")) is None


def test_the_cli_refuses_to_train_on_a_busy_device_without_the_queue(
    studio: Studio, tiny_model: Path
):
    busy = live_run(studio.adapters, "first", "cpu")
    path = studio.write_recipe("t.yaml", tiny_recipe(tiny_model))
    result = studio.cli("train", str(path), "--no-queue")
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"in use by run {busy.name}" in result.stderr and "Traceback" not in result.stderr
    assert studio.run_dirs() == [busy]


def test_resume_is_refused_while_another_run_holds_the_device(tmp_path: Path):
    adapters = tmp_path / "adapters"
    stopped = live_run(adapters, "stopped", "cpu")
    update_status(stopped, state="stopped")
    (stopped / "checkpoint-10").mkdir()
    busy = live_run(adapters, "busy", "cpu")
    with pytest.raises(DeviceBusyError, match=busy.name):
        launcher.resume(stopped)
    assert yaml.safe_load((stopped / "status.json").read_text())["state"] == "stopped"
