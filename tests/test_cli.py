"""The command line, where its behaviour is not covered by the end-to-end training tests: the
language of its messages (English unless `--lang zh` or LORASTUDIO_LANG=zh) and its exit
statuses."""

from __future__ import annotations

import pytest
from conftest import REPO, Studio

from lorastudio.cli.exit_codes import ExitCode, for_state
from lorastudio.machine.hardware import detect
from ui.options import is_studio_call


@pytest.mark.slow
def test_compile_check_of_a_gpu_recipe_without_a_gpu_checks_what_it_can_and_says_so(
    studio: Studio,
):
    if detect().cuda:
        pytest.skip("this machine has a GPU, so the check goes further")
    recipe = REPO / "recipes" / "qwen2.5-7b-lora.yaml"

    result = studio.cli("compile", str(recipe), "--device", "cuda", "--check")

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "# LLaMA-Factory's parser (keys, types and choices; no cuda here for more): accepted"
        in result.stdout
    )


BAD_RECIPE = """schema_version: 1
name: bad
model: {id: Qwen/Qwen2.5-0.5B-Instruct}
data: {datasets: [identity]}
train: {max_steps: 1}
lora: {rnak: 8}
"""


def test_validate_speaks_english_by_default(studio: Studio):
    recipe = studio.write_recipe("bad.yaml", BAD_RECIPE)
    result = studio.cli("validate", str(recipe))
    assert result.returncode == 2
    assert f"{recipe}: The recipe has 1 problem:" in result.stdout
    assert "  - lora.rnak = 8: is not a known key. Fix: did you mean `rank`?" in result.stdout


def test_lorastudio_lang_zh_prints_a_bad_recipes_problems_in_chinese(studio: Studio):
    recipe = studio.write_recipe("bad.yaml", BAD_RECIPE)
    studio.env["LORASTUDIO_LANG"] = "zh"
    result = studio.cli("validate", str(recipe))
    assert result.returncode == 2
    assert f"{recipe}: 配方有 1 个问题：" in result.stdout
    assert "  - lora.rnak = 8：不是已知的键。修正：是不是想写 `rank`？" in result.stdout
    assert "is not a known key" not in result.stdout and "Traceback" not in result.stderr


def test_the_lang_option_before_the_command_outranks_lorastudio_lang(studio: Studio):
    recipe = studio.write_recipe("bad.yaml", BAD_RECIPE)
    studio.env["LORASTUDIO_LANG"] = "en"
    result = studio.cli("--lang", "zh", "validate", str(recipe))
    assert result.returncode == 2
    assert "不是已知的键" in result.stdout


def test_an_unknown_lorastudio_lang_falls_back_to_english(studio: Studio):
    recipe = studio.write_recipe("bad.yaml", BAD_RECIPE)
    studio.env["LORASTUDIO_LANG"] = "fr"
    assert "is not a known key" in studio.cli("validate", str(recipe)).stdout


def test_a_chat_input_error_is_said_in_chinese_with_its_flag(studio: Studio):
    result = studio.cli("--lang", "zh", "chat", "any-run", "--prompt", "")
    assert result.returncode == 2
    assert "error: --prompt = ''：是空的。修正：请写下要问的内容" in result.stderr


@pytest.mark.parametrize(
    ("argv", "studio_call"),
    [
        ([], True),
        (["--port", "7861", "--lang", "zh"], True),
        (["--lang", "zh"], True),
        (["--lang=zh", "--host", "127.0.0.1"], True),
        (["--lang", "zh", "validate", "r.yaml"], False),
        (["--lang=zh", "runs"], False),
        (["validate", "r.yaml"], False),
        (["--help"], False),
    ],
)
def test_a_leading_lang_is_the_studios_alone_and_the_commands_with_one(argv, studio_call):
    assert is_studio_call(argv) is studio_call


def test_a_runs_final_state_gives_the_documented_exit_status():
    assert [for_state(s) for s in ("succeeded", "failed", "stopped", "?")] == [0, 1, 3, 1]
    assert (ExitCode.USAGE, ExitCode.INTERRUPTED) == (2, 130)


def test_an_empty_lora_target_list_is_refused_by_validate(studio: Studio):
    recipe = REPO / "recipes" / "cpu-smoke.yaml"

    result = studio.cli("validate", str(recipe), "--set", "lora.target=[]")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "lora.target = []" in result.stdout and "at least 1 item" in result.stdout
