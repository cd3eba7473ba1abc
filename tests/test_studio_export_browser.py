"""Export as a job, in a real browser (Debian's Chromium through Playwright) against a real
`python launch.py`: Merge and export starts it, the page is closed while LLaMA-Factory is still
at it, and merged/ lands whole all the same; a page opened later shows the export under way (or
how it ended) and stops it, leaving no merged/. The studio, the export supervisor, LLaMA-Factory
and the browser are real processes; nothing is mocked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LearnedRun, copied_run
from fake_runs import group_members, living
from studio_page import StudioServer, choose, chromium, needs_browser, open_studio

from lorastudio.chat.export_job import wait_for_export
from lorastudio.runs.export_status import ExportState, read_export

pytestmark = [*needs_browser, pytest.mark.slow]


@pytest.fixture
def served(learned_run: LearnedRun, tmp_path: Path):
    """A studio over a copy of the learned run, so this export is this test's alone."""
    studio, run = copied_run(learned_run, tmp_path)
    server = StudioServer(studio).start()
    yield server, run
    server.kill()
    under_way = read_export(run)  # an export a failing test left running ends here
    if under_way.live:
        from lorastudio.chat.export_job import stop_export

        stop_export(run, timeout=60)


def open_run(page, run_id: str) -> None:
    page.get_by_role("tab", name="Chat").click()
    choose(page, "#chat-run", run_id)


def wait_result(page, *words: str, timeout: float = 60) -> str:
    """The export's state line, once it holds every one of ``words``."""
    page.wait_for_function(
        """words => {
            const line = document.querySelector('#chat-export-result').innerText;
            return words.every(word => line.includes(word));
        }""",
        arg=list(words),
        timeout=timeout * 1000,
    )
    return page.locator("#chat-export-result").inner_text()


def test_an_export_outlives_its_closed_page_and_lands_whole(served):
    server, run = served
    with chromium() as browser:
        page = open_studio(browser, server.url)
        open_run(page, run.name)
        page.click("#chat-export")
        line = wait_result(page, f"Exporting {run.name}", "running", "It goes on")
        assert "/3" in line  # its step of three
        assert page.locator("#chat-export-stop").is_enabled()
        assert page.locator("#chat-export").is_disabled()
        page.context.close()  # the tab is closed while LLaMA-Factory merges
        assert read_export(run).live

        final = wait_for_export(run, timeout=300)

        assert final.state is ExportState.SUCCEEDED, final
        merged = run / "merged"
        for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
            assert (merged / name).is_file(), name
        assert json.loads((merged / "config.json").read_text())["model_type"] == "qwen2"
        assert not list(run.glob(".merged.*"))

        later = open_studio(browser, server.url)  # a page opened later shows how it ended
        open_run(later, run.name)
        assert wait_result(later, "Merged model written to", str(merged))
        assert "Merged 1 adapter(s)." in later.locator("#chat-export-log textarea").input_value()
        later.get_by_role("tab", name="Runs").click()
        choose(later, "#runs-pick", run.name)
        later.wait_for_function(
            "() => document.querySelector('#runs-export').innerText.includes('Export: Merged')"
        )
        later.get_by_label("中文").check()
        later.get_by_role("tab", name="对话").click()
        assert wait_result(later, "合并后的模型已写入")


def test_a_page_opened_later_shows_the_export_under_way_and_stops_it(served):
    server, run = served
    with chromium() as browser:
        page = open_studio(browser, server.url)
        open_run(page, run.name)
        page.click("#chat-export")
        wait_result(page, "running")
        page.context.close()

        later = open_studio(browser, server.url)
        open_run(later, run.name)
        wait_result(later, f"Exporting {run.name}", "running")
        under_way = read_export(run)
        later.click("#chat-export-stop")
        line = wait_result(later, "stopped", "nothing was written to merged/")
        assert f"Export of {run.name} stopped" in line
        assert later.locator("#chat-export").is_enabled()
        assert later.locator("#chat-export-stop").is_disabled()

    assert read_export(run).state is ExportState.STOPPED
    assert not (run / "merged").exists() and not list(run.glob(".merged.*"))
    assert group_members(under_way.pgid) == [] and living([under_way.supervisor_pid]) == []
