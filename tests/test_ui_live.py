"""The live view's tick: it attaches to the run a fresh page should show, sends the whole curve
once, then only what changed — nothing at all when the trainer wrote nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import gradio as gr
import psutil
from conftest import LF_DATA

from lorastudio.machine.hardware import Hardware
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.status import update_status
from lorastudio.workspace import Workspace
from ui import live
from ui.config import StudioConfig
from ui.labels import Labels


def live_run(adapters: Path) -> Path:
    run_dir = create_run_dir(adapters, "demo")
    me = psutil.Process()
    update_status(
        run_dir,
        state="running",
        created_at=time.time(),
        started_at=time.time(),
        host=socket.gethostname(),
        supervisor_pid=me.pid,
        supervisor_create_time=me.create_time(),
    )
    return run_dir


def log_step(run_dir: Path, step: int) -> None:
    line = {"current_steps": step, "total_steps": 4, "loss": 1.0 / step, "throughput": 99.0}
    with (run_dir / "trainer_log.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def panel_and_config(tmp_path: Path) -> tuple[live.LivePanel, StudioConfig]:
    config = StudioConfig(
        Workspace(tmp_path, LF_DATA, tmp_path / "adapters"),
        (),
        Hardware((), (), 2),
        "en",
        tmp_path / "downloads",
    )
    with gr.Blocks():
        panel = live.build(config, Labels("en"))
    return panel, config


def test_a_fresh_view_attaches_sends_the_whole_curve_then_only_what_changed(tmp_path: Path):
    panel, config = panel_and_config(tmp_path)
    watch = live.Watch()
    assert live.tick(panel, config, "en", watch) == {panel.header: "No run yet: start one above."}
    assert live.tick(panel, config, "en", watch) == {}

    run_dir = live_run(config.workspace.adapters_dir)
    log_step(run_dir, 1)
    log_step(run_dir, 2)
    (run_dir / "train.log").write_text("loading\n")
    first = live.tick(panel, config, "en", watch)  # attaches: everything is sent
    assert set(first) == set(live.outputs(panel))
    assert 'data-step="2"' in first[panel.progress] and run_dir.name in first[panel.header]
    assert first[panel.plot]["value"]["step"].tolist() == [1, 2]
    assert "color_map" in first[panel.plot]  # the chart is (re)drawn with its curves

    assert live.tick(panel, config, "en", watch) == {}  # nothing new, nothing sent

    log_step(run_dir, 3)
    changed = live.tick(panel, config, "en", watch)
    assert set(changed) == {panel.progress, panel.stats, panel.plot}
    assert changed[panel.plot]["value"]["step"].tolist() == [1, 2, 3]
    assert "color_map" not in changed[panel.plot]  # same curves: data swapped in place
    assert "3 points" in changed[panel.stats] and "99 tokens/s" in changed[panel.stats]

    with (run_dir / "train.log").open("a") as handle:
        handle.write("step 3 done\n")
    update_status(run_dir, state="succeeded", ended_at=time.time())
    ended = live.tick(panel, config, "en", watch)
    assert ended[panel.log] == "loading\nstep 3 done"
    assert "succeeded" in ended[panel.header] and ended[panel.stop]["interactive"] is False


def test_switching_the_language_re_renders_the_view(tmp_path: Path):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    log_step(run_dir, 1)
    watch = live.Watch()
    live.tick(panel, config, "en", watch)
    chinese = live.tick(panel, config, "zh", watch)
    assert "第 1/4 步" in chinese[panel.progress] and "运行中" in chinese[panel.header]
    assert chinese[panel.plot]["value"]["curve"].tolist() == ["训练"]


def test_a_failing_refresh_is_one_sentence_on_the_notice_line_until_it_recovers(
    tmp_path: Path, monkeypatch
):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    watch = live.Watch()
    live.tick(panel, config, "en", watch)

    def broken(self):
        raise PermissionError("trainer_log.jsonl")

    monkeypatch.setattr(live.RunMonitor, "poll", broken)
    failed = live.tick(panel, config, "en", watch)
    assert failed == {panel.notice: failed[panel.notice]}
    assert "Something went wrong (PermissionError)" in failed[panel.notice]
    monkeypatch.undo()
    log_step(run_dir, 1)
    recovered = live.tick(panel, config, "en", watch)
    assert recovered[panel.notice] == "" and panel.progress in recovered


REAL_SLEEP = asyncio.sleep


class TimeUp(Exception):
    pass


class FakeClock:
    """Time that passes only when the loop sleeps, up to ``end``: the follow loop's polls,
    counted exactly."""

    def __init__(self, seconds: float):
        self.now = 1000.0
        self.end = self.now + seconds

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if self.now + seconds > self.end + 1e-9:
            raise TimeUp
        self.now += seconds
        await REAL_SLEEP(0)


def follow_for(panel, config, watch, seconds: float, monkeypatch, lang: str = "en"):
    """Run the follow loop for ``seconds`` of fake time; what it yielded and how often it polled
    the run (one `live.tick` each)."""
    clock, polls, yielded = FakeClock(seconds), [], []
    monkeypatch.setattr(live.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(live.asyncio, "sleep", clock.sleep)
    real_tick = live.tick

    def counted(*args):
        polls.append(clock.now)
        return real_tick(*args)

    monkeypatch.setattr(live, "tick", counted)

    async def drive():
        loop = live.follow(panel, config, lang, watch)
        try:
            while True:
                yielded.append(await loop.__anext__())
        except TimeUp:
            pass

    asyncio.run(asyncio.wait_for(drive(), timeout=60))
    return yielded, polls


def test_an_idle_view_polls_once_a_second_and_says_nothing_but_a_keepalive(
    tmp_path: Path, monkeypatch
):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    log_step(run_dir, 1)
    update_status(run_dir, state="succeeded", ended_at=time.time())
    watch = live.Watch()
    yielded, polls = follow_for(panel, config, watch, 30, monkeypatch)
    assert set(yielded[0]) >= {panel.header, panel.progress}  # the finished run, once
    assert all(out == gr.skip() for out in yielded[1:])  # then only keepalives, every 10 s
    assert len(yielded) - 1 == 30 // live.KEEPALIVE_SECONDS
    assert 28 <= len(polls) <= 32  # once a second, not five times


def test_a_live_run_is_polled_five_times_a_second_and_each_new_line_is_sent(
    tmp_path: Path, monkeypatch
):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    watch = live.Watch()
    _, polls = follow_for(panel, config, watch, 2, monkeypatch)
    assert 9 <= len(polls) <= 11
    monkeypatch.undo()  # real time again: the loop finds a new line within one poll

    async def next_step_shows():
        loop = live.follow(panel, config, "en", watch)
        log_step(run_dir, 3)
        while True:
            out = await loop.__anext__()
            if 'data-step="3"' in str(out.get(panel.progress, "")):
                await loop.aclose()
                return out

    out = asyncio.run(asyncio.wait_for(next_step_shows(), timeout=30))
    assert panel.stats in out and panel.plot in out


def test_the_loop_renders_in_the_language_the_switch_last_set(tmp_path: Path, monkeypatch):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    log_step(run_dir, 1)
    watch = live.Watch()
    english, _ = follow_for(panel, config, watch, 0.5, monkeypatch)
    assert "step 1/4" in english[0][panel.progress]
    watch.lang = "zh"
    chinese, _ = follow_for(panel, config, watch, 0.5, monkeypatch)
    assert "第 1/4 步" in chinese[0][panel.progress]


def test_while_a_run_stops_its_header_says_what_stopping_does_and_then_why_it_ended(
    tmp_path: Path,
):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    watch = live.Watch()
    live.tick(panel, config, "en", watch)
    update_status(run_dir, state="stopping")
    stopping = live.tick(panel, config, "en", watch)
    assert "saves the adapter trained so far" in stopping[panel.header]
    update_status(run_dir, state="stopped", ended_at=time.time())
    stopped = live.tick(panel, config, "en", watch)
    assert "stopped" in stopped[panel.header]
    assert "saves the adapter" not in stopped[panel.header]


def test_a_run_on_a_card_shows_mfu_card_memory_and_busy_and_the_learning_rate(tmp_path: Path):
    """What the speed issue asks of the live view: tokens/s, MFU for a card whose peak we know,
    the cards' memory and utilisation as the supervisor sampled them, the learning-rate curve."""
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    params = 7_615_616_512
    update_status(run_dir, device="cuda", card_name="NVIDIA H200", model_params=params)
    for step, lr in ((1, 5.0e-5), (2, 1.0e-4)):
        line = {"current_steps": step, "total_steps": 4, "loss": 1.0, "lr": lr,
                "throughput": 10_930.0}  # fmt: skip
        with (run_dir / "trainer_log.jsonl").open("a") as handle:
            handle.write(json.dumps(line) + "\n")
    sample = {"index": 0, "memory_used_mib": 100_454, "memory_total_mib": 143_771}
    usage = {"time": time.time(), "cards": [sample | {"utilization": 97}]}
    (run_dir / "device_usage.jsonl").write_text(json.dumps(usage) + "\n")

    shown = live.tick(panel, config, "en", live.Watch())
    stats = shown[panel.stats]
    assert "10,930 tokens/s" in stats and "MFU 34%" in stats
    assert "card memory 98.1 / 140 GiB" in stats and "card busy 97 %" in stats
    assert "learning rate 1.00e-04" in stats
    assert shown[panel.lr_plot]["value"]["loss"].tolist() == [5.0e-5, 1.0e-4]
    zh = live.tick(panel, config, "zh", live.Watch())[panel.stats]
    assert "卡显存 98.1 / 140 GiB" in zh and "学习率" in zh


def test_a_cpu_run_shows_no_mfu_and_no_card(tmp_path: Path):
    panel, config = panel_and_config(tmp_path)
    run_dir = live_run(config.workspace.adapters_dir)
    log_step(run_dir, 1)
    stats = live.tick(panel, config, "en", live.Watch())[panel.stats]
    assert "MFU" not in stats and "card" not in stats
