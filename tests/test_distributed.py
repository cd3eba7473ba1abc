"""The compiled environment follows LLaMA-Factory's launcher and the collective libraries: torchrun
settings, device visibility, Gloo on CPU, HCCL on Ascend, and bf16 only where the cards have it."""

from __future__ import annotations

from pathlib import Path

from recorded_npu import NPU_SMI_910PROB_8CARD_IDLE

from lorastudio.launch.launcher import plan_target
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.llamafactory.environment import HCCL_CONNECT_TIMEOUT_S
from lorastudio.machine.hardware import Accelerator, Hardware, parse_npu_smi
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

WS = Workspace(Path("/w"), Path("/w/data"), Path("/w/adapters"))
RUN = Path("/w/adapters/RUN")
BASE = """
schema_version: 1
name: demo
model: {id: Qwen/Qwen2.5-7B-Instruct}
data: {datasets: [identity]}
train: {max_steps: 10}
"""
TWO_NODES = {"count": 2, "rank": 1, "master_addr": "10.0.0.1", "master_port": 29600}


def recipe(overrides: dict | None = None):
    return parse_recipe_text(BASE, overrides=overrides)


CPU = Target("cpu")


def compiled(overrides: dict | None = None, target: Target = CPU):
    return compile_recipe(
        recipe(overrides),
        target=target,
        run_dir=RUN,
        workspace=WS,
        registry={"identity": {"file_name": "identity.json"}},
    )


def test_a_cpu_run_on_two_nodes_uses_gloo_and_one_process_per_node():
    result = compiled({"hardware": {"device": "cpu", "nodes": TWO_NODES}})
    assert result.args["ddp_backend"] == "gloo" and result.args["use_cpu"] is True
    # LLaMA-Factory's launcher would run 0 processes per node on a CPU (no devices counted).
    assert result.env["NPROC_PER_NODE"] == "1" and result.env["FORCE_TORCHRUN"] == "1"
    assert (result.env["NNODES"], result.env["NODE_RANK"]) == ("2", "1")


def test_a_single_process_cpu_run_needs_no_backend():
    assert "ddp_backend" not in compiled().args


def test_the_nodes_interface_reaches_every_collective_library_of_the_device():
    nodes = TWO_NODES | {"interface": "eth1"}
    npu = compiled({"hardware": {"device": "npu", "nodes": nodes}}, Target("npu", 8)).env
    gpu = compiled({"hardware": {"device": "cuda", "nodes": nodes}}, Target("cuda", 8)).env
    cpu = compiled({"hardware": {"device": "cpu", "nodes": nodes}}).env
    assert npu["HCCL_SOCKET_IFNAME"] == npu["GLOO_SOCKET_IFNAME"] == "eth1"
    assert gpu["NCCL_SOCKET_IFNAME"] == gpu["GLOO_SOCKET_IFNAME"] == "eth1"
    assert cpu["GLOO_SOCKET_IFNAME"] == "eth1" and "NCCL_SOCKET_IFNAME" not in cpu


def test_npu_ranks_wait_long_enough_for_rank_zero_to_prepare_the_data():
    eight = compiled({"hardware": {"device": "npu"}}, Target("npu", 8)).env
    one = compiled({"hardware": {"device": "npu"}}, Target("npu", 1)).env
    assert eight["HCCL_CONNECT_TIMEOUT"] == str(HCCL_CONNECT_TIMEOUT_S)
    assert 120 <= HCCL_CONNECT_TIMEOUT_S <= 7200  # the range CANN accepts
    assert "HCCL_CONNECT_TIMEOUT" not in one


def test_cards_without_bf16_train_in_fp16_when_precision_is_auto():
    result = compiled({"hardware": {"device": "npu"}}, Target("npu", 8, bf16=False))
    assert result.args["fp16"] is True and "bf16" not in result.args


def test_the_first_generation_910_is_planned_without_bf16_and_the_910b_with_it():
    first = Hardware(cuda=(), npu=tuple(parse_npu_smi(NPU_SMI_910PROB_8CARD_IDLE)), cpu_count=96)
    b3 = Hardware(
        cuda=(),
        npu=tuple(Accelerator("npu", i, "910B3", 65536, 3314) for i in range(8)),
        cpu_count=96,
    )
    npu_recipe = recipe({"hardware": {"device": "npu"}})
    assert plan_target(npu_recipe, first) == Target("npu", 8, bf16=False, card=first.npu[0])
    assert plan_target(npu_recipe, b3) == Target("npu", 8, bf16=True, card=b3.npu[0])


def test_qlora_on_ascend_turns_double_quantization_off():
    result = compiled({"lora": {"quantization": 4}, "hardware": {"device": "npu"}}, Target("npu"))
    assert result.args["quantization_bit"] == 4 and result.args["double_quantization"] is False
    on_gpu = compiled({"lora": {"quantization": 4}}, Target("cuda"))
    assert "double_quantization" not in on_gpu.args


def test_one_machine_never_fixes_the_rendezvous_port_and_many_nodes_always_do():
    """LLaMA-Factory picks a free port when MASTER_PORT is unset, so two single-machine runs side
    by side never collide; nodes must all name node 0's port."""
    alone = compiled({"hardware": {"device": "cuda"}}, Target("cuda", 4)).env
    nodes = compiled({"hardware": {"device": "cuda", "nodes": TWO_NODES}}, Target("cuda", 4)).env
    assert "MASTER_PORT" not in alone
    assert (nodes["MASTER_ADDR"], nodes["MASTER_PORT"]) == ("10.0.0.1", "29600")
