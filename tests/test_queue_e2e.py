"""The queue for real: CPU runs of the tiny Qwen2 model started back to back from the CLI and the
studio wait their turn, are cancelled and moved up in the browser, outlive the studio that
showed them, and then train one after another, in the queue's order, without anyone clicking.
The first run's trainer is paused (SIGSTOP) while the others queue, so the queue is checked
while it stands however fast this machine trains; it is let go (SIGCONT) once it has been
checked. The studio, the CLI, the supervisors, LLaMA-Factory and the browser are real."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import Studio, tiny_recipe
from fake_runs import wait_for
from studio_page import (
    StudioServer,
    choose,
    chromium,
    needs_browser,
    open_studio,
    pick_recipe,
    popen,
    studio_home,
    wait_progress,
)

from lorastudio.runs.status import RunState, read_status

pytestmark = [*needs_browser, pytest.mark.slow]
RUN_ID = re.compile(r"\d{8}-\d{6}-[A-Za-z0-9._-]+")


def detach(studio: Studio, recipe: Path) -> tuple[str, str]:
    """`train RECIPE --detach`: what it said first, and the run id it printed last."""
    result = studio.cli("train", str(recipe), "--detach")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    return lines[0], lines[-1]


def first_said(process: subprocess.Popen) -> str:
    """The first line `train` printed about its run (a library's warnings may come before)."""
    for line in process.stdout:
        if line.startswith("run "):
            return line
    return ""


def queue_shown(page) -> list[str]:
    """The run ids the Runs tab's queue lists, first in line first."""
    page.locator("#runs-queue li").first.wait_for()
    items = page.locator("#runs-queue li").all_inner_texts()
    return [RUN_ID.search(item).group(0) for item in items]


def open_run(page, run_id: str) -> None:
    choose(page, "#runs-pick", run_id)
    page.wait_for_function(
        "() => document.querySelector('#runs-recipe .cm-content')?.innerText.includes('name:')"
    )


def let_go(studio: Studio) -> None:
    """Whatever a failed test left: every paused trainer continued, then every run ended."""
    for run_dir in studio.run_dirs():
        status = read_status(run_dir)
        for sig in (signal.SIGCONT, signal.SIGKILL):
            if status.pgid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(status.pgid, sig)
        if status.supervisor_pid and status.live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(status.supervisor_pid, signal.SIGKILL)


def test_runs_queued_from_the_cli_and_the_studio_run_in_order_by_themselves(
    tmp_path: Path, tiny_model: Path
):
    short = tiny_recipe(tiny_model, name="short", max_steps=5, save_steps=1000)
    studio = studio_home(tmp_path, {"short.yaml": short})
    first_recipe = studio.write_recipe(
        "first.yaml", tiny_recipe(tiny_model, name="first", max_steps=20, save_steps=1000)
    )
    other = studio.write_recipe("other.yaml", short.replace("name: short", "name: other"))
    server = StudioServer(studio).start()
    waiter: subprocess.Popen | None = None
    try:
        with chromium() as browser:
            # 1. the CPU is taken from the CLI; its trainer is held while the others queue
            said, first = detach(studio, first_recipe)
            assert "started" in said
            os.killpg(read_status(studio.adapters / first).pgid, signal.SIGSTOP)

            # 2. the studio's Start queues the second run, and says where it stands
            page = open_studio(browser, server.url)
            page.locator("#recipe-yaml").get_by_text("name: first").wait_for()  # the live run's
            pick_recipe(page, "short.yaml")
            page.click("#start")
            page.locator("#train-message").get_by_text("1st in line for cpu").wait_for()
            message = page.locator("#train-message").inner_text()
            assert "is queued" in message and "starts by itself" in message
            second = message.split()[1]
            assert read_status(studio.adapters / second).state is RunState.QUEUED

            # 3. a third from the CLI, in the foreground: it waits in the queue for its turn
            waiter = popen(studio, "train", str(other))
            assert "queued, 2nd in line for cpu" in first_said(waiter)
            said, fourth = detach(studio, other)
            assert "queued, 3rd in line for cpu" in said

            # 4. the Runs tab shows the queue; one run is cancelled, another moved up
            page.get_by_role("tab", name="Runs").click()
            third = next(q for q in queue_shown(page) if q not in (second, fourth))
            assert queue_shown(page) == [second, third, fourth]
            open_run(page, fourth)
            page.click("#runs-dequeue")
            page.locator("#runs-message").get_by_text(f"Cancelled {fourth}").wait_for()
            open_run(page, third)
            page.click("#runs-move-up")
            page.locator("#runs-message").get_by_text("is now queued, 1st in line").wait_for()
            page.wait_for_function(
                "id => document.querySelector('#runs-queue li')?.innerText.includes(id)",
                arg=third,
            )
            before = queue_shown(page)
            assert before == [third, second]
            page.context.close()

            # 5. the studio is killed while runs are queued; a new one shows the same queue
            server.kill()
            server = StudioServer(studio).start()
            page = open_studio(browser, server.url)
            page.get_by_role("tab", name="Runs").click()
            assert queue_shown(page) == before
            row = page.locator("#runs-table tr", has_text=third).filter(visible=True).first
            assert "queued (1st)" in row.inner_text()

            # 6. the first run is let go: the rest follow in order, nobody clicks
            os.killpg(read_status(studio.adapters / first).pgid, signal.SIGCONT)
            page.get_by_role("tab", name="Train").click()
            wait_progress(page, state="succeeded", run=second, timeout=900)
            assert waiter.wait(timeout=300) == 0  # the foreground train followed its run
            assert f"run {third}: succeeded" in waiter.stdout.read()

        runs = [read_status(studio.adapters / run_id) for run_id in (first, third, second)]
        assert [r.state for r in runs] == [RunState.SUCCEEDED] * 3
        for earlier, later in itertools.pairwise(runs):
            assert earlier.ended_at <= later.started_at  # one after the other, in the queue's order
        assert read_status(studio.adapters / fourth).state is RunState.CANCELLED
        assert not (studio.adapters / fourth / "train.log").exists()  # it never started
        wait_for(lambda: "empty" in studio.cli("queue").stdout)
    finally:
        if waiter is not None and waiter.poll() is None:
            waiter.kill()
        server.kill()
        let_go(studio)
