"""A damaged status.json or runs.sqlite never crashes a command, never lets a second run onto a
busy device, never lets resume train over a finished adapter and never lets Delete remove the
folder of a live trainer: a run whose status cannot be read counts as live while any of its
processes lives (found by their working folder, the run folder), and is rebuilt from its files
once none does. An empty run id matches nothing."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path

import psutil
import pytest
from conftest import LF_DATA, tiny_recipe
from fake_runs import fake_run, steps_logged, wait_for

from lorastudio.cli.main import main
from lorastudio.errors import RunError
from lorastudio.launch import launcher
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.runs.index import RunIndex, check_deletable, delete_run
from lorastudio.runs.layout import has_adapter
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.occupancy import DeviceBusyError
from lorastudio.runs.status import RunState, read_status, update_status
from lorastudio.workspace import Workspace

DAMAGE = {
    "a JSON list": "[1, 2, 3]",
    "garbage": "\x00\x17 not json at all \xff",
    "truncated": '{"id": "x", "state": "succ',
}


def cli(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    """``python launch.py ARGV`` in this process: exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        code = main(list(argv), root=tmp_path, out=out)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def adapters(tmp_path: Path):
    folder = tmp_path / "adapters"
    yield folder
    for process in psutil.process_iter(["pid", "cwd"]):
        if (process.info["cwd"] or "").startswith(str(folder)):
            with_group = os.getpgid(process.pid)
            os.killpg(with_group, signal.SIGKILL)


def finished_run(adapters: Path) -> Path:
    """A run trained to its end by the fake trainer, adapter written."""
    run_dir = fake_run(adapters, steps=6, save_steps=3, step_seconds=0.01)
    launcher.start(run_dir)
    assert launcher.wait_until_final(run_dir, timeout=60).state is RunState.SUCCEEDED
    return run_dir


def live_run(adapters: Path) -> Path:
    """A run whose fake trainer trains on (8 minutes unless stopped)."""
    run_dir = fake_run(adapters, steps=10_000, save_steps=5, step_seconds=0.05)
    launcher.start(run_dir)
    wait_for(lambda: steps_logged(run_dir) >= 2)
    return run_dir


# ------------------------------------------------------------------ commands never crash


@pytest.mark.parametrize("damage", DAMAGE)
def test_runs_and_logs_report_a_damaged_status_with_its_path(tmp_path: Path, damage: str):
    run_dir = fake_run(tmp_path / "adapters")
    (run_dir / "train.log").write_text("the trainer's own words\n")
    (run_dir / "status.json").write_text(DAMAGE[damage])

    listed = cli(tmp_path, "runs")
    as_json = cli(tmp_path, "runs", "--json")
    logs = cli(tmp_path, "logs", run_dir.name)

    assert listed[0] == 0 and run_dir.name in listed[1]
    assert f"{run_dir.name}: {run_dir / 'status.json'} is damaged" in listed[1]
    assert as_json[0] == 0 and json.loads(as_json[1])[0]["id"] == run_dir.name
    assert logs[0] == 0 and "the trainer's own words" in logs[1]
    reason = json.loads(as_json[1])[0]["reason"]
    assert str(run_dir / "status.json") in reason and "damaged" in reason


def test_a_damaged_status_is_said_in_both_languages_with_its_path_and_the_fix(tmp_path: Path):
    run_dir = fake_run(tmp_path / "adapters")
    (run_dir / "status.json").write_text("[]")

    status = reconcile(run_dir)

    kept = next(run_dir.glob("status.json.damaged-*"))  # the damaged file is kept, not lost
    for lang, words in (("en", "damaged"), ("zh", "损坏")):
        text = status.reason_text(lang)
        assert words in text and str(run_dir / "status.json") in text and kept.name in text
    assert read_status(run_dir).damaged is None  # rewritten from the run's files


# ------------------------------------------------------ a finished adapter is never trained over


@pytest.mark.parametrize("damage", DAMAGE)
def test_resume_never_trains_over_a_finished_adapter_when_the_status_is_damaged(
    adapters: Path, damage: str
):
    run_dir = finished_run(adapters)
    adapter = (run_dir / "adapter_model.safetensors").stat().st_mtime_ns
    (run_dir / "status.json").write_text(DAMAGE[damage])

    with pytest.raises(RunError, match="already finished"):
        launcher.resume(run_dir)

    assert (run_dir / "adapter_model.safetensors").stat().st_mtime_ns == adapter
    assert steps_logged(run_dir) == 6


