"""Watching a run: each poll reads only what was appended (by byte offset), the log keeps its
last lines with tqdm's redraws resolved, and a freshly opened studio finds the live run."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import psutil
import pytest

from lorastudio.errors import RunError
from lorastudio.runs.index import delete_run
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.metrics import LogPoint, LogTail
from lorastudio.runs.monitor import RunMonitor, loss_series, newer_live_run, run_to_watch
from lorastudio.runs.status import update_status


def make_run(adapters: Path, name: str, state: str) -> Path:
    run_dir = create_run_dir(adapters, name)
    me = psutil.Process()
    update_status(
        run_dir,
        state=state,
        created_at=time.time(),
        started_at=time.time() - 5,
        host=socket.gethostname(),
        supervisor_pid=me.pid,
        supervisor_create_time=me.create_time(),
    )
    return run_dir


def log_step(run_dir: Path, step: int, **fields) -> None:
    record = {"current_steps": step, "total_steps": 10, "loss": 2.0 / step} | fields
    with (run_dir / "trainer_log.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def test_a_poll_reports_only_new_points_and_the_progress(tmp_path: Path):
    run_dir = make_run(tmp_path, "demo", "running")
    monitor = RunMonitor(run_dir)
    first = monitor.poll()
    assert first.new_points == 0 and first.progress.step == 0 and first.state_changed
    log_step(run_dir, 1, throughput=123.4, elapsed_time="0:00:01", remaining_time="0:00:09")
    log_step(run_dir, 2)
    change = monitor.poll()
    assert change.new_points == 2 and not change.state_changed
    assert change.progress.step == 2 and change.progress.fraction == pytest.approx(0.2)
    assert change.progress.loss == pytest.approx(1.0) and change.progress.throughput == 123.4
    assert change.progress.since_start >= 5 and change.progress.live
    assert monitor.poll().new_points == 0


def test_the_log_tail_reads_appended_bytes_and_resolves_progress_redraws(tmp_path: Path):
    log = tmp_path / "train.log"
    log.write_bytes(b"loading\n 10%|#  \r 20%|## ")
    tail = LogTail(log, max_lines=2)
    assert tail.poll() and tail.text == "loading\n 20%|## "
    assert not tail.poll()
    with log.open("ab") as handle:
        handle.write("\r100%|####\n训练".encode()[:-2])  # a character cut in half
    assert tail.poll() and tail.text.splitlines() == ["loading", "100%|####", "训"]
    with log.open("ab") as handle:
        handle.write("训练".encode()[-2:] + b" done\nlast\n")
    tail.poll()
    assert tail.text == "训练 done\nlast"


def test_attaching_to_a_long_log_reads_only_its_end(tmp_path: Path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i}\n" for i in range(100_000)))
    tail = LogTail(log, max_lines=3, first_read=1000)
    tail.poll()
    assert tail.text == "line 99997\nline 99998\nline 99999"


def test_loss_series_has_train_and_eval_and_is_thinned_for_long_runs():
    points = [LogPoint(step=s, total_steps=5000, loss=1.0 / s) for s in range(1, 5001)]
    points.append(LogPoint(step=5000, total_steps=5000, eval_loss=0.5))
    rows = loss_series(points, max_points=1000)
    train = [r for r in rows if r[0] == "train"]
    assert 1000 <= len(train) <= 1001 and train[-1][1] == 5000
    assert [r for r in rows if r[0] == "eval"] == [("eval", 5000, 0.5)]


def test_a_fresh_studio_watches_the_newest_live_run_else_the_newest(tmp_path: Path):
    assert run_to_watch(tmp_path) is None
    live = make_run(tmp_path, "a-live", "running")
    done = make_run(tmp_path, "b-done", "succeeded")
    assert run_to_watch(tmp_path) == live
    update_status(live, state="stopped")
    assert run_to_watch(tmp_path) == done
    assert newer_live_run(tmp_path, done) is None
    later = make_run(tmp_path, "c-later", "starting")
    assert newer_live_run(tmp_path, done) == later


def test_a_run_the_queue_starts_is_followed_though_it_was_created_before_the_watched_one(
    tmp_path: Path,
):
    moved_up = make_run(tmp_path, "a-moved-up", "queued")  # created first, started last
    watched = make_run(tmp_path, "b-watched", "succeeded")
    assert newer_live_run(tmp_path, watched) is None
    update_status(moved_up, state="running", starting_since=time.time() + 1)
    assert newer_live_run(tmp_path, watched) == moved_up


def test_a_live_run_cannot_be_deleted_a_finished_one_can(tmp_path: Path):
    run_dir = make_run(tmp_path, "demo", "running")
    with pytest.raises(RunError, match="stop it before deleting"):
        delete_run(run_dir)
    assert run_dir.is_dir()
    update_status(run_dir, state="failed")
    delete_run(run_dir)
    assert not run_dir.exists()
