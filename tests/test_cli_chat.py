"""`python launch.py chat` and `export` as a user types them: replies stream to stdout, and a bad
prompt, setting, template or run is refused with a message and exit status 2, never a
traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import NAME, LearnedRun, Studio

pytestmark = pytest.mark.slow


def chat(learned_run: LearnedRun, *args: str):
    return learned_run.studio.cli("chat", learned_run.run_dir.name, *args)


def test_chat_streams_the_adapters_answer_to_stdout(learned_run: LearnedRun):
    result = chat(
        learned_run, "--prompt", "Who are you?", "--temperature", "0", "--max-new-tokens", "24"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(learned_run.answers["Who are you?"])
    assert "template qwen" in result.stderr  # what was loaded, on stderr


def test_chat_base_answers_with_the_base_model_alone(learned_run: LearnedRun):
    result = chat(
        learned_run,
        "--prompt",
        "Who are you?",
        "--base",
        "--temperature",
        "0",
        "--max-new-tokens",
        "8",
    )
    assert result.returncode == 0, result.stderr
    assert NAME not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", ""], "--prompt = '': is empty"),
        (["--prompt", "hi", "--max-new-tokens", "0"], "--max-new-tokens = 0"),
        (["--prompt", "hi", "--max-new-tokens", "1000000"], "less than or equal to 8192"),
        (["--prompt", "hi", "--template", "llama3"], "trained with ('qwen')"),
        (["--prompt", "hi", "--template", "nosuch", "--force-template"], "LLaMA-Factory knows"),
    ],
)
def test_chat_refuses_bad_input_with_a_message_and_status_2(
    learned_run: LearnedRun, args: list[str], message: str
):
    result = chat(learned_run, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def teammate_copy(learned_run: LearnedRun, studio: Studio) -> Path:
    run = studio.adapters / learned_run.run_dir.name
    run.mkdir(parents=True)
    for name in (
        "recipe.yaml",
        "llamafactory.yaml",
        "status.json",
        "adapter_config.json",
        "adapter_model.safetensors",
    ):
        shutil.copy(learned_run.run_dir / name, run / name)
    return run


def test_a_missing_base_model_or_a_damaged_adapter_is_a_message_not_a_traceback(
    learned_run: LearnedRun, studio: Studio
):
    run = teammate_copy(learned_run, studio)
    config = yaml.safe_load((run / "llamafactory.yaml").read_text())
    (run / "llamafactory.yaml").write_text(
        yaml.safe_dump(config | {"model_name_or_path": "/nonexistent/base"})
    )
    missing = studio.cli("chat", run.name, "--prompt", "hi")
    assert missing.returncode == 2
    assert "/nonexistent/base" in missing.stderr and "Traceback" not in missing.stderr
    chinese = studio.cli("--lang", "zh", "chat", run.name, "--prompt", "hi")
    assert chinese.returncode == 2
    assert "基础模型目录 /nonexistent/base" in chinese.stderr
    assert "修正：把模型放到那里，或用 --model PATH" in chinese.stderr

    (run / "adapter_config.json").write_text("{not json")
    damaged = studio.cli("export", run.name)
    assert damaged.returncode == 2
    assert "adapter_config.json is not valid JSON" in damaged.stderr
    assert "Traceback" not in damaged.stderr


def test_chat_with_an_unknown_run_says_how_to_list_runs(studio: Studio):
    result = studio.cli("chat", "nosuch", "--prompt", "hi")
    assert result.returncode == 2
    assert "no run matches 'nosuch'" in result.stderr
