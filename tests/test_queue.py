"""The queue: a run whose devices are busy waits, whole, in its folder (state queued), and starts
by itself, first come first served on each device, when they are free; a finishing supervisor
hands over, and any kicker (the CLI, the studio's poll) starts what is due, never twice. The
rules are tested on plain values; the starts with the real launcher and supervisor and the fake
trainer (tests/fake_trainer.py), in seconds. Real training through the queue: test_queue_e2e."""

from __future__ import annotations

import itertools
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import LF_DATA, Studio, tiny_recipe
from fake_runs import (
    fake_run,
    living,
    queued_fake_run,
    raw_status,
    steps_logged,
    wait_for,
)
from test_occupancy import live_run, recipe

from lorastudio import processes
from lorastudio.cli.exit_codes import ExitCode, for_state
from lorastudio.errors import RunError
from lorastudio.launch import launcher
from lorastudio.messages import msg
from lorastudio.runs import queue as run_queue
from lorastudio.runs.layout import ATTEMPT_MARK
from lorastudio.runs.occupancy import Claim, DeviceBusyError, claim_for
from lorastudio.runs.queue import Waiting, ahead_of, due, order_before, ordinal, position
from lorastudio.runs.status import RunState, read_status, update_status
from lorastudio.workspace import Workspace

CPU, GPU0, GPU1, GPUS = Claim("cpu"), claim_for("cuda", [0]), claim_for("cuda", [1]), Claim("cuda")


def waiting(*entries: tuple[str, Claim, float]) -> list[Waiting]:
    return [Waiting(Path(f"/a/{name}"), claim, order) for name, claim, order in entries]


def names(entries: list[Waiting]) -> list[str]:
    return [e.run_dir.name for e in entries]


# ---------------------------------------------------------------- the rules, on plain values


def test_the_first_queued_run_starts_when_its_device_is_free_and_only_it():
    queue = waiting(("b", CPU, 2.0), ("a", CPU, 1.0), ("c", CPU, 3.0))
    assert names(due(queue, held=[CPU])) == []
    assert names(due(queue, held=[])) == ["a"]
    assert names(due(queue, held=[GPU0])) == ["a"]  # a card is another device


def test_each_device_has_its_own_line():
    queue = waiting(("a", GPU0, 1.0), ("b", GPU1, 2.0), ("c", CPU, 3.0), ("d", GPU0, 4.0))
    assert names(due(queue, held=[GPU0])) == ["b", "c"]
    assert names(due(queue, held=[])) == ["a", "b", "c"]


def test_a_run_never_overtakes_an_earlier_one_waiting_for_its_devices():
    # "all" waits for card 0; card 1 is free, but the run for card 1 came later: it waits too
    queue = waiting(("all", GPUS, 1.0), ("one", GPU1, 2.0))
    assert names(due(queue, held=[GPU0])) == []
    assert names(due(queue, held=[])) == ["all"]


def test_a_place_in_line_counts_the_runs_ahead_that_want_the_same_devices():
    queue = waiting(("a", GPU0, 1.0), ("b", GPU1, 2.0), ("c", GPUS, 3.0), ("d", CPU, 4.0))
    assert [position(queue, Path(f"/a/{n}")) for n in "abcd"] == [1, 1, 3, 1]
    assert names(ahead_of(queue, Path("/a/c"))) == ["a", "b"]


def test_equal_places_go_to_the_older_run():
    queue = waiting(("20260101-000002-b", CPU, 5.0), ("20260101-000001-a", CPU, 5.0))
    assert names(due(queue, held=[])) == ["20260101-000001-a"]


def test_moving_up_takes_a_place_just_before_the_run_ahead_and_moves_nothing_else():
    queue = waiting(("a", GPUS, 1.0), ("b", GPU1, 2.0), ("c", GPU0, 3.0))
    ahead = ahead_of(queue, Path("/a/c"))[-1]
    assert ahead.run_dir.name == "a"
    order = order_before(queue, ahead)
    assert order is not None and order < 1.0
    moved = waiting(("a", GPUS, 1.0), ("b", GPU1, 2.0), ("c", GPU0, order))
    assert [position(moved, Path(f"/a/{n}")) for n in "abc"] == [2, 2, 1]


