"""The Data tab in a real browser against a real studio: a CSV is dropped in, its layout
recognised, one column mapped by hand, the preview rendered by LLaMA-Factory shows the mapped
system prompt and the trained answer, the histogram is drawn against the cutoff, the dataset is
added, put in the recipe and trained on to the end; a broken file is refused beside the upload,
in the page's language, with nothing registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, tiny_recipe
from data_files import write_csv
from studio_page import (
    LINE_BLUE,
    StudioServer,
    choose,
    chromium,
    coloured_pixels,
    needs_browser,
    open_studio,
    pick_recipe,
    start_run,
    studio_home,
    wait_progress,
    yaml_text,
)

pytestmark = needs_browser
SCREENSHOT = REPO / "ui" / "screenshots" / "data.png"
RENDER_MS = 300_000  # LLaMA-Factory's template code starts in a child process (slow on 2 cores)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def studio_with_own_data(tmp_path: Path, model: Path):
    studio = studio_home(tmp_path, {"tiny.yaml": tiny_recipe(model, max_steps=6, save_steps=100)})
    studio.data_dir = tmp_path / "data"
    studio.env["LORASTUDIO_DATA_DIR"] = str(studio.data_dir)
    return studio


def wait_text(page, selector: str, text: str, timeout: int = 60_000) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
        arg=[selector, text],
        timeout=timeout,
    )


@pytest.mark.slow
def test_a_csv_is_mapped_previewed_added_and_trained_on_from_the_browser(
    browser, tmp_path: Path, tiny_model: Path
):
    studio = studio_with_own_data(tmp_path, tiny_model)
    server = StudioServer(studio).start()
    page = open_studio(browser, server.url)
    try:
        pick_recipe(page, "tiny.yaml")
        page.get_by_role("tab", name="Data").click()
        page.set_input_files("#data-upload input[type=file]", str(write_csv(tmp_path / "faq.csv")))
        wait_text(page, "#data-recognised", "alpaca")
        assert page.locator("#data-map-prompt input").input_value() == "question"
        assert page.locator("#data-map-response input").input_value() == "answer"
        assert page.locator("#data-map-system input").input_value() == ""
        choose(page, "#data-map-system", "persona")  # the one mapping a user corrects
        wait_text(page, "#data-rows", "You answer as Zephyr.", RENDER_MS)
        trained = page.locator("#data-rows mark.ls-trained").first.inner_text()
        assert trained.startswith("Hello! I am Zephyr, an AI assistant developed by Lumen Labs.")
        assert "<|im_start|>assistant" in page.locator("#data-rows pre").first.inner_text()
        wait_text(page, "#data-stats", "Cutoff 128: 0 samples would be cut")
        page.locator("#data-cutoff input").fill("40")  # inside the data: some rows are cut
        page.keyboard.press("Tab")
        wait_text(page, "#data-stats", "Cutoff 40: ", RENDER_MS)
        assert "Cutoff 40: 0 samples" not in page.locator("#data-stats").inner_text()
        page.locator("#data-histogram").scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # the chart draws after its data arrives
        chart = page.locator("#data-histogram").screenshot()
        assert coloured_pixels(chart, LINE_BLUE) > 200  # bars within the cutoff
        assert coloured_pixels(chart, (0xDC, 0x26, 0x26)) > 200  # and beyond it
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)  # the README's picture

        page.click("#data-add")
        wait_text(page, "#data-message", "Added", 120_000)
        ref = page.locator("#data-message strong").first.inner_text()
        assert ref.startswith("faq@")
        registry = json.loads((studio.data_dir / "dataset_info.json").read_text())
        assert registry["faq"]["columns"]["system"] == "persona"
        wait_text(page, "#data-table", ref)

        page.locator("#data-val-size input[type=number]").fill("0.2")
        page.keyboard.press("Tab")
        page.click("#data-use")
        wait_text(page, "#data-message", "now trains on")
        page.get_by_role("tab", name="Train").click()
        recipe = yaml_text(page)
        assert f"datasets: [{ref}]" in recipe and "val_size: 0.2" in recipe
        assert "cutoff_len: 40" in recipe
        run_dir = start_run(page, studio)
        wait_progress(page, state="succeeded", timeout=600)
        (used,) = json.loads((run_dir / "data.json").read_text())
        assert used["ref"] == ref
    finally:
        page.context.close()
        server.kill()


def test_a_broken_file_is_refused_beside_the_upload_in_chinese_and_nothing_is_registered(
    browser, tmp_path: Path, tiny_model: Path
):
    studio = studio_with_own_data(tmp_path, tiny_model)
    server = StudioServer(studio).start()
    page = open_studio(browser, server.url)
    try:
        page.locator("#lang-switch").get_by_text("中文").click()
        page.get_by_role("tab", name="数据").click()
        broken = tmp_path / "broken.jsonl"
        good = {
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        }
        broken.write_text(json.dumps(good) + "\n{oops\n")
        page.set_input_files("#data-upload input[type=file]", str(broken))
        wait_text(page, "#data-recognised", "openai")
        wait_text(page, "#data-error", "第 2 行不是 JSON", RENDER_MS)
        page.click("#data-add")
        wait_text(page, "#data-error", "未添加任何内容")
        assert "修正：" in page.locator("#data-error").inner_text()
        assert page.locator("#data-message").inner_text().strip() == ""
        registry = studio.data_dir / "dataset_info.json"
        assert not registry.exists() or json.loads(registry.read_text()) == {}
        store = studio.data_dir / "studio"
        assert not store.exists() or list(store.iterdir()) == []
    finally:
        page.context.close()
        server.kill()
