"""The model picker in a real browser (Debian's Chromium through Playwright) against a real
`python launch.py`: a copy of the shipped CPU smoke recipe shows as Qwen2.5 / 0.5B / instruct /
Hugging Face with its memory estimate; picking Qwen3 → 8B → instruct → ModelScope writes model.id
and model.hub into the YAML and the form, and the estimate against this machine follows; a model
of the studio's Hugging Face cache (a folder made here from the Qwen2.5 config.json fixture) is
listed and picked; after a switch to 中文 the picker shows no English. It rewrites
ui/screenshots/model-picker.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, TOKENIZER
from studio_page import (
    StudioServer,
    choose,
    chromium,
    needs_browser,
    open_studio,
    pick_recipe,
    studio_home,
    yaml_text,
)

pytestmark = needs_browser
SCREENSHOT = REPO / "ui" / "screenshots" / "model-picker.png"
CACHED = "Qwen/Qwen2.5-0.5B-Instruct · Qwen2.5 · Hugging Face cache"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("studio")


@pytest.fixture(scope="module")
def snapshot(home: Path) -> Path:
    """Qwen2.5-0.5B-Instruct in the studio's own Hugging Face cache (its config.json only)."""
    folder = home / "hf-hub" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "7ae5576"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((TOKENIZER / "config.json").read_text())
    return folder


@pytest.fixture(scope="module")
def page(home: Path, snapshot: Path):
    smoke = (REPO / "recipes" / "cpu-smoke.yaml").read_text()  # Qwen2.5-0.5B-Instruct, CPU
    studio = studio_home(home, {"mine.yaml": smoke.replace("name: cpu-smoke", "name: mine")})
    studio.env |= {"HF_HUB_CACHE": str(home / "hf-hub"), "MODELSCOPE_CACHE": str(home / "ms")}
    server = StudioServer(studio).start()
    with chromium() as browser:
        page = open_studio(browser, server.url)
        yield page
        assert "Traceback" not in page.content()
    server.kill()


def wait_text(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.innerText || '').includes(t)",
        arg=[selector, text],
        timeout=60_000,
    )


def shown(page, step: str) -> str:
    return page.locator(f"#picker-{step} input").input_value()


def test_picking_qwen3_8b_instruct_on_modelscope_writes_the_recipe_and_shows_the_estimate(page):
    pick_recipe(page, "mine.yaml")
    wait_text(page, "#model-estimate", "Qwen2.5-0.5B-Instruct")
    assert [shown(page, s) for s in ("family", "size", "variant", "hub")] == [
        "Qwen2.5",
        "0.5B",
        "instruct",
        "Hugging Face",
    ]  # fmt: skip: the loaded recipe's model

    choose(page, "#picker-family", "Qwen3")
    wait_text(page, "#recipe-yaml .cm-content", "id: Qwen/Qwen3-0.6B")  # its nearest size
    choose(page, "#picker-size", "8B")
    wait_text(page, "#recipe-yaml .cm-content", "id: Qwen/Qwen3-8B")
    choose(page, "#picker-variant", "instruct (hybrid)")
    choose(page, "#picker-hub", "ModelScope")
    wait_text(page, "#recipe-yaml .cm-content", "hub: modelscope")

    text = yaml_text(page)
    assert "id: Qwen/Qwen3-8B" in text and "# the model's own" in text  # comments kept
    assert page.locator("#field-model-id textarea").input_value() == "Qwen/Qwen3-8B"
    wait_text(page, "#model-estimate", "Qwen3-8B")
    estimate = page.locator("#model-estimate").inner_text()
    assert "8.19B parameters" in estimate
    assert "GiB for LoRA in" in estimate and "this machine:" in estimate
    page.locator("#model-picker").screenshot(path=str(SCREENSHOT))  # the README's picture


def test_a_model_in_the_hugging_face_cache_is_listed_and_picked(page, snapshot: Path):
    page.get_by_label("Already on this machine").check()
    choose(page, "#picker-local", CACHED)
    wait_text(page, "#recipe-yaml .cm-content", f"id: {snapshot}")
    wait_text(page, "#model-estimate", "0.49B parameters")
    assert page.locator("#field-model-id textarea").input_value() == str(snapshot)


def test_after_the_switch_to_chinese_the_picker_shows_no_english(page):
    page.get_by_label("中文").check()
    wait_text(page, "#model-picker", "缓存中的模型")
    wait_text(page, "#model-estimate", "本机：")
    left = [
        line
        for line in page.locator("#model-picker").inner_text().splitlines()
        if re.search(r"[A-Za-z]{3,}", line) and not re.search(r"[\u4e00-\u9fff]", line)
    ]
    assert left == []  # labels, choices, help and the estimate: each line has its Chinese
    page.get_by_label("English").check()
    wait_text(page, "#model-estimate", "this machine:")
