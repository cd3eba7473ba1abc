"""An out-of-memory in a run's first steps tries the speed plan's safer settings once (recorded
in the status and the log), instead of failing the run; a second one, or one without a safer
plan, fails as before. The real launcher and supervisor, with the fake trainer standing in for a
card that holds only so big a micro-batch (tests/fake_trainer.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fake_runs import fake_run, wait_for

from lorastudio.launch import launcher
from lorastudio.runs.status import RunState, read_status

SAFER = {
    "disable_gradient_checkpointing": False,
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 4,
}


def planned_run(adapters: Path, fallback: dict | None) -> Path:
    """A fake run compiled as the speed plan would: micro-batch 8 × 2, checkpointing off."""
    run_dir = fake_run(adapters, steps=3, save_steps=10, step_seconds=0.05)
    config = {
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 2,
        "disable_gradient_checkpointing": True,
    }
    (run_dir / "llamafactory.yaml").write_text(yaml.safe_dump(config))
    launch = json.loads((run_dir / "launch.json").read_text())
    if fallback is not None:
        launch["fallback"] = fallback
    (run_dir / "launch.json").write_text(json.dumps(launch))
    return run_dir


def finished(run_dir: Path):
    return wait_for(lambda: read_status(run_dir).final and read_status(run_dir), timeout=60)


@pytest.fixture
def small_card(monkeypatch):
    monkeypatch.setenv("FAKE_TRAINER_OOM_ABOVE_BATCH", "4")


def test_an_early_out_of_memory_starts_once_more_with_the_safer_plan(tmp_path, small_card):
    run_dir = planned_run(tmp_path / "adapters", SAFER)
    launcher.start(run_dir)
    status = finished(run_dir)
    assert status.state is RunState.SUCCEEDED
    config = yaml.safe_load((run_dir / "llamafactory.yaml").read_text())
    assert config["per_device_train_batch_size"] == 4
    assert config["gradient_accumulation_steps"] == 4
    assert config["disable_gradient_checkpointing"] is False
    said = status.fell_back.text("en")
    assert "out of memory at step 0" in said and "per_device_train_batch_size: 8 → 4" in said
    assert "显存不足" in status.fell_back.text("zh")
    log = (run_dir / "train.log").read_text()
    assert "CUDA out of memory" in log and "LoRA Studio: out of memory at step 0" in log
    assert (run_dir / "adapter_model.safetensors").is_file()


def test_when_the_safer_plan_runs_out_of_memory_too_the_run_fails_as_out_of_memory(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FAKE_TRAINER_OOM_ABOVE_BATCH", "2")
    run_dir = planned_run(tmp_path / "adapters", SAFER)
    launcher.start(run_dir)
    status = finished(run_dir)
    assert status.state is RunState.FAILED and status.failure == "out_of_memory"
    assert status.fell_back is not None  # tried once, and only once
    log = (run_dir / "train.log").read_text()
    assert log.count("CUDA out of memory") == 2


def test_a_run_without_a_safer_plan_fails_at_the_first_out_of_memory(tmp_path, small_card):
    run_dir = planned_run(tmp_path / "adapters", None)
    launcher.start(run_dir)
    status = finished(run_dir)
    assert status.state is RunState.FAILED and status.failure == "out_of_memory"
    assert status.fell_back is None
    assert (
        yaml.safe_load((run_dir / "llamafactory.yaml").read_text())["per_device_train_batch_size"]
        == 8
    )
