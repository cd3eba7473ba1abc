"""The compiler is a pure function from recipe and target to LLaMA-Factory's arguments,
environment and command, following LLaMA-Factory's documented variables."""

from __future__ import annotations

from pathlib import Path

from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

WS = Workspace(Path("/w"), Path("/w/data"), Path("/w/adapters"))
REGISTRY = {"identity": {"file_name": "identity.json"}, "hub": {"hf_hub_url": "org/set"}}
RUN = Path("/w/adapters/RUN")
BASE = """
schema_version: 1
name: demo
model: {id: Qwen/Qwen2.5-0.5B-Instruct}
data: {datasets: [identity, hub], files: [mine/train.jsonl], format: sharegpt}
train: {epochs: 2}
"""


CPU = Target("cpu")


def compile_text(overrides: dict | None = None, target: Target = CPU):
    recipe = parse_recipe_text(BASE, overrides=overrides)
    return compile_recipe(recipe, target=target, run_dir=RUN, workspace=WS, registry=REGISTRY)


def test_compiling_twice_gives_identical_output():
    assert compile_text() == compile_text()


def test_the_run_gets_its_own_dataset_registry_with_absolute_files():
    compiled = compile_text()
    assert compiled.args["dataset"] == "identity,hub,file_train"
    assert compiled.args["dataset_dir"] == str(RUN)
    assert compiled.dataset_info == {
        "identity": {"file_name": "/w/data/identity.json"},
        "hub": {"hf_hub_url": "org/set"},
        "file_train": {"file_name": "/w/data/mine/train.jsonl", "formatting": "sharegpt"},
    }


def test_cpu_runs_hide_accelerators_and_use_fp32():
    compiled = compile_text()
    assert compiled.env["CUDA_VISIBLE_DEVICES"] == ""
    assert compiled.args["use_cpu"] is True
    assert "bf16" not in compiled.args and "fp16" not in compiled.args
    assert "FORCE_TORCHRUN" not in compiled.env


def test_auto_precision_is_bf16_on_gpus_and_one_gpu_needs_no_torchrun():
    compiled = compile_text(target=Target("cuda", 1))
    assert compiled.args["bf16"] is True and "use_cpu" not in compiled.args
    assert "FORCE_TORCHRUN" not in compiled.env and "CUDA_VISIBLE_DEVICES" not in compiled.env


def test_several_gpus_go_through_torchrun_with_the_chosen_cards():
    compiled = compile_text({"hardware": {"devices": [2, 3]}}, Target("cuda", 2))
    assert compiled.env["CUDA_VISIBLE_DEVICES"] == "2,3"
    assert compiled.env["FORCE_TORCHRUN"] == "1" and compiled.env["NPROC_PER_NODE"] == "2"
    assert compiled.env["NNODES"] == "1" and compiled.env["NODE_RANK"] == "0"


def test_npu_cards_are_chosen_with_ascend_rt_visible_devices():
    compiled = compile_text(
        {"hardware": {"device": "npu", "devices": [0, 1, 2, 3]}}, Target("npu", 4)
    )
    assert compiled.env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1,2,3"
    assert "CUDA_VISIBLE_DEVICES" not in compiled.env


def test_deepspeed_writes_its_config_and_forces_torchrun_even_on_one_card():
    compiled = compile_text({"hardware": {"deepspeed": 3, "offload": True}}, Target("cuda", 1))
    assert compiled.args["deepspeed"] == str(RUN / "ds_config.json")
    assert compiled.deepspeed["zero_optimization"]["stage"] == 3
    assert compiled.deepspeed["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert compiled.env["FORCE_TORCHRUN"] == "1"


def test_multi_node_settings_become_torchrun_variables():
    nodes = {"count": 2, "rank": 1, "master_addr": "10.0.0.1", "master_port": 29600}
    compiled = compile_text({"hardware": {"nodes": nodes}}, Target("cuda", 8))
    env = compiled.env
    assert (env["NNODES"], env["NODE_RANK"], env["MASTER_ADDR"], env["MASTER_PORT"]) == (
        "2",
        "1",
        "10.0.0.1",
        "29600",
    )


def test_modelscope_models_switch_llamafactory_to_the_modelscope_hub():
    compiled = compile_text({"model": {"hub": "modelscope"}})
    assert compiled.env["USE_MODELSCOPE_HUB"] == "1"


def test_trust_remote_code_is_off_unless_the_recipe_says_so():
    assert compile_text().args["trust_remote_code"] is False
    assert compile_text({"model": {"trust_remote_code": True}}).args["trust_remote_code"] is True


def test_the_stop_signal_handler_of_llamafactory_is_enabled():
    env = compile_text().env
    assert env["LLAMABOARD_ENABLED"] == "1" and env["LLAMABOARD_WORKDIR"] == str(RUN)


def test_qlora_and_validation_split_reach_llamafactory():
    compiled = compile_text(
        {"lora": {"quantization": 4}, "data": {"val_size": 0.1}}, Target("cuda")
    )
    args = compiled.args
    assert args["quantization_bit"] == 4 and args["quantization_method"] == "bnb"
    assert args["val_size"] == 0.1 and args["eval_strategy"] == "steps"


def test_extra_keys_are_passed_through():
    assert (
        compile_text({"extra": {"gradient_checkpointing": False}}).args["gradient_checkpointing"]
        is False
    )


def test_one_machine_leaves_the_rendezvous_port_to_llamafactory():
    """LLaMA-Factory picks a free port when MASTER_PORT is unset, so two runs on one machine
    (GPUs 0-3 and 4-7) do not both claim 29500."""
    compiled = compile_text({"hardware": {"devices": [4, 5, 6, 7]}}, Target("cuda", 4))
    assert compiled.env["FORCE_TORCHRUN"] == "1"
    assert "MASTER_PORT" not in compiled.env and "MASTER_ADDR" not in compiled.env
