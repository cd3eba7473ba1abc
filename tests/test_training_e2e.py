"""End to end, for real: `python launch.py train` runs LLaMA-Factory on CPU on a tiny Qwen2 model
and lands an adapter; killing launch.py never touches the run; stop and resume keep the adapter
and the step count. No part of LLaMA-Factory is mocked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import Studio, tiny_recipe

pytestmark = pytest.mark.slow

RUN_FILES = (
    "recipe.yaml",
    "llamafactory.yaml",
    "command.sh",
    "launch.json",
    "train.log",
    "trainer_log.jsonl",
    "status.json",
    "adapter_model.safetensors",
    "adapter_config.json",
)


def wait_for(predicate, timeout: float = 240, interval: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")


def status_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def steps_logged(run_dir: Path) -> list[dict]:
    path = run_dir / "trainer_log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in steps_logged(run_dir) if "loss" in r]


def run_processes(status: dict) -> list[int]:
    """Processes still alive in the run's process group."""
    alive = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == status["pgid"] and process.status() != "zombie":
                alive.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return alive


@pytest.fixture(scope="module")
def finished(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """One foreground run, trained to the end, shared by the tests that only read it."""
    from conftest import LF_DATA

    studio = Studio(tmp_path_factory.mktemp("studio"), LF_DATA)
    recipe = studio.write_recipe("tiny.yaml", tiny_recipe(tiny_model))
    result = studio.cli("train", str(recipe), "--set", "lora.rank=16")
    (run_dir,) = studio.run_dirs()
    return studio, result, run_dir


def test_train_in_the_foreground_shows_progress_and_exits_with_the_runs_status(finished):
    _, result, run_dir = finished
    assert result.returncode == 0, result.stdout + result.stderr
    assert "30/30" in result.stdout
    assert "loss" in result.stdout and "ETA" in result.stdout
    assert f"run {run_dir.name}: succeeded" in result.stdout


def test_a_run_lands_the_adapter_with_everything_that_made_it(finished):
    _, _, run_dir = finished
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), f"{name} missing from {run_dir}"
    assert status_of(run_dir)["state"] == "succeeded"
    assert status_of(run_dir)["exit_code"] == 0
    adapter = json.loads((run_dir / "adapter_config.json").read_text())
    assert adapter["r"] == 16  # the --set override reached LLaMA-Factory
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    assert recipe["lora"]["rank"] == 16 and recipe["train"]["max_steps"] == 30
    assert "llamafactory-cli train llamafactory.yaml" in (run_dir / "command.sh").read_text()


def test_the_loss_goes_down_over_the_run(finished):
    _, _, run_dir = finished
    values = losses(run_dir)
    assert len(values) == 30
    assert sum(values[-5:]) / 5 < sum(values[:5]) / 5


def test_runs_lists_the_run_and_the_index_is_rebuilt_when_deleted(finished):
    studio, _, run_dir = finished
    first = json.loads(studio.cli("runs", "--json").stdout)
    (studio.adapters / "runs.sqlite").unlink()
    rebuilt = json.loads(studio.cli("runs", "--json").stdout)
    assert (studio.adapters / "runs.sqlite").is_file()
    for listing in (first, rebuilt):
        (row,) = listing
        assert row["id"] == run_dir.name and row["state"] == "succeeded"
        assert row["step"] == 30 and row["total_steps"] == 30
        assert row["final_loss"] == pytest.approx(losses(run_dir)[-1])
        assert row["adapter"] == str(run_dir)


def test_logs_shows_the_trainers_output(finished):
    studio, _, run_dir = finished
    result = studio.cli("logs", run_dir.name)
    assert result.returncode == 0
    assert "train metrics" in result.stdout


def test_killing_launch_py_mid_run_leaves_the_run_to_finish(studio: Studio, tiny_model: Path):
    front, run_dir = train_in_foreground(studio, tiny_model, 60, subprocess.DEVNULL)
    front.send_signal(signal.SIGKILL)
    front.wait(timeout=10)
    status = wait_for(
        lambda: status_of(run_dir)["state"] in ("succeeded", "failed") and status_of(run_dir)
    )
    assert status["state"] == "succeeded", status
    assert steps_logged(run_dir)[-1]["current_steps"] == 60
    assert (run_dir / "adapter_model.safetensors").is_file()


def test_stop_saves_the_adapter_and_ends_every_process_then_resume_continues(
    studio: Studio, tiny_model: Path
):
    recipe = studio.write_recipe("tiny.yaml", tiny_recipe(tiny_model, max_steps=120, save_steps=10))
    result = studio.cli("train", str(recipe), "--detach")
    assert result.returncode == 0, result.stderr
    (run_dir,) = studio.run_dirs()
    assert run_dir.name in result.stdout
    wait_for(lambda: len(losses(run_dir)) >= 15)

    stopped = studio.cli("stop", run_dir.name)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr  # 3: the run was stopped
    status = status_of(run_dir)
    assert status["state"] == "stopped"
    assert "adapter trained so far is saved" in status["reason"]
    assert run_processes(status) == []
    assert (
        not psutil.pid_exists(status["pid"]) or psutil.Process(status["pid"]).status() == "zombie"
    )
    assert (run_dir / "adapter_model.safetensors").is_file()
    stopped_at = steps_logged(run_dir)[-1]["current_steps"]
    assert 15 <= stopped_at < 120

    resumed = studio.cli("resume", run_dir.name)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = status_of(run_dir)
    assert status["state"] == "succeeded" and status["attempt"] == 2
    assert "Resuming training from" in (run_dir / "train.log").read_text()
    resumed_from = status["resumed_from_step"]
    assert resumed_from % 10 == 0 and resumed_from <= stopped_at
    steps = [r["current_steps"] for r in steps_logged(run_dir) if "loss" in r]
    # The resumed attempt logs every step from its checkpoint to the end: one global count.
    assert steps[-(120 - resumed_from) :] == list(range(resumed_from + 1, 121))
    assert sorted(set(steps)) == list(range(1, 121))
    listed = json.loads(studio.cli("runs", "--json").stdout)[0]
    assert listed["step"] == 120 and listed["state"] == "succeeded"


