"""The run folder and the run index: unique folders, atomic status, runs whose supervisor
vanished are recorded as failed, references by id prefix."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from lorastudio.errors import RunError
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.status import RunState, read_status, update_status


def make_run(adapters: Path, name: str, **status) -> Path:
    run_dir = create_run_dir(adapters, name)
    update_status(run_dir, id=run_dir.name, name=name, created_at=time.time(), **status)
    return run_dir


def test_two_runs_of_one_recipe_in_the_same_second_get_different_folders(tmp_path: Path):
    first, second = create_run_dir(tmp_path, "demo"), create_run_dir(tmp_path, "demo")
    assert first != second and first.is_dir() and second.is_dir()


def test_status_updates_are_atomic_and_leave_no_temporary_files(tmp_path: Path):
    run_dir = make_run(tmp_path, "demo", state="running")
    update_status(run_dir, step=3)
    assert read_status(run_dir).state is RunState.RUNNING and read_status(run_dir).step == 3
    assert sorted(p.name for p in run_dir.iterdir()) == ["status.json"]


def test_a_live_run_whose_supervisor_vanished_is_recorded_as_failed(tmp_path: Path):
    run_dir = make_run(
        tmp_path,
        "demo",
        state="running",
        host=socket.gethostname(),
        supervisor_pid=2**22 + 17,
        supervisor_create_time=1.0,
        pid=2**22 + 18,
    )
    status = reconcile(run_dir)
    assert status.state is RunState.FAILED
    assert "resume" in status.reason_text("en") and "检查点" in status.reason_text("zh")
    assert read_status(run_dir).state is RunState.FAILED  # recorded, not only reported


def test_a_run_being_started_is_left_alone(tmp_path: Path):
    run_dir = make_run(
        tmp_path, "demo", state="starting", starting_since=time.time(), host=socket.gethostname()
    )
    assert reconcile(run_dir).state is RunState.STARTING


def test_runs_are_found_by_id_prefix_unique_part_or_latest(tmp_path: Path):
    a = make_run(tmp_path, "alpha", state="succeeded")
    b = make_run(tmp_path, "beta", state="succeeded")
    index = RunIndex(tmp_path)
    assert index.find(a.name) == a
    assert index.find("beta") == b
    assert index.find("latest") == b
    with pytest.raises(RunError, match="no run matches"):
        index.find("gamma")
    with pytest.raises(RunError, match="several runs"):
        index.find(a.name[:8])


def test_the_index_lists_runs_newest_first_and_forgets_deleted_folders(tmp_path: Path):
    a = make_run(tmp_path, "alpha", state="succeeded")
    b = make_run(tmp_path, "beta", state="failed", reason="boom")
    index = RunIndex(tmp_path)
    assert [i.id for i in index.sync()] == [b.name, a.name]
    assert index.sync()[0].reason == "boom"
    import shutil

    shutil.rmtree(b)
    assert [i.id for i in index.sync()] == [a.name]
