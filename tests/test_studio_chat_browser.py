"""Chatting with a trained run in a real browser (Debian's Chromium through Playwright) against a
real `python launch.py`: the run the tiny model learned its name in is picked in the Chat tab,
loaded into the chat worker, asked its training question, and the reply streams token by token
into the adapter column (with the trained answer) and the base column (without it); while a
reply streams, a training run started in another tab keeps moving. The studio, the trainer, the
chat worker and the browser are real processes; nothing is mocked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest
from conftest import NAME, REPO, LearnedRun, tiny_recipe
from studio_page import (
    StudioServer,
    choose,
    chromium,
    needs_browser,
    open_studio,
    pick_recipe,
    progress,
    start_run,
    wait_progress,
)

pytestmark = [*needs_browser, pytest.mark.slow]
SCREENSHOT = REPO / "ui" / "screenshots" / "chat.png"

# Records, in the page, every distinct text of each column's last reply and when it changed.
REPLY_WATCH = """
window.__replies = {base: [], adapter: []};
window.__changedAt = Date.now();
new MutationObserver(() => {
  for (const column of ['base', 'adapter']) {
    const bots = document.querySelectorAll(`#chat-${column} [data-testid="bot"]`);
    const text = bots.length ? bots[bots.length - 1].innerText.trim() : '';
    const seen = window.__replies[column];
    if (text && seen[seen.length - 1] !== text) {
      seen.push(text);
      window.__changedAt = Date.now();
    }
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


@pytest.fixture(scope="module")
def server(learned_run: LearnedRun, tiny_model: Path):
    """The studio serving the folder the learned run was trained in, with a recipe that trains
    long enough (200 steps) to be still running while a reply streams."""
    recipes = learned_run.studio.home / "recipes"
    recipes.mkdir(exist_ok=True)
    long = tiny_recipe(tiny_model, "long", max_steps=200, save_steps=1000)
    (recipes / "long.yaml").write_text(long.replace("[identity]", "[identity_zephyr]"))
    server = StudioServer(learned_run.studio).start()
    yield server
    server.kill()  # the chat worker ends with it (its stdin closes)


@pytest.fixture
def page(server):
    with chromium() as browser:
        page = open_studio(browser, server.url, REPLY_WATCH)
        yield page
        assert "Traceback" not in page.content()


def replies(page) -> dict[str, list[str]]:
    return page.evaluate("() => window.__replies")


def load_run(page, run_id: str) -> None:
    """Pick ``run_id`` in the Chat tab and load it into the chat worker."""
    page.get_by_role("tab", name="Chat").click()
    choose(page, "#chat-run", run_id)
    page.wait_for_function(
        "() => document.querySelector('#chat-template-note').innerText.includes('qwen')"
    )
    page.click("#chat-load")
    page.wait_for_function(
        "() => document.querySelector('#chat-status').innerText.includes('Loaded')",
        timeout=180_000,
    )


def set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(value)
    box.press("Enter")


def send(page, prompt: str, done: str) -> dict[str, list[str]]:
    """Send ``prompt``; wait until ``done`` (a JS condition on the columns' replies) holds and
    Send is enabled again (it is disabled while the replies stream)."""
    page.evaluate("() => { window.__replies = {base: [], adapter: []}; }")
    page.locator("#chat-prompt textarea").fill(prompt)
    page.click("#chat-send")
    page.wait_for_function(
        f"""() => {{
            const r = window.__replies;
            return ({done}) && !document.querySelector('#chat-send').disabled;
        }}""",
        timeout=180_000,
    )
    return replies(page)


def partial_states(states: list[str]) -> set[str]:
    """The texts shown before the whole reply that were a beginning of it."""
    return {text for text in states[:-1] if states[-1].startswith(text) and text != states[-1]}


def test_a_picked_run_answers_in_both_columns_token_by_token(page, learned_run: LearnedRun):
    run_id, question = learned_run.run_dir.name, "Who are you?"
    answer = learned_run.answers[question]
    load_run(page, run_id)
    set_number(page, "chat-temperature", "0")  # greedy: the trained answer, every time
    set_number(page, "chat-max-new-tokens", "32")
    status = page.locator("#chat-status").inner_text()
    assert all(word in status for word in (run_id, "template qwen", "cpu", "float32", "MiB"))

    seen = send(
        page,
        question,
        f"r.adapter.length && r.adapter[r.adapter.length - 1].startsWith({answer!r})"
        " && document.querySelector('#chat-base [data-testid=bot]')",
    )
    print(f"\nadapter, greedy: {seen['adapter']}")
    assert len(partial_states(seen["adapter"])) >= 2  # it streamed: two partial states at least
    base = page.locator("#chat-base [data-testid=bot]").last.text_content()
    assert NAME not in base  # the tiny random base, greedy, says only blank lines here
    assert page.locator("#chat-prompt textarea").input_value() == ""
    page.screenshot(path=str(SCREENSHOT))

    # Sampled, the same settings and seed for both, the base's tokens are visible as they come.
    page.click("#chat-clear")
    set_number(page, "chat-temperature", "1")
    set_number(page, "chat-top-p", "1")
    seen = send(page, "Tell me a story.", "r.base.length > 2 && r.adapter.length > 2")
    print(f"base, sampled: {seen['base']}")
    assert len(partial_states(seen["base"])) >= 2
    assert len(partial_states(seen["adapter"])) >= 2

    page.get_by_label("中文").check()
    page.get_by_role("tab", name="对话").wait_for()
    page.wait_for_function(
        "() => document.querySelector('#chat-status').innerText.includes('已加载')"
    )
    assert page.locator("#chat-send").inner_text() == "发送"
    assert "基础模型 + 适配器" in page.locator("#chat-adapter").inner_text()


def live_processes(run_dir: Path) -> list[int]:
    """Processes still alive in the run's process group (zombies are already dead)."""
    pgid = json.loads((run_dir / "status.json").read_text())["pgid"]
    alive = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return alive


def test_a_live_training_run_keeps_updating_while_a_reply_streams(
    page, server, learned_run: LearnedRun
):
    studio = learned_run.studio
    train = open_studio(page.context.browser, server.url)  # a second tab, on the Train tab
    run_dir = None
    try:
        pick_recipe(train, "long.yaml")
        run_dir = start_run(train, studio)

        # Sampled, the adapter may end its reply after a few tokens, but the random base almost
        # never does: the reply streams about 512 more tokens, many training steps' worth here.
        load_run(page, learned_run.run_dir.name)
        set_number(page, "chat-temperature", "1")
        set_number(page, "chat-top-p", "1")
        set_number(page, "chat-max-new-tokens", "512")
        wait_progress(train, state="running", step=1, run=run_dir.name)

        page.evaluate("() => { window.__replies = {base: [], adapter: []}; }")
        page.locator("#chat-prompt textarea").fill("Tell me a story.")
        page.click("#chat-send")
        page.wait_for_function("() => window.__replies.adapter.length > 0", timeout=60_000)
        step_at_start = int(progress(train)["step"])
        # it grows: the adapter's text, or the base's after it when the adapter ended at once
        page.wait_for_function(
            "() => window.__replies.adapter.length > 1 || window.__replies.base.length"
        )
        wait_progress(train, step=step_at_start + 1, run=run_dir.name)
        step_seen = int(progress(train)["step"])
        streaming = page.locator("#chat-send").is_disabled()  # disabled until the reply ends
        shown = replies(page)
        print(
            f"\nstep {step_at_start} when the reply started, {step_seen} while it streamed "
            f"({len(shown['adapter'])} adapter and {len(shown['base'])} base states shown)"
        )
        assert streaming, "the reply was complete before the training run's step moved"
        assert step_seen > step_at_start

        train.click("#stop-button")
        wait_progress(train, state="stopped", run=run_dir.name)
        assert live_processes(run_dir) == []
    finally:
        train.context.close()
        if run_dir is not None and live_processes(run_dir):
            studio.cli("stop", run_dir.name)