def test_no_place_between_two_equal_floats_asks_for_a_renumbering():
    queue = waiting(("a", CPU, 1.0), ("b", CPU, 1.0 + 2.0**-52))
    assert order_before(queue, queue[1]) is None


@pytest.mark.parametrize(
    ("n", "english"),
    [
        *[(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th")],
        *[(13, "13th"), (21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th")],
    ],
)
def test_places_are_said_as_ordinals_in_both_languages(n: int, english: str):
    assert ordinal(n).text("en") == english
    assert ordinal(n).text("zh") == f"第 {n} 位"


def test_a_cancelled_run_exits_like_a_stopped_one_and_is_final():
    assert RunState.CANCELLED.final and not RunState.QUEUED.live and not RunState.QUEUED.final
    assert for_state(RunState.CANCELLED) is ExitCode.STOPPED


# ---------------------------------------------------------------- joining the queue


def test_a_run_on_a_busy_cpu_is_queued_whole_with_its_place(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    busy = live_run(workspace.adapters_dir, "first", "cpu")
    second = launcher.launch(recipe(tmp_path, "cpu"), workspace)
    third = launcher.launch(recipe(tmp_path, "cpu"), workspace)

    for run_dir, place in ((second, "1st"), (third, "2nd")):
        status = read_status(run_dir)
        assert status.state is RunState.QUEUED and status.supervisor_pid is None
        assert status.queued_at is not None and status.queue_order is not None
        for name in ("recipe.yaml", "llamafactory.yaml", "launch.json", "command.sh"):
            assert (run_dir / name).is_file(), name
        note = run_queue.queued_note(run_dir)
        assert note.text("en") == f"queued, {place} in line for cpu"
        assert place[0] in note.text("zh") and "排" in note.text("zh")
    assert read_status(second).queue_order < read_status(third).queue_order
    assert not (second / "train.log").exists()  # nothing ran
    assert read_status(busy).state is RunState.RUNNING


def test_without_the_queue_a_busy_device_is_refused_naming_the_run_ahead(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    busy = live_run(workspace.adapters_dir, "first", "cpu")
    with pytest.raises(DeviceBusyError, match=f"in use by run {busy.name}"):
        launcher.launch(recipe(tmp_path, "cpu"), workspace, queue=False)
    queued = launcher.launch(recipe(tmp_path, "cpu"), workspace)
    update_status(busy, state="succeeded")  # the device is free, but a queued run goes first
    with pytest.raises(DeviceBusyError, match=f"waited for by run {queued.name}"):
        launcher.create_run(recipe(tmp_path, "cpu"), workspace, queue=False)


def test_a_run_arriving_while_a_queued_run_waits_for_a_kick_does_not_overtake_it(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    busy = live_run(workspace.adapters_dir, "first", "cpu")
    queued = launcher.create_run(recipe(tmp_path, "cpu"), workspace)
    update_status(busy, state="succeeded")  # ended, and nobody has kicked the queue yet
    later = launcher.create_run(recipe(tmp_path, "cpu"), workspace)
    assert read_status(later).state is RunState.QUEUED
    assert run_queue.place_of(queued) == 1 and run_queue.place_of(later) == 2


# ---------------------------------------------------------- starting, handing over, cancelling


def test_a_finishing_run_hands_its_device_over_to_the_queue_in_order(adapters: Path):
    first = fake_run(adapters, "first", steps=6, step_seconds=0.05)
    second = queued_fake_run(adapters, "second", steps=4, step_seconds=0.05)
    third = queued_fake_run(adapters, "third", steps=4, step_seconds=0.05)
    launcher.start(first)

    # nobody kicks: each supervisor starts the next run as it ends
    for run_dir in (first, second, third):
        wait_for(lambda run_dir=run_dir: read_status(run_dir).state is RunState.SUCCEEDED)
    statuses = [read_status(d) for d in (first, second, third)]
    for earlier, later in itertools.pairwise(statuses):
        assert earlier.ended_at <= later.started_at  # one at a time on the CPU, in order
    assert "handed over to the queued run" in (first / "supervisor.log").read_text()


def test_a_kick_starts_nothing_while_the_device_is_held(adapters: Path):
    busy = live_run(adapters, "busy", "cpu")
    queued = queued_fake_run(adapters, "queued")
    assert run_queue.kick(adapters) == []
    assert read_status(queued).state is RunState.QUEUED
    update_status(busy, state="stopped")
    assert run_queue.kick(adapters) == [queued]
    wait_for(lambda: read_status(queued).state is RunState.SUCCEEDED)


def test_kickers_racing_each_other_start_a_queued_run_exactly_once(adapters: Path):
    busy = live_run(adapters, "busy", "cpu")
    first = queued_fake_run(adapters, "first", steps=30, step_seconds=0.1)
    second = queued_fake_run(adapters, "second", steps=2)
    update_status(busy, state="succeeded")
    code = "import sys; from pathlib import Path; from lorastudio.runs.queue import kick; "
    code += "print(len(kick(Path(sys.argv[1]))))"
    kickers = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(adapters)],
            env=processes.child_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    started = [int(k.communicate(timeout=120)[0].strip()) for k in kickers]

    assert sorted(started) == [0, 0, 0, 1]
    wait_for(lambda: steps_logged(first) >= 2)
    assert (first / "train.log").read_text().count(ATTEMPT_MARK) == 1
    assert read_status(second).state is RunState.QUEUED  # the CPU is the first one's
    launcher.stop(first, timeout=60)
    wait_for(lambda: read_status(second).state is RunState.SUCCEEDED)


def test_a_cancelled_queued_run_never_starts_and_the_next_one_moves_up(adapters: Path):
    busy = live_run(adapters, "busy", "cpu")
    cancelled = queued_fake_run(adapters, "cancelled")
    after = queued_fake_run(adapters, "after")
    assert run_queue.place_of(after) == 2

    status = launcher.stop(cancelled)

    assert status.state is RunState.CANCELLED and status.final
    assert status.reason == msg("reason.cancelled")
    assert "never started" in status.reason_text("en") and "取消" in status.reason_text("zh")
    assert run_queue.place_of(after) == 1 and run_queue.place_of(cancelled) is None
    with pytest.raises(RunError, match="is not running"):
        launcher.stop(cancelled)
    update_status(busy, state="succeeded")
    assert run_queue.kick(adapters) == [after]
    wait_for(lambda: read_status(after).state is RunState.SUCCEEDED)
    assert read_status(cancelled).state is RunState.CANCELLED
    assert not (cancelled / "train.log").exists()
    assert not (cancelled / ".queued-env.json").exists()  # nothing of who queued it is kept


def test_moving_a_run_up_changes_who_starts_next(adapters: Path):
    busy = live_run(adapters, "busy", "cpu")
    first = queued_fake_run(adapters, "first", steps=2)
    second = queued_fake_run(adapters, "second", steps=2)
    third = queued_fake_run(adapters, "third", steps=2)

    assert run_queue.move_up(third) == 2
    assert [run_queue.place_of(d) for d in (first, second, third)] == [1, 3, 2]
    assert run_queue.move_up(third) == 1
    with pytest.raises(RunError, match="first in line"):
        run_queue.move_up(third)
    with pytest.raises(RunError, match="is not queued"):
        run_queue.move_up(busy)

    update_status(busy, state="succeeded")
    assert run_queue.kick(adapters) == [third]
    for run_dir in (third, first, second):
        wait_for(lambda run_dir=run_dir: read_status(run_dir).state is RunState.SUCCEEDED)
    order = sorted((first, second, third), key=lambda d: read_status(d).started_at)
    assert order == [third, first, second]


def test_a_queued_run_starts_with_the_environment_of_who_queued_it(
    adapters: Path, monkeypatch: pytest.MonkeyPatch
):
    busy = live_run(adapters, "busy", "cpu")
    monkeypatch.setenv("HF_ENDPOINT", "https://mirror.example")  # the shell that queued it
    queued = queued_fake_run(adapters, "queued", steps=2)
    kept = queued / ".queued-env.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600  # it may hold tokens
    monkeypatch.delenv("HF_ENDPOINT")  # whoever kicks has another environment

    update_status(busy, state="succeeded")
    assert run_queue.kick(adapters) == [queued]
    wait_for(lambda: read_status(queued).state is RunState.SUCCEEDED)
    assert "HF_ENDPOINT=https://mirror.example\n" in (queued / "train.log").read_text()
    assert not kept.exists()  # kept only while it waited


def test_a_killed_supervisor_does_not_strand_the_queue(studio: Studio, unreaped):
    """The supervisor of the running run and its trainer are killed (kill -9): nothing hands
    over, and the next look at the runs (here `launch.py runs`) starts the queue."""
    first = fake_run(studio.adapters, "first", steps=200, step_seconds=0.1)
    queued = queued_fake_run(studio.adapters, "queued", steps=3)
    launcher.start(first)
    wait_for(lambda: steps_logged(first) >= 2)
    status = read_status(first)
    os.kill(status.supervisor_pid, signal.SIGKILL)
    os.killpg(status.pgid, signal.SIGKILL)
    wait_for(lambda: not living([status.supervisor_pid, status.pid]))
    assert read_status(queued).state is RunState.QUEUED  # nobody handed over

    listed = studio.cli("runs", "--json")

    assert listed.returncode == 0, listed.stderr
    rows = {row["id"]: row for row in json.loads(listed.stdout)}
    assert rows[first.name]["state"] == "failed"  # its supervisor vanished
    assert rows[queued.name]["state"] in ("starting", "running", "succeeded")
    wait_for(lambda: read_status(queued).state is RunState.SUCCEEDED)


def test_the_cli_lists_moves_and_cancels_queued_runs(studio: Studio, tiny_model: Path):
    busy = live_run(studio.adapters, "busy", "cpu")
    path = studio.write_recipe("t.yaml", tiny_recipe(tiny_model))
    ids = []
    for expected in ("1st", "2nd"):
        result = studio.cli("train", str(path), "--detach")
        assert result.returncode == 0, result.stderr
        *said, run_id = result.stdout.strip().splitlines()
        assert f"queued, {expected} in line for cpu" in said[0], result.stdout
        assert f"python launch.py stop {run_id}" in said[0]
        ids.append(run_id)

    listed = studio.cli("runs")
    rows = {line.split()[0]: line for line in listed.stdout.splitlines()[1:]}
    assert "queued (1st)" in rows[ids[0]] and "queued (2nd)" in rows[ids[1]]
    queue = studio.cli("--lang", "zh", "queue")
    lines = queue.stdout.splitlines()
    assert lines[0].startswith("位次") and f"{ids[0]} " in lines[1] and f"{ids[1]} " in lines[2]
    assert "第 2 位" in lines[2]

    moved = studio.cli("queue", "up", ids[1])
    assert moved.returncode == 0 and "1st in line for cpu" in moved.stdout, moved.stderr
    refused = studio.cli("queue", "up", ids[1])
    assert refused.returncode == 2 and "first in line" in refused.stderr
    assert "Traceback" not in refused.stderr

    cancelled = studio.cli("stop", ids[0])
    assert cancelled.returncode == ExitCode.STOPPED, cancelled.stdout + cancelled.stderr
    assert "cancelled" in cancelled.stdout
    runs = {row["id"]: row for row in json.loads(studio.cli("runs", "--json").stdout)}
    assert runs[ids[0]]["state"] == "cancelled" and runs[ids[0]]["queue_position"] is None
    assert runs[ids[1]]["queue_position"] == 1
    assert yaml.safe_load((studio.adapters / ids[1] / "status.json").read_text())["state"] == (
        "queued"
    )
    assert raw_status(busy)["state"] == "running"
