"""Multi-node commands: node 0 runs the recipe as is, every other node adds its rank and node 0's
address; the flags override hardware.nodes and are validated like recipe fields."""

from __future__ import annotations

import json

import pytest
from conftest import LF_DATA, REPO, Studio

from lorastudio.cluster.multinode import NodeFlags, per_node_commands
from lorastudio.llamafactory.compiler import DATASET_INFO_FILE, Target, compile_recipe
from lorastudio.llamafactory.parser_check import check_train_args
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

RECIPE = """
schema_version: 1
name: big
model: {id: Qwen/Qwen2.5-0.5B-Instruct}
data: {datasets: [identity]}
train: {max_steps: 10}
hardware:
  device: cuda
  nodes: {count: 3, master_addr: 10.0.0.1, master_port: 29500}
"""


def test_every_node_gets_its_command_node_0_first():
    commands = per_node_commands(parse_recipe_text(RECIPE), "recipes/big.yaml")
    assert commands == [
        "python launch.py train recipes/big.yaml",
        "python launch.py train recipes/big.yaml --node-rank 1 --master-addr 10.0.0.1",
        "python launch.py train recipes/big.yaml --node-rank 2 --master-addr 10.0.0.1",
    ]


def test_a_port_other_than_torchruns_default_and_overrides_are_repeated_on_every_node():
    recipe = parse_recipe_text(RECIPE, overrides={"hardware": {"nodes": {"master_port": 29611}}})
    extra = ("--set", "train.max_steps=50")
    last = per_node_commands(recipe, "my recipe.yaml", extra)[-1]
    assert last == (
        "python launch.py train 'my recipe.yaml' --set train.max_steps=50 "
        "--node-rank 2 --master-addr 10.0.0.1 --master-port 29611"
    )


def test_node_flags_become_overrides_of_hardware_nodes():
    flags = NodeFlags(nnodes=2, node_rank=1, master_addr="10.0.0.9")
    assert flags.overrides() == [
        "hardware.nodes.count=2",
        "hardware.nodes.rank=1",
        "hardware.nodes.master_addr=10.0.0.9",
    ]


def test_compile_with_node_flags_shows_that_nodes_torchrun_variables(studio: Studio):
    path = studio.write_recipe("big.yaml", RECIPE)
    result = studio.cli(
        "compile", str(path), "--device", "cuda", "--node-rank", "2", "--master-port", "29612"
    )
    assert result.returncode == 0, result.stderr
    command = result.stdout.split("# command (run in the run folder)\n")[1]
    for pair in ("NNODES=3", "NODE_RANK=2", "MASTER_ADDR=10.0.0.1", "MASTER_PORT=29612"):
        assert pair in command


def test_a_node_rank_beyond_the_node_count_is_refused_naming_the_field(studio: Studio):
    path = studio.write_recipe("big.yaml", RECIPE)
    result = studio.cli("compile", str(path), "--device", "cuda", "--node-rank", "3")
    assert result.returncode == 2
    assert "hardware.nodes" in result.stderr and "must be below nodes.count 3" in result.stderr


@pytest.mark.slow
def test_llamafactorys_full_check_accepts_node_1_of_a_two_node_cpu_run(tmp_path):
    """Every check of get_train_args, run as rank 0 of a one-process torchrun world; the node's
    MASTER_ADDR (another machine) is not contacted."""
    text = (REPO / "recipes" / "cpu-smoke.yaml").read_text()
    nodes = {"count": 2, "rank": 1, "master_addr": "10.0.0.1", "interface": "lo"}
    recipe = parse_recipe_text(text, overrides={"hardware": {"nodes": nodes}})
    workspace = Workspace(tmp_path, LF_DATA, tmp_path)
    registry = workspace.dataset_registry()
    compiled = compile_recipe(
        recipe, target=Target("cpu"), run_dir=tmp_path, workspace=workspace, registry=registry
    )
    (tmp_path / DATASET_INFO_FILE).write_text(json.dumps(compiled.dataset_info))
    assert compiled.args["ddp_backend"] == "gloo" and compiled.env["NODE_RANK"] == "1"
    assert check_train_args(compiled.args, compiled.env, full=True) is None
