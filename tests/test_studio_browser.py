"""The recipe editor in a real browser (Debian's Chromium through Playwright) against a real
`python launch.py`: form and YAML follow each other, errors sit beside their field in the
user's language, bad uploads change nothing, the download is the edited recipe."""

from __future__ import annotations

import contextlib
import resource
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import tiny_recipe
from hostile_texts import BRACKETS, laughs
from studio_page import (
    StudioServer,
    chromium,
    english_texts,
    needs_browser,
    open_studio,
    pick_recipe,
    studio_home,
    yaml_text,
)

from ui.locale import TEXT

pytestmark = needs_browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    home = tmp_path_factory.mktemp("studio")
    server = StudioServer(studio_home(home, {"tiny.yaml": tiny_recipe(tiny_model)})).start()
    yield server
    server.kill()


@pytest.fixture
def page(browser, server):
    page = open_studio(browser, server.url, downloads=True)
    yield page
    assert "Traceback" not in page.content()
    page.context.close()


def test_a_changed_field_shows_in_the_yaml_and_the_yaml_fills_the_form(page):
    pick_recipe(page, "tiny.yaml")
    assert "rank: 8" in yaml_text(page)
    page.locator("#field-lora-rank input").fill("16")
    page.wait_for_function(
        "() => document.querySelector('#recipe-yaml .cm-content').innerText.includes('rank: 16')"
    )
    assert "max_steps: 30" in yaml_text(page)
    editor = page.locator("#recipe-yaml .cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(yaml_text(page).replace("max_steps: 30", "max_steps: 12"))
    page.wait_for_function(
        "() => document.querySelector('#field-train-max_steps input').value === '12'"
    )
    assert page.locator("#field-lora-rank input").input_value() == "16"


def test_the_compiled_config_and_the_exact_command_are_shown_before_launch(page):
    pick_recipe(page, "tiny.yaml")
    page.get_by_role("tab", name="Compiled for LLaMA-Factory").click()
    compiled = page.locator("#compiled-yaml .cm-content").inner_text()
    assert "lora_rank: 8" in compiled and "use_cpu: true" in compiled
    page.get_by_role("tab", name="Command").click()
    command = page.locator("#compiled-command .cm-content").inner_text()
    assert "exec llamafactory-cli train llamafactory.yaml" in command


def test_a_wrong_value_is_explained_beside_its_field_in_english_and_chinese(page):
    pick_recipe(page, "tiny.yaml")
    page.locator("#field-lora-rank input").fill("0")
    error = page.locator("#error-lora-rank")
    error.wait_for(state="visible")
    assert "greater than or equal to 1" in error.inner_text()
    assert page.locator("#compiled-command").count() == 1
    page.get_by_label("中文").check()
    page.wait_for_function(
        "() => document.querySelector('#error-lora-rank').innerText.includes('应大于或等于 1')"
    )
    assert page.get_by_role("tab", name="训练").count() == 1
    assert page.get_by_role("tab", name="运行记录").count() == 1
    assert page.locator("#start").inner_text() == "开始训练"
    assert "秩" in page.locator("#field-lora-rank").inner_text()
    page.locator("#field-lora-rank input").fill("8")
    error.wait_for(state="hidden")
    page.get_by_role("tab", name="运行记录").click()
    assert "打开运行" in page.locator("#runs-pick").inner_text()
    assert page.locator("#runs-resume").inner_text() == "从最近的检查点继续"
    assert "字段" in page.locator("#runs-diff").inner_text()


def test_after_the_switch_to_chinese_no_english_text_is_left_on_any_tab(page):
    pick_recipe(page, "tiny.yaml")
    page.get_by_label("中文").check()
    page.wait_for_function("() => document.querySelector('#start')?.innerText === '开始训练'")
    left: dict[str, set[str]] = {}
    names = [zh for key, (_, zh) in TEXT.items() if key.startswith("tab.")]
    for name in names:
        page.get_by_role("tab", name=name, exact=True).click()
        closed = page.locator("button.label-wrap:not(.open)").filter(visible=True)
        for _ in range(50):  # open every closed accordion, so its contents are checked too
            if closed.count() == 0:
                break
            closed.first.click()
        page.wait_for_timeout(500)
        left[name] = english_texts(page)
    assert len(left) >= 2 and not any(left.values()), left


def test_the_language_choice_is_kept_when_the_page_is_reopened(page):
    page.get_by_label("中文").check()
    page.wait_for_function("() => document.querySelector('#start')?.innerText === '开始训练'")
    page.reload()
    page.wait_for_function("() => document.querySelector('#start')?.innerText === '开始训练'")
    page.get_by_label("English").check()
    page.wait_for_function("() => document.querySelector('#start')?.innerText === 'Start training'")


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("weights.bin", b"\x00\x01", "is not a YAML file"),
        ("huge.yaml", b"#" * (50 * 1024 * 1024), "50.0 MiB, too big to be a recipe"),
        ("llamafactory.yaml", b"model_name_or_path: x\nstage: sft\n", "has no schema_version"),
        ("list.yaml", b"- a\n- b\n", "is not a recipe"),
        ("laughs.yaml", laughs().encode(), "more than 10000 values"),
        ("brackets.yaml", BRACKETS.encode(), "more than 32 levels deep"),
    ],
)
def test_an_upload_that_is_not_a_recipe_is_refused_and_changes_nothing(
    page, tmp_path: Path, name: str, content: bytes, words: str
):
    pick_recipe(page, "tiny.yaml")
    before = yaml_text(page)
    path = tmp_path / name
    path.write_bytes(content)
    with page.expect_file_chooser() as chooser:
        page.click("#recipe-upload")
    chooser.value.set_files(str(path))
    page.wait_for_function(
        "w => document.querySelector('#train-message').innerText.includes(w)",
        arg=words,
        timeout=60_000,
    )
    assert yaml_text(page) == before
    assert page.locator("#field-lora-rank input").input_value() == "8"