def test_resume_with_a_truncated_status_is_refused_on_a_busy_device(adapters: Path):
    stopped = fake_run(adapters, name="stopped", steps=100, save_steps=2)
    (stopped / "checkpoint-2").mkdir()
    (stopped / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    (stopped / "status.json").write_text(DAMAGE["truncated"])
    busy = live_run(adapters)

    with pytest.raises(DeviceBusyError, match=busy.name):
        launcher.resume(stopped)
    assert not (stopped / "trainer_log.jsonl").exists()


# -------------------------------------------------------- a live trainer behind a damaged status


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_live_run_with_a_damaged_status_counts_as_live(adapters: Path, damage: str):
    run_dir = live_run(adapters)
    (run_dir / "status.json").write_text(DAMAGE[damage])

    status = reconcile(run_dir)

    assert status.state is RunState.RUNNING and status.live
    assert "damaged" in status.reason_text("en") and f"stop {run_dir.name}" in status.reason_text(
        "en"
    )
    with pytest.raises(RunError, match="still running"):
        launcher.resume(run_dir)


def test_train_refuses_a_second_cpu_run_beside_a_live_run_with_a_damaged_status(adapters: Path):
    run_dir = live_run(adapters)
    (run_dir / "status.json").write_text(DAMAGE["garbage"])
    workspace = Workspace(adapters.parent, LF_DATA, adapters)
    recipe = parse_recipe_text(tiny_recipe(adapters.parent, name="second"))

    with pytest.raises(DeviceBusyError, match=run_dir.name):
        launcher.create_run(recipe, workspace, queue=False)
    queued = launcher.create_run(recipe, workspace)  # with the queue: it waits its turn
    assert read_status(queued).state is RunState.QUEUED


def test_stop_finds_and_stops_a_live_run_with_a_damaged_status(adapters: Path):
    run_dir = live_run(adapters)
    (run_dir / "status.json").write_text(DAMAGE["a JSON list"])

    stopped = launcher.stop(run_dir, timeout=60)

    assert stopped.state is RunState.STOPPED, stopped
    assert has_adapter(run_dir) and steps_logged(run_dir) < 10_000
    assert reconcile(run_dir).state is RunState.STOPPED


def test_delete_refuses_the_folder_of_a_live_trainer_whose_status_is_damaged(adapters: Path):
    run_dir = live_run(adapters)
    (run_dir / "status.json").write_text(DAMAGE["truncated"])

    with pytest.raises(RunError, match="stop it before deleting it"):
        check_deletable(run_dir)
    with pytest.raises(RunError):
        delete_run(run_dir)
    assert run_dir.is_dir() and steps_logged(run_dir) >= 2


def test_the_studios_delete_refuses_a_live_trainer_whose_status_is_damaged(adapters: Path):
    from lorastudio.machine.hardware import Hardware
    from ui.config import StudioConfig
    from ui.runs_tab import RunsActions

    run_dir = live_run(adapters)
    (run_dir / "status.json").write_text(DAMAGE["garbage"])
    workspace = Workspace(adapters.parent, LF_DATA, adapters)
    config = StudioConfig(workspace, (), Hardware(cuda=(), npu=(), cpu_count=2), "en", adapters)
    actions = RunsActions(tab=None, config=config, editor=None, tabs=None)  # type: ignore[arg-type]

    with pytest.raises(RunError):
        actions.ask_delete("en", run_dir.name)
    with pytest.raises(RunError):
        actions.delete("en", run_dir.name)
    assert run_dir.is_dir()


# ------------------------------------------------------------------------------ runs.sqlite


@pytest.mark.parametrize("damage", ["random bytes", "a folder"])
def test_a_damaged_index_is_set_aside_and_rebuilt(tmp_path: Path, damage: str):
    adapters = tmp_path / "adapters"
    run_dir = fake_run(adapters)
    update_status(run_dir, state=RunState.STOPPED)
    index = adapters / "runs.sqlite"
    if damage == "a folder":
        index.mkdir()
    else:
        index.write_bytes(os.urandom(8192))

    code, out, err = cli(tmp_path, "runs", "--json")

    assert code == 0, err
    assert [row["id"] for row in json.loads(out)] == [run_dir.name]
    assert index.is_file() and len(list(adapters.glob("runs.sqlite.broken-*"))) == 1
    assert [info.id for info in RunIndex(adapters).sync()] == [run_dir.name]


def test_a_damaged_index_that_looks_like_sqlite_is_rebuilt_too(tmp_path: Path):
    adapters = tmp_path / "adapters"
    run_dir = fake_run(adapters)
    update_status(run_dir, state=RunState.STOPPED)
    RunIndex(adapters).sync()
    index = adapters / "runs.sqlite"
    data = bytearray(index.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # the header kept, every page scrambled
    index.write_bytes(bytes(data))

    assert [info.id for info in RunIndex(adapters).sync()] == [run_dir.name]


# ------------------------------------------------------------------------------ an empty run id


@pytest.mark.parametrize("command", ["logs", "stop", "resume"])
@pytest.mark.parametrize("ref", ["", "  "])
def test_an_empty_run_id_is_refused_not_matched_to_the_only_run(
    tmp_path: Path, command: str, ref: str
):
    run_dir = fake_run(tmp_path / "adapters")
    update_status(run_dir, state=RunState.STOPPED)

    code, _, err = cli(tmp_path, command, ref)

    assert code == 2 and "no run id" in err and "Traceback" not in err
    assert read_status(run_dir).state is RunState.STOPPED
