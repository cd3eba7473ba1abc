"""On an NVIDIA GPU, for real: a LoRA of a random-weight model with Qwen2.5-0.5B's exact
architecture trains through `python launch.py train` in bf16, alone and under DeepSpeed ZeRO-2
and ZeRO-3 on one card, and as QLoRA 4-bit; pre-flight's memory estimate is checked against each
run's measured peak; a run stopped on the GPU (alone and under DeepSpeed) keeps its adapter,
leaves no process and resumes with one global step count; the version probe must see CUDA, a
model too big for the card is refused, and with two GPUs a data-parallel run trains. Run with
`pytest -m gpu` on a GPU machine; skipped elsewhere. Set LORASTUDIO_GPU_REPORT=path.jsonl to
collect tokens/s and peak memory per run."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import psutil
import pytest
from conftest import LF_DATA, TOKENIZER, Studio
from test_training_e2e import run_processes, status_of, steps_logged, wait_for

from lorastudio.machine.hardware import detect
from lorastudio.machine.probe import run_probe, version_problems

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not detect().cuda, reason="needs an NVIDIA GPU"),
]


@pytest.fixture(scope="module")
def qwen25_05b_random(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Qwen2.5-0.5B-Instruct's real config (494 M parameters) with random bf16 weights."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, Qwen2ForCausalLM

    out = tmp_path_factory.mktemp("models") / "qwen2.5-0.5b-random"
    config = AutoConfig.from_pretrained(TOKENIZER)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(TOKENIZER).save_pretrained(out)
    return out


def gpu_recipe(model: Path, name: str, deepspeed: str, quantization: str) -> str:
    return f"""schema_version: 1
name: {name}
model: {{id: {model}, template: qwen}}
data: {{datasets: [alpaca_en_demo], cutoff_len: 512, max_samples: 640}}
lora: {{rank: 16, alpha: 32, target: all, quantization: {quantization}}}
train: {{max_steps: 60, learning_rate: 5.0e-4, batch_size: 8, grad_accum: 1, warmup_steps: 5,
        logging_steps: 5, save_steps: 1000, precision: auto}}
