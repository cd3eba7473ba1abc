"""Pre-flight, before anything starts: every problem names the field and the fix; memory that only
might not fit is a warning. Machines are described by recorded npu-smi tables or card lists; the
version report is a recorded probe result (the probe itself is tested in test_probe.py)."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import socket
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, Studio
from recorded_npu import NPU_SMI_910PROB_8CARD_IDLE

from lorastudio.checks.preflight import run_preflight
from lorastudio.cli.scale import print_launch_notes
from lorastudio.errors import Problem
from lorastudio.launch.launcher import plan_target
from lorastudio.llamafactory.compiler import Target
from lorastudio.machine.hardware import Accelerator, Hardware, parse_npu_smi
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

NPU_OK = {"torch": "2.5.1", "torch_npu": "2.5.1.post1", "npu_available": True, "cann_home": "/c"}
GPU_OK = {"torch": "2.6.0+cu124", "torch_cuda": "12.4", "cuda_available": True}
BASE = """
schema_version: 1
name: demo
model: {id: Qwen/Qwen2.5-7B-Instruct}
data: {datasets: [identity], cutoff_len: 2048}
train: {max_steps: 100, batch_size: 2, save_steps: 50}
"""


def npus(text: str) -> Hardware:
    return Hardware(cuda=(), npu=tuple(parse_npu_smi(text)), cpu_count=96)


def gpus(name: str, total_mib: int, count: int = 1, used_mib: int = 0) -> Hardware:
    cards = tuple(Accelerator("cuda", i, name, total_mib, used_mib) for i in range(count))
    return Hardware(cuda=cards, npu=(), cpu_count=32)


H100 = gpus("NVIDIA H100 80GB HBM3", 81559)
RTX_4090 = gpus("NVIDIA GeForce RTX 4090", 24564, used_mib=2048)  # a desktop on it
FIRST_GEN_910 = npus(NPU_SMI_910PROB_8CARD_IDLE)
BUSY_910B2C = npus((FIXTURES / "npu-smi" / "910b2c-16card-busy.txt").read_text())


def check(overrides: dict, hardware: Hardware, tmp_path: Path, probe: dict | None = None):
    if (overrides.get("hardware") or {}).get("device") == "cpu":  # fp32 7B would not fit in RAM
        overrides = {"model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}} | overrides
    recipe = parse_recipe_text(BASE, overrides=overrides)
    workspace = Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")
    target = plan_target(recipe, hardware)
    versions = probe if probe is not None else (NPU_OK if target.device == "npu" else GPU_OK)
    return run_preflight(recipe, workspace, target, hardware, {}, probe=lambda: versions)


def fields(problems) -> list[str]:
    return [p.field for p in problems]


def test_bf16_on_a_first_generation_910_is_refused_with_fp16_as_the_fix(tmp_path):
    report = check(
        {"hardware": {"device": "npu"}, "train": {"precision": "bf16"}}, FIRST_GEN_910, tmp_path
    )
    (problem,) = [p for p in report.problems if p.field == "train.precision"]
    assert "910ProB" in str(problem.message) and "fp16" in str(problem.fix)


def test_auto_precision_on_a_first_generation_910_passes(tmp_path):
    report = check(
        {"hardware": {"device": "npu"}, "model": {"id": "Qwen/Qwen2.5-0.5B-Instruct"}},
        FIRST_GEN_910,
        tmp_path,
    )
    assert report.problems == []


def test_8_bit_qlora_on_ascend_is_refused(tmp_path):
    report = check(
        {"hardware": {"device": "npu"}, "lora": {"quantization": 8}}, FIRST_GEN_910, tmp_path
    )
    assert "4-bit bitsandbytes only" in str(report.problems[0].message)


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes here"
)
def test_4_bit_qlora_on_ascend_needs_bitsandbytes_built_for_the_npu(tmp_path):
    hardware = npus((FIXTURES / "npu-smi" / "910b3-8card-idle.txt").read_text())
    report = check({"hardware": {"device": "npu"}, "lora": {"quantization": 4}}, hardware, tmp_path)
    (problem,) = report.problems
    assert problem.field == "lora.quantization" and "COMPUTE_BACKEND=npu" in str(problem.fix)


def test_qlora_on_the_cpu_is_refused(tmp_path):
    report = check({"hardware": {"device": "cpu"}, "lora": {"quantization": 4}}, H100, tmp_path)
    assert "lora.quantization" in fields(report.problems)


def test_ascend_310_inference_cards_are_refused(tmp_path):
    hardware = Hardware(cuda=(), npu=(Accelerator("npu", 0, "310P3", 21534, 1000),), cpu_count=8)
    report = check(
        {"hardware": {"device": "npu"}, "train": {"precision": "fp16"}}, hardware, tmp_path
    )
    assert "inference cards" in str(report.problems[0].message)


def test_a_72b_model_on_one_h100_is_refused_and_qlora_suggested(tmp_path):
    report = check({"model": {"id": "Qwen/Qwen2.5-72B-Instruct"}}, H100, tmp_path)
    (problem,) = report.problems
    assert problem.field == "model.id" and "weights alone do not fit" in str(problem.message)
    assert str(problem.fix).startswith("set lora.quantization: 4")


def test_busy_npus_leave_no_room_for_a_7b_model(tmp_path):
    report = check({"hardware": {"device": "npu", "devices": [0]}}, BUSY_910B2C, tmp_path)
    (problem,) = report.problems
    assert "free on npu 0 (910B2C)" in str(problem.message)


def test_memory_that_might_not_fit_is_a_warning_with_the_change_that_fits(tmp_path):
    report = check({}, RTX_4090, tmp_path)
    assert report.problems == []
    (warning,) = report.warnings
    assert warning.field == "model.id" and "may not fit" in str(warning.message)
    assert str(warning.fix).startswith("set train.batch_size: 1, train.grad_accum: 16")
    assert report.suggestion.changes == {"train.batch_size": 1, "train.grad_accum": 16}


def test_a_warning_kept_in_preflight_json_reads_back_as_the_same_sentence(tmp_path):
    report = check({}, RTX_4090, tmp_path)
    saved = json.loads(json.dumps(report.as_dict()))
    (warning,) = report.warnings
    (kept,) = [Problem.from_dict(data) for data in saved["warnings"]]
    assert kept.message.key == "problem.may_not_fit" and kept.fix == warning.fix
    for lang in ("en", "zh"):
        assert kept.text(lang) == warning.text(lang)
    assert "model.id = 'Qwen/Qwen2.5-7B-Instruct': with batch 2 × 2048 tokens" in kept.text()


def test_train_prints_preflights_warnings_as_sentences(tmp_path):
    report = check({}, RTX_4090, tmp_path)
    (tmp_path / "preflight.json").write_text(json.dumps(report.as_dict()))
    out = io.StringIO()
    print_launch_notes(tmp_path, parse_recipe_text(BASE), argparse.Namespace(lang="en"), out)
    (line,) = out.getvalue().splitlines()
    assert line.startswith("warning: model.id = 'Qwen/Qwen2.5-7B-Instruct': with batch 2")
    assert line.endswith("train.grad_accum: 16 (about 19.0 GiB per card)") and "{" not in line


def test_a_7b_lora_fits_an_h100_without_warnings(tmp_path):
    report = check({}, H100, tmp_path)
    assert (report.problems, report.warnings) == ([], [])
    assert report.memory.total < report.memory_budget
    assert [card.index for card in report.cards] == [0]


def test_version_problems_stop_a_gpu_run(tmp_path):
    report = check({}, H100, tmp_path, probe={"torch": "2.6.0+cpu", "torch_cuda": None})
    assert "CPU-only build" in str(report.problems[0].message)


def test_the_cpu_needs_no_version_probe(tmp_path):
    recipe = parse_recipe_text(BASE, overrides={"hardware": {"device": "cpu"}})
    workspace = Workspace(tmp_path, tmp_path, tmp_path)

    def no_probe():
        raise AssertionError("probed")

    report = run_preflight(recipe, workspace, Target("cpu"), H100, {}, probe=no_probe)
    assert report.versions == {}


def test_node_0_refuses_a_rendezvous_port_that_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        port = taken.getsockname()[1]
        nodes = {"count": 2, "master_addr": "127.0.0.1", "master_port": port}
        report = check({"hardware": {"device": "cpu", "nodes": nodes}}, H100, tmp_path)
    (problem,) = report.problems
    assert problem.field == "hardware.nodes.master_port" and "--master-port" in str(problem.fix)


def test_other_nodes_do_not_need_the_port_free(tmp_path):
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        nodes = {"count": 2, "rank": 1, "master_port": taken.getsockname()[1]}
        report = check({"hardware": {"device": "cpu", "nodes": nodes}}, H100, tmp_path)
    assert report.problems == []


def test_a_loopback_master_address_on_node_0_is_a_warning(tmp_path):
    nodes = {"count": 2, "master_port": 29577}
    report = check({"hardware": {"device": "cpu", "nodes": nodes}}, H100, tmp_path)
    assert fields(report.warnings) == ["hardware.nodes.master_addr"]


def test_ascend_nodes_without_an_interface_get_a_warning_and_a_wrong_one_a_problem(tmp_path):
    hardware = npus((FIXTURES / "npu-smi" / "910b3-8card-idle.txt").read_text())
    nodes = {"count": 2, "rank": 1, "master_addr": "10.0.0.1"}
    unset = check({"hardware": {"device": "npu", "nodes": nodes}}, hardware, tmp_path)
    wrong = check(
        {"hardware": {"device": "npu", "nodes": nodes | {"interface": "nosuch9"}}},
        hardware,
        tmp_path,
    )
    assert "HCCL_SOCKET_IFNAME" in str(unset.warnings[0].message)
    assert fields(wrong.problems) == ["hardware.nodes.interface"]


def test_disk_for_checkpoints_is_counted_from_the_steps(tmp_path):
    report = check({}, H100, tmp_path)
    lora_params = 20_185_088  # rank 8 on every linear layer of Qwen2.5-7B
    assert report.disk_needed == lora_params * 16 * 3 + (1 << 30)  # checkpoints 50, 100, final
    assert report.disk_free > 0


def test_launch_py_check_prints_the_report_and_starts_nothing(studio: Studio):
    recipe = str(REPO / "recipes" / "cpu-smoke.yaml")
    result = studio.cli("check", recipe)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("devices: cpu\nmemory:  ")
    assert "disk:    " in result.stdout
    assert f"ready: python launch.py train {recipe}" in result.stdout
    report = json.loads(studio.cli("check", recipe, "--json").stdout)
    assert report["memory_total"] > report["memory"]["weights"] > 0
    assert studio.run_dirs() == []


def test_launch_py_check_exits_2_listing_the_problems(studio: Studio):
    recipe = str(REPO / "recipes" / "cpu-smoke.yaml")
    result = studio.cli("check", recipe, "--set", "lora.quantization=4")
    assert result.returncode == 2
    assert "problems (nothing would start):\n  - lora.quantization = 4" in result.stdout


# ---------------------------------------------------------------- every catalogued model


def on_a_cpu_box(monkeypatch, gib: int) -> None:
    """This machine's available RAM, as pre-flight reads it."""
    import lorastudio.checks.fit as fit

    class Memory:
        available = gib << 30

    monkeypatch.setattr(fit.psutil, "virtual_memory", lambda: Memory())


