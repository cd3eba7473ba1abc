"""What the user sees for the core's errors: every problem of a bad recipe reads in Chinese (its
keyed message and fix said there), English keeps the core's own words, a value is shown from
the value itself, run errors name the run, and an unexpected error becomes one sentence, never a
traceback."""

from __future__ import annotations

import logging
import os
import re
import socket
from pathlib import Path

import psutil
import pytest
from conftest import LF_DATA, tiny_recipe
from test_bad_recipes import CASES, make_text

from lorastudio.checks.nodes import node_problems
from lorastudio.checks.validation import check_recipe_text
from lorastudio.errors import Problem, RecipeError, RunError
from lorastudio.launch import launcher
from lorastudio.launch.launcher import preflight
from lorastudio.llamafactory.compiler import Target
from lorastudio.llamafactory.spec import LlamaFactoryMissingError
from lorastudio.messages import msg
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.recipe.text import read_recipe_upload
from lorastudio.runs.diagnosis import diagnose
from lorastudio.runs.index import delete_run
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.occupancy import Claim, DeviceBusyError
from lorastudio.runs.status import RunState, update_status
from lorastudio.workspace import Workspace
from ui.messages import ERROR_TYPES, explain, problem_text, reason_text
from ui.train_tab import needs_demo_data

CJK = re.compile(r"[\u4e00-\u9fff]")


def core_problems(tmp_path: Path) -> list[Problem]:
    """Every problem of the bad-recipe table the CLI is tested with."""
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    problems = []
    for case, text, _, _ in CASES:
        with pytest.raises(RecipeError) as caught:
            check_recipe_text(make_text(case, tmp_path) if text == "RECIPE" else text, workspace)
        problems += caught.value.problems
    return problems


def test_every_problem_of_a_bad_recipe_is_said_in_chinese(tmp_path: Path):
    for problem in core_problems(tmp_path):
        shown = problem_text(problem, "zh")
        assert problem.message.key != "text.verbatim" and problem.fix.key != "text.verbatim"
        assert problem.message.text("zh") in shown and problem.fix.text("zh") in shown, shown
        assert CJK.search(problem.message.text("zh")) and CJK.search(problem.fix.text("zh")), shown
        assert "修正" in shown


def test_a_data_file_in_the_wrong_layout_is_said_in_chinese(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.json").write_text('[{"q": 1}]')
    (data / "s.json").write_text('[{"q": 1}]')
    workspace = Workspace(tmp_path, data, tmp_path / "adapters")
    for name, layout in (("a.json", "alpaca"), ("s.json", "sharegpt")):
        text = parse_text_with_file(name, layout)
        with pytest.raises(RecipeError) as caught:
            check_recipe_text(text, workspace)
        (problem,) = caught.value.problems
        shown = problem_text(problem, "zh")
        assert f"不是 {layout} 格式" in shown and "请把每条记录写成" in shown, shown
        assert "first record" not in shown and "第一条记录没有" in shown, shown


def parse_text_with_file(name: str, layout: str) -> str:
    return f"""schema_version: 1
name: t
model: {{id: Qwen/Qwen2.5-0.5B-Instruct}}
data: {{files: [{name}], format: {layout}}}
train: {{max_steps: 1}}
"""


def test_english_keeps_the_cores_own_words(tmp_path: Path):
    for problem in core_problems(tmp_path):
        shown = problem_text(problem, "en")
        assert str(problem.message) in shown and str(problem.fix) in shown
        assert problem.field in shown


def test_a_fix_from_pydantic_is_said_with_the_fields_chinese_help(tmp_path: Path):
    with pytest.raises(RecipeError) as caught:
        parse_recipe_text(tiny_recipe(tmp_path).replace("  rank: 8", "  rank: 0"))
    (problem,) = caught.value.problems
    assert problem_text(problem, "zh", with_field=False) == (
        "`0` 取值不对。修正：应大于或等于 1（LoRA 秩：越高学得越多，也越占显存）"
    )
    assert problem_text(problem, "en", with_field=False) == (
        "`0` has a wrong value. Fix: input should be greater than or equal to 1 "
        "(LoRA rank: higher learns more, costs memory)"
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_value_is_shown_from_the_value_itself_not_from_rendered_text(lang: str):
    recipe = parse_recipe_text(
        tiny_recipe(Path("/m")),
        overrides={"hardware": {"nodes": {"count": 2, "master_addr": "::1"}}},
    )
    _, warnings = node_problems(recipe)
    (loopback,) = warnings
    assert loopback.message.key == "problem.loopback"
    assert problem_text(loopback, lang).startswith("`hardware.nodes.master_addr = '::1'`")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("model.bin", b"x"),
        ("big.yaml", b"#" * (2 << 20)),
        ("latin.yaml", "a: \xe9\n".encode("latin-1")),
        ("broken.yaml", b"a: [\n"),
        ("list.yaml", b"- a\n"),
        ("lf.yaml", b"stage: sft\n"),
    ],
)
def test_a_refused_upload_is_explained_in_chinese(tmp_path: Path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RecipeError) as caught:
        read_recipe_upload(path)
    (problem,) = caught.value.problems
    shown = problem_text(problem, "zh")
    assert CJK.search(problem.message.text("zh")) and problem.message.text("zh") in shown
    assert CJK.search(problem.fix.text("zh")) and problem.fix.text("zh") in shown


