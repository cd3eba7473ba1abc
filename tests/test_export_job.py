"""Export as a job, with the real job starter and supervisor and a fake exporter
(tests/fake_exporter.py writes what `llamafactory-cli export` writes, in seconds): it runs apart
from whoever started it, ends in a recorded state, puts a whole merge in place of merged/ and
nothing else — not when it fails, not when it is stopped, not when its supervisor is killed.
The real LLaMA-Factory export is in test_export.py."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psutil
import pytest
from conftest import compiled_run
from fake_runs import group_members, living, wait_for

from lorastudio.chat.export_job import start_export, stop_export, wait_for_export
from lorastudio.chat.export_supervisor import supervise
from lorastudio.errors import ChatError, RunError
from lorastudio.runs.export_status import (
    ExportState,
    read_export,
    reconcile_export,
    update_export,
    write_export,
)
from lorastudio.runs.index import check_deletable

FAKE_EXPORTER = Path(__file__).resolve().with_name("fake_exporter.py")


def fake(seconds: float, code: int = 0) -> tuple[str, ...]:
    return ("python", str(FAKE_EXPORTER), str(seconds), str(code))


@pytest.fixture
def run_dir(tmp_path: Path):
    """A run folder with a whole adapter (nothing trained); whatever export a failing test
    left running is killed at the end."""
    folder = compiled_run(tmp_path, device="cpu")
    yield folder
    pgid = read_export(folder).pgid
    if pgid and group_members(pgid):
        os.killpg(pgid, signal.SIGKILL)


def partials(run_dir: Path) -> list[str]:
    return [p.name for p in run_dir.glob(".merged.*")]


def writing(run_dir: Path) -> bool:
    """Whether the exporter has begun writing its partial merge."""
    return any((p / "config.json").exists() for p in run_dir.glob(".merged.partial-*"))


def test_an_export_puts_the_whole_merge_in_place_and_records_it(run_dir: Path):
    started = start_export(run_dir, argv=fake(0.2))
    assert started.supervisor_pid and started.supervisor_pid != os.getpid()
    assert started.supervisor_pid not in [c.pid for c in psutil.Process().children()]

    final = wait_for_export(run_dir, timeout=60)

    assert final.state is ExportState.SUCCEEDED and final.exit_code == 0, final
    assert final.files == ["config.json", "model.safetensors", "tokenizer.json"]
    assert (run_dir / "merged" / "model.safetensors").read_bytes() == b"weights"
    assert partials(run_dir) == []
    assert f"export_dir: {run_dir / 'merged'}" in (run_dir / "export.yaml").read_text()
    assert "Merged 1 adapter(s)." in (run_dir / "export.log").read_text()
    assert group_members(final.pgid) == []


def test_a_failed_export_leaves_the_earlier_merge_and_says_why(run_dir: Path):
    (run_dir / "merged").mkdir()
    (run_dir / "merged" / "model.safetensors").write_bytes(b"earlier")
    start_export(run_dir, argv=fake(0.1, code=3))

    final = wait_for_export(run_dir, timeout=60)

    assert final.state is ExportState.FAILED and final.exit_code == 3
    assert "ValueError: the fake exporter was told to fail" in final.reason.text("en")
    assert "merged/ 中没有写入任何内容" in final.reason.text("zh")
    assert (run_dir / "merged" / "model.safetensors").read_bytes() == b"earlier"
    assert partials(run_dir) == []


def test_a_stopped_export_leaves_no_merged_folder_and_no_process(run_dir: Path):
    started = start_export(run_dir, argv=fake(600))
    wait_for(lambda: writing(run_dir))
    assert check_deletable_refuses(run_dir)

    stopped = stop_export(run_dir, timeout=60)

    assert stopped.state is ExportState.STOPPED, stopped
    assert stopped.reason.text("en") == "stopped by request; nothing was written to merged/"
    assert not (run_dir / "merged").exists() and partials(run_dir) == []
    assert group_members(started.pgid) == [] and living([started.supervisor_pid]) == []


def check_deletable_refuses(run_dir: Path) -> bool:
    with pytest.raises(RunError, match="export"):
        check_deletable(run_dir)
    return True


def test_a_second_export_while_one_runs_is_refused_with_how_to_follow_or_stop(run_dir: Path):
    start_export(run_dir, argv=fake(600))
    with pytest.raises(RunError) as refused:
        start_export(run_dir, argv=fake(0))
    assert "is running already" in refused.value.text("en")
    assert f"python launch.py export {run_dir.name} --stop" in refused.value.text("en")
    assert "已经在运行中" in refused.value.text("zh")
    stop_export(run_dir, timeout=60)


def test_an_export_whose_supervisor_was_killed_is_ended_and_leaves_nothing(run_dir: Path, unreaped):
    started = start_export(run_dir, argv=fake(600))
    wait_for(lambda: writing(run_dir))
    os.kill(started.supervisor_pid, signal.SIGKILL)
    wait_for(lambda: not living([started.supervisor_pid]))  # a zombie nobody reaps

    found = reconcile_export(run_dir)

    assert found.state is ExportState.FAILED
    assert "supervisor process disappeared" in found.reason.text("en")
    assert "监督进程" in found.reason.text("zh")
    assert json.loads((run_dir / "export.json").read_text())["state"] == "failed"  # recorded
    wait_for(lambda: group_members(started.pgid) == [])
    assert not (run_dir / "merged").exists() and partials(run_dir) == []


def test_a_stop_before_the_supervisor_has_started_wins(run_dir: Path):
    write_export(run_dir, state=ExportState.STARTING, starting_since=0.0, argv=list(fake(600)))
    update_export(run_dir, partial=".merged.partial-1", host=os.uname().nodename)

    stopped = stop_export(run_dir, timeout=60)
    assert supervise(run_dir) == 0  # the supervisor, come late, starts nothing

    assert stopped.state is ExportState.STOPPED
    assert read_export(run_dir).state is ExportState.STOPPED and read_export(run_dir).pid is None


def test_stopping_an_export_that_is_not_running_says_what_it_was(run_dir: Path):
    with pytest.raises(RunError) as refused:
        stop_export(run_dir)
    assert f"no export of run {run_dir.name} is running (its last export: not exported)" in (
        refused.value.text("en")
    )


def test_a_run_still_training_is_not_exported(run_dir: Path):
    status = json.loads((run_dir / "status.json").read_text())
    live = {"state": "running", "host": os.uname().nodename, "supervisor_pid": os.getpid()}
    (run_dir / "status.json").write_text(json.dumps(status | live))
    with pytest.raises(ChatError, match="still training"):
        start_export(run_dir, argv=fake(0))
    assert read_export(run_dir).state is ExportState.NONE