def test_a_failed_run_says_why_in_plain_words(studio: Studio, tiny_model: Path):
    text = tiny_recipe(tiny_model, max_steps=5).replace(
        "  alpha: 16", "  alpha: 16\n  target: [nosuch_proj]"
    )
    recipe = studio.write_recipe("bad-target.yaml", text)
    result = studio.cli("train", str(recipe))
    assert result.returncode == 1
    (run_dir,) = studio.run_dirs()
    status = status_of(run_dir)
    assert status["state"] == "failed"
    assert status["failure"] == "bad_target"
    assert "lora.target" in status["reason"]
    assert "lora.target" in result.stdout


def test_a_base_model_that_cannot_be_fetched_fails_with_a_plain_message(
    studio: Studio, tiny_model: Path
):
    """A hub id with no network (HF_HUB_OFFLINE=1 and an empty cache): LLaMA-Factory's own
    error, read from the log, becomes the sentence about model.id."""
    studio.env["HF_HOME"] = str(studio.home / "empty-hf-cache")
    text = tiny_recipe(tiny_model, max_steps=3).replace(
        str(tiny_model), "Qwen/Qwen2.5-0.5B-Instruct"
    )
    result = studio.cli("train", str(studio.write_recipe("hub.yaml", text)))
    assert result.returncode == 1, result.stdout + result.stderr
    (run_dir,) = studio.run_dirs()
    status = status_of(run_dir)
    assert status["state"] == "failed" and status["failure"] == "model_not_found", status
    assert "check model.id" in result.stdout
    assert (run_dir / "train.log").stat().st_size > 0  # the trainer's own words are kept


def train_in_foreground(studio: Studio, tiny_model: Path, steps: int, stdin) -> tuple:
    """`launch.py train` as a user runs it, returned once the run has logged a few steps."""
    recipe = studio.write_recipe("tiny.yaml", tiny_recipe(tiny_model, max_steps=steps))
    front = subprocess.Popen(
        studio.argv("train", str(recipe)),
        env=studio.env,
        cwd=studio.home,
        text=True,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    run_dir = wait_for(lambda: (studio.run_dirs() or [None])[0])
    wait_for(lambda: len(losses(run_dir)) >= 3)
    return front, run_dir


def test_ctrl_c_asks_and_answering_s_stops_the_run(studio: Studio, tiny_model: Path):
    front, run_dir = train_in_foreground(studio, tiny_model, 400, subprocess.PIPE)
    front.send_signal(signal.SIGINT)
    output, _ = front.communicate("s\n", timeout=300)
    assert "Stop the run (s) or detach" in output
    assert front.returncode == 3, output
    assert status_of(run_dir)["state"] == "stopped"
    assert (run_dir / "adapter_model.safetensors").is_file()


def test_ctrl_c_without_an_answer_detaches_and_the_run_goes_on(studio: Studio, tiny_model: Path):
    front, run_dir = train_in_foreground(studio, tiny_model, 40, subprocess.DEVNULL)
    front.send_signal(signal.SIGINT)
    output, _ = front.communicate(timeout=60)
    assert front.returncode == 0 and "detached; the run goes on" in output
    assert status_of(run_dir)["state"] in ("running", "stopping", "succeeded")
    final = wait_for(lambda: status_of(run_dir)["state"] != "running" and status_of(run_dir))
    assert final["state"] == "succeeded"


def detached_run(studio: Studio, tiny_model: Path, steps: int) -> Path:
    """A run started with `train --detach`, returned once it has logged a few steps."""
    recipe = studio.write_recipe("tiny.yaml", tiny_recipe(tiny_model, max_steps=steps))
    result = studio.cli("train", str(recipe), "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = studio.run_dirs()
    wait_for(lambda: len(losses(run_dir)) >= 3)
    return run_dir


def kill_supervisor(run_dir: Path) -> None:
    """kill -9 the run's supervisor and wait until it is dead (a zombie, never reaped)."""
    pid = status_of(run_dir)["supervisor_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie")


def test_a_run_whose_supervisor_was_killed_mid_run_ends_succeeded(
    studio: Studio, tiny_model: Path, unreaped
):
    run_dir = detached_run(studio, tiny_model, 60)
    kill_supervisor(run_dir)

    followed = studio.cli("logs", run_dir.name, "--follow")

    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert f"run {run_dir.name}: succeeded" in followed.stdout
    assert steps_logged(run_dir)[-1]["current_steps"] == 60
    assert status_of(run_dir)["state"] == "succeeded"


def test_stop_reaches_the_trainer_of_a_run_whose_supervisor_was_killed(
    studio: Studio, tiny_model: Path, unreaped
):
    run_dir = detached_run(studio, tiny_model, 400)
    kill_supervisor(run_dir)

    stopped = studio.cli("stop", run_dir.name)

    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    status = status_of(run_dir)
    assert status["state"] == "stopped" and run_processes(status) == []
    assert "adapter trained so far is saved" in status["reason"]
    assert (run_dir / "adapter_model.safetensors").is_file()
    assert steps_logged(run_dir)[-1]["current_steps"] < 400