def test_an_uploaded_recipe_is_loaded_and_the_edited_one_downloaded(page, tmp_path: Path):
    pick_recipe(page, "tiny.yaml")
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml_text(page).replace("name: tiny", "name: mine") + "# my comment\n")
    with page.expect_file_chooser() as chooser:
        page.click("#recipe-upload")
    chooser.value.set_files(str(mine))
    page.wait_for_function(
        "() => document.querySelector('#train-message').innerText.includes('mine.yaml')"
    )
    assert page.locator("#field-name textarea").input_value() == "mine"
    page.locator("#field-train-learning_rate input").fill("0.0005")
    page.wait_for_function(
        "() => document.querySelector('#recipe-yaml .cm-content').innerText"
        ".includes('learning_rate: 0.0005')"
    )
    with page.expect_download() as download:
        page.click("#recipe-download")
    saved = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "mine.yaml"
    assert yaml.safe_load(saved)["train"]["learning_rate"] == 0.0005
    assert "# my comment" in saved


@contextlib.contextmanager
def memory_cap(pid: int, extra_mib: int):
    """The process ``pid`` may map only ``extra_mib`` more than it has now (the soft RLIMIT_AS,
    raised back afterwards)."""
    soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
    cap = psutil.Process(pid).memory_info().vms + (extra_mib << 20)
    resource.prlimit(pid, resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.prlimit(pid, resource.RLIMIT_AS, (soft, hard))


def test_a_billion_laughs_pasted_into_the_yaml_is_refused_while_others_are_served(
    page, browser, server
):
    """It took 6.4 GB and 3 minutes; now the studio, allowed 1 GiB more than it holds, says
    why at once and another user's page loads and checks a recipe meanwhile."""
    pick_recipe(page, "tiny.yaml")
    with memory_cap(server.process.pid, 1024):
        page.locator("#recipe-yaml .cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(laughs())
        other = open_studio(browser, server.url)
        try:
            pick_recipe(other, "tiny.yaml")
            assert "rank: 8" in yaml_text(other)
        finally:
            other.context.close()
        page.wait_for_function(
            "() => document.querySelector('#yaml-error').innerText.includes('10000 values')",
            timeout=60_000,
        )
    assert "line 7" in page.locator("#yaml-error").inner_text()
    assert server.process.poll() is None
