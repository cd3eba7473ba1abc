"""What the studio shows before a launch is what the launcher will run."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LF_DATA, tiny_recipe

from lorastudio.errors import RecipeError
from lorastudio.launch import launcher
from lorastudio.machine.hardware import Hardware
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

CPU_ONLY = Hardware(cuda=(), npu=(), cpu_count=2)


def test_the_preview_is_the_compiled_config_and_the_exact_command(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    recipe = parse_recipe_text(tiny_recipe(tmp_path / "model"))
    compiled, script = launcher.preview(recipe, workspace, CPU_ONLY)
    assert compiled.args["use_cpu"] is True and compiled.args["max_steps"] == 30
    assert compiled.args["output_dir"] == str(workspace.adapters_dir / "<run-id>")
    assert script.splitlines()[-1] == "exec llamafactory-cli train llamafactory.yaml"
    assert "export CUDA_VISIBLE_DEVICES=''" in script
    assert not workspace.adapters_dir.exists()  # a preview creates nothing


def test_a_preview_for_a_device_this_machine_lacks_names_the_field(tmp_path: Path):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    recipe = parse_recipe_text(tiny_recipe(tmp_path).replace("device: cpu", "device: cuda"))
    with pytest.raises(RecipeError) as caught:
        launcher.preview(recipe, workspace, CPU_ONLY)
    assert caught.value.problems[0].field == "hardware.device"