def test_problems_found_before_a_launch_are_said_in_chinese(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    workspace = Workspace(tmp_path, data, tmp_path / "adapters")
    text = tiny_recipe(tmp_path).replace("[identity]", "[mine]")
    recipe = parse_recipe_text(text.replace("  alpha: 16", "  alpha: 16\n  quantization: 4"))
    problems = preflight(recipe, workspace, Target("cpu"), workspace.dataset_registry()).problems
    assert {p.field for p in problems} >= {"data.datasets[0]", "lora.quantization"}
    for problem in problems:
        assert CJK.search(problem.message.text("zh")) and CJK.search(problem.fix.text("zh"))
    assert not needs_demo_data(RecipeError(problems))  # mine.json is not a demo file


def test_the_demo_data_button_is_offered_by_the_fixs_key(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"identity": {"file_name": "identity.json"}}')
    workspace = Workspace(tmp_path, data, tmp_path / "adapters")
    recipe = parse_recipe_text(tiny_recipe(tmp_path))
    problems = preflight(recipe, workspace, Target("cpu"), workspace.dataset_registry()).problems
    assert [p.fix.key for p in problems] == ["fix.demo_data"]
    assert needs_demo_data(RecipeError(problems))
    assert not needs_demo_data(RunError("run r1 is still running"))


def test_a_setup_error_is_said_in_chinese():
    error = LlamaFactoryMissingError(
        msg("error.not_installed", package="llamafactory"), msg("fix.install_studio")
    )
    assert explain(error, "zh") == (
        "⚠️ studio 的配置有问题： llamafactory 没有安装。修正：请用 `pip install -e .` 安装 "
        "LoRA Studio（会一并安装 LLaMA-Factory）"
    )
    assert "llamafactory is not installed. Fix: install LoRA Studio" in explain(error, "en")


def test_a_busy_device_names_the_run_holding_it_in_either_language():
    error = DeviceBusyError(Claim("cpu"), "20260101-120000-tiny", RunState.RUNNING)
    assert "20260101-120000-tiny (running)" in explain(error, "en")
    assert "正被运行 20260101-120000-tiny（运行中）占用" in explain(error, "zh")


def _run(adapters: Path, state: RunState) -> Path:
    run_dir = create_run_dir(adapters, "r1")
    (run_dir / "recipe.yaml").write_text("train: {save_steps: 500}\n")
    update_status(run_dir, state=state, host=socket.gethostname(), pid=os.getpid())
    update_status(run_dir, pid_create_time=psutil.Process().create_time())
    return run_dir


@pytest.mark.parametrize(
    ("state", "action", "english", "chinese"),
    [
        (
            RunState.STOPPED,
            launcher.stop,
            "is not running (it is stopped)",
            "不在进行中（状态：已停止）",
        ),
        (RunState.RUNNING, launcher.resume, "is still running", "仍处于运行中状态"),
        (RunState.SUCCEEDED, launcher.resume, "already finished", "已经完成"),
        (
            RunState.FAILED,
            launcher.resume,
            "has no checkpoint to resume from",
            "没有可恢复的检查点",
        ),
        (RunState.RUNNING, delete_run, "stop it before deleting it", "请先停止再删除"),
    ],
)
def test_run_errors_name_the_run_in_either_language(tmp_path, state, action, english, chinese):
    run_dir = _run(tmp_path, state)
    with pytest.raises(RunError) as caught:
        action(run_dir)
    shown_en, shown_zh = explain(caught.value, "en"), explain(caught.value, "zh")
    assert english in shown_en and run_dir.name in shown_en
    assert chinese in shown_zh and run_dir.name in shown_zh and "无法执行" in shown_zh
    assert english not in shown_zh


def test_an_unexpected_error_is_one_sentence_and_its_traceback_goes_to_the_log(caplog):
    with caplog.at_level(logging.ERROR, logger="lorastudio.studio"):
        shown = explain(ZeroDivisionError("boom"), "zh")
    assert shown == "⚠️ 出错了（ZeroDivisionError），没有做任何改动。详情见 studio 的控制台输出。"
    assert "Traceback" not in shown and "boom" not in shown
    assert caplog.records and caplog.records[0].exc_info


def test_error_types_list_subclasses_before_their_bases():
    for index, (kind, _) in enumerate(ERROR_TYPES):
        for earlier, _ in ERROR_TYPES[:index]:
            assert not issubclass(kind, earlier), (kind, earlier)


def test_why_a_run_ended_is_said_in_either_language():
    stopped = msg(
        "reason.stopped",
        step=12,
        how=msg("reason.stopped_cleanly"),
        saved=msg("reason.adapter_saved"),
    )
    assert reason_text(stopped, "zh").startswith("应请求在第 12 步停止（正常停止；")
    assert reason_text(stopped, "en").startswith("stopped by request at step 12 (stopped cleanly;")
    oom = diagnose("torch.OutOfMemoryError: CUDA out of memory", 1).message
    assert "显存不足" in reason_text(oom, "zh")
    assert "ran out of memory" in reason_text(oom, "en")
    assert reason_text(None, "zh") == ""