hardware: {{device: cuda, devices: [0], deepspeed: {deepspeed}}}
"""


SETUPS = {  # name: (hardware.deepspeed, lora.quantization)
    "gpu-bf16": ("none", "none"),
    "gpu-zero2": ("2", "none"),
    "gpu-zero3": ("3", "none"),
    "gpu-qlora4": ("none", "4"),
}


@pytest.mark.parametrize("name", SETUPS)
def test_lora_of_qwen2_5_0_5b_architecture_trains_on_one_gpu(
    qwen25_05b_random: Path, tmp_path: Path, name: str
):
    deepspeed, quantization = SETUPS[name]
    if deepspeed != "none" and importlib.util.find_spec("deepspeed") is None:
        pytest.skip("DeepSpeed is not installed")
    if quantization != "none" and importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    studio = Studio(tmp_path, LF_DATA)
    studio.env["RECORD_VRAM"] = "1"  # LLaMA-Factory logs peak GPU memory per step
    recipe = gpu_recipe(qwen25_05b_random, name, deepspeed, quantization)
    path = studio.write_recipe(f"{name}.yaml", recipe)
    result = studio.cli("train", str(path), timeout=900)
    (run_dir,) = studio.run_dirs()
    status = json.loads((run_dir / "status.json").read_text())
    assert result.returncode == 0, (status, result.stdout[-3000:])
    assert status["state"] == "succeeded" and status["device"] == "cuda"
    assert "bf16: true" in (run_dir / "llamafactory.yaml").read_text()
    assert (run_dir / "adapter_model.safetensors").stat().st_size > 1_000_000

    records = [json.loads(x) for x in (run_dir / "trainer_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12 and all(loss == loss for loss in losses)  # 60 steps / 5, no NaN
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    # Pre-flight's estimate (every sequence at cutoff_len: a worst case) is not below what the
    # run really allocated at its peak.
    estimate_gib = json.loads((run_dir / "preflight.json").read_text())["memory_total"] / 2**30
    peak_gib = max(r.get("vram_allocated", 0) for r in records)
    assert peak_gib <= estimate_gib * 1.15, (peak_gib, estimate_gib)
    report = os.environ.get("LORASTUDIO_GPU_REPORT")
    if report:
        results = json.loads((run_dir / "train_results.json").read_text())
        row = {
            "run": name,
            "steps": records[-1]["current_steps"],
            "train_runtime_s": results.get("train_runtime"),
            "tokens_per_s": max((r.get("throughput", 0) for r in records), default=None),
            "peak_vram_allocated_gib": max(
                (r.get("vram_allocated", 0) for r in records), default=None
            ),
            "peak_vram_reserved_gib": max(
                (r.get("vram_reserved", 0) for r in records), default=None
            ),
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "preflight_estimate_gib": round(estimate_gib, 2),
        }
        with open(report, "a") as handle:
            handle.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("deepspeed", ["none", "2"])
def test_a_run_stopped_on_the_gpu_keeps_its_adapter_and_resumes_its_step_count(
    qwen25_05b_random: Path, tmp_path: Path, deepspeed: str
):
    if deepspeed != "none" and importlib.util.find_spec("deepspeed") is None:
        pytest.skip("DeepSpeed is not installed")
    studio = Studio(tmp_path, LF_DATA)
    text = gpu_recipe(qwen25_05b_random, f"stop-{deepspeed}", deepspeed, "none")
    text = text.replace("max_steps: 60", "max_steps: 300").replace(
        "save_steps: 1000", "save_steps: 20"
    )
    started = studio.cli("train", str(studio.write_recipe("s.yaml", text)), "--detach")
    assert started.returncode == 0, started.stdout + started.stderr
    (run_dir,) = studio.run_dirs()
    wait_for(
        lambda: steps_logged(run_dir) and steps_logged(run_dir)[-1]["current_steps"] >= 45, 600
    )

    stopped = studio.cli("stop", run_dir.name)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    status = status_of(run_dir)
    assert status["state"] == "stopped" and status["device"] == "cuda"
    assert "adapter trained so far is saved" in status["reason"]
    assert run_processes(status) == []  # every rank, the launcher and DeepSpeed's helpers too
    assert (
        not psutil.pid_exists(status["pid"]) or psutil.Process(status["pid"]).status() == "zombie"
    )
    assert (run_dir / "adapter_model.safetensors").stat().st_size > 1_000_000
    stopped_at = steps_logged(run_dir)[-1]["current_steps"]

    resumed = studio.cli("resume", run_dir.name, timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    status = status_of(run_dir)
    assert status["state"] == "succeeded" and status["attempt"] == 2
    resumed_from = status["resumed_from_step"]
    assert resumed_from % 20 == 0 and resumed_from <= stopped_at
    steps = [r["current_steps"] for r in steps_logged(run_dir) if "loss" in r]
    # The resumed attempt logs every step from its checkpoint to the end: one global count.
    assert steps[-len(range(resumed_from + 5, 301, 5)) :] == list(range(resumed_from + 5, 301, 5))
    assert sorted(set(steps)) == list(range(5, 301, 5))


def test_the_version_probe_sees_cuda_and_finds_nothing_to_fix():
    report = run_probe()
    assert report["cuda_available"] is True and report["cuda_devices"] >= 1
    assert report["driver"] and report["driver_cuda"]
    assert version_problems(report, "cuda") == []


def test_check_reports_this_gpu_and_the_memory_estimate(tmp_path: Path, qwen25_05b_random: Path):
    studio = Studio(tmp_path, LF_DATA)
    path = studio.write_recipe("c.yaml", gpu_recipe(qwen25_05b_random, "c", "none", "none"))
    result = studio.cli("check", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    name = detect().cuda[0].name
    assert f"devices: 1 × {name} (ids 0)" in result.stdout
    assert "memory:" in result.stdout and "torch_cuda" in result.stdout


def test_a_72b_lora_is_refused_on_one_gpu_before_anything_starts(tmp_path: Path):
    studio = Studio(tmp_path, LF_DATA)
    # fp32 weights of 72 B parameters (291 GB) exceed any single GPU, H200 included.
    text = gpu_recipe(Path("Qwen/Qwen2.5-72B-Instruct"), "huge", "none", "none")
    text = text.replace("precision: auto", "precision: fp32")
    result = studio.cli("train", str(studio.write_recipe("huge.yaml", text)))
    assert result.returncode == 2
    assert "model.id" in result.stderr and "weights alone do not fit" in result.stderr
    assert studio.run_dirs() == []


@pytest.mark.skipif(len(detect().cuda) < 2, reason="needs two NVIDIA GPUs")
def test_lora_trains_data_parallel_on_two_gpus(qwen25_05b_random: Path, tmp_path: Path):
    studio = Studio(tmp_path, LF_DATA)
    text = gpu_recipe(qwen25_05b_random, "ddp2", "none", "none")
    text = text.replace("devices: [0]", "devices: [0, 1]")
    result = studio.cli("train", str(studio.write_recipe("ddp2.yaml", text)), timeout=900)
    (run_dir,) = studio.run_dirs()
    assert result.returncode == 0, result.stdout[-3000:]
    assert "world size: 2" in (run_dir / "train.log").read_text()
    assert json.loads((run_dir / "launch.json").read_text())["env"]["NPROC_PER_NODE"] == "2"