def cpu_check(model: str, tmp_path: Path):
    recipe = parse_recipe_text(BASE, overrides={"model": {"id": model}})
    workspace = Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")
    hardware = Hardware(cuda=(), npu=(), cpu_count=8)
    return run_preflight(recipe, workspace, Target("cpu"), hardware, {}, probe=dict)


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen3-8B"])
def test_an_8b_model_on_a_24_gib_cpu_box_is_refused_with_a_smaller_model_not_zero_3(
    model: str, tmp_path, monkeypatch
):
    on_a_cpu_box(monkeypatch, 24)
    (problem,) = cpu_check(model, tmp_path).problems
    assert problem.field == "model.id" and problem.message.key == "problem.weights_do_not_fit"
    assert problem.fix.key == "fix.cpu_no_fit"
    for lang in ("en", "zh"):
        assert "deepspeed" not in problem.fix.text(lang)
    family = "Qwen3" if "Qwen3" in model else "Qwen2.5"
    assert f"model.id: Qwen/{family}-" in problem.fix.text("en")  # a smaller model that fits
    assert "GPU" in problem.fix.text("zh")


def test_every_catalogued_model_is_sized_never_skipped(tmp_path):
    report = check({"model": {"id": "Qwen/Qwen3-4B-Thinking-2507"}}, H100, tmp_path)
    assert report.memory is not None
    assert not any(note.key == "note.memory_skipped" for note in report.notes)


def test_the_template_a_run_trains_with_is_noted_in_the_report(tmp_path):
    report = check({"model": {"id": "Qwen/Qwen3-8B", "thinking": "off"}}, H100, tmp_path)
    (note,) = [n for n in report.notes if n.key == "note.template_thinking"]
    assert note.text("en") == "chat template: qwen3, thinking off (from the catalogue: Qwen3-8B)"
    assert note.text("zh") == "对话模板：qwen3，关闭思考（来自模型目录：Qwen3-8B）"


def test_an_moe_model_that_does_not_fit_one_card_says_all_experts_count(tmp_path):
    report = check({"model": {"id": "Qwen/Qwen3-30B-A3B"}}, RTX_4090, tmp_path)
    (problem,) = report.problems
    assert problem.message.key == "problem.weights_do_not_fit"
    assert problem.fix.key == "fix.moe_no_fit"
    assert "all 128 experts" in problem.fix.text("en") and "hardware.deepspeed: 3" in str(
        problem.fix
    )
    assert "全部 128 个专家" in problem.fix.text("zh")
