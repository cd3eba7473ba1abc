"""The command line, where its behaviour is not covered by the end-to-end training tests."""

from __future__ import annotations

import pytest
from conftest import REPO, Studio

from lorastudio.machine.hardware import detect


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


def test_an_empty_lora_target_list_is_refused_by_validate(studio: Studio):
    recipe = REPO / "recipes" / "cpu-smoke.yaml"

    result = studio.cli("validate", str(recipe), "--set", "lora.target=[]")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "lora.target = []" in result.stdout and "at least 1 item" in result.stdout
