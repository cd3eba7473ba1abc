"""The speed plan (train.speed: auto): what it compiles to on the cards we know, that it keeps what
is learned (the effective batch) and never plans past the card's memory, that `extra` and
`train.speed: off` win, and that a CPU run (every CI test) compiles exactly as written."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Studio, tiny_recipe

from lorastudio.errors import RecipeError
from lorastudio.launch.launcher import plan_target
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.llamafactory.speed import BUDGET_SHARE, MAX_MICRO_BATCH
from lorastudio.machine.hardware import Accelerator, Hardware
from lorastudio.machine.peaks import mfu, peak_flops
from lorastudio.models.catalogue import catalogue
from lorastudio.models.memory import TrainSetup, estimate
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

WS = Workspace(root=Path("/studio"), data_dir=Path("/studio/data"), adapters_dir=Path("/a"))
RUN = Path("/a/RUN")
REGISTRY = {"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}
SHIPPED_7B = (REPO / "recipes" / "qwen2.5-7b-lora.yaml").read_text(encoding="utf-8")

H200 = Accelerator("cuda", 0, "NVIDIA H200", 143771, 542)
H100 = Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 0)
RTX4090 = Accelerator("cuda", 0, "NVIDIA GeForce RTX 4090", 24564, 300)
ASCEND = Accelerator("npu", 0, "910B3", 65536, 3314)
CARDS = [H200, H100, RTX4090, ASCEND]


def recipe(overrides: dict | None = None, text: str = SHIPPED_7B):
    """The recipe ``text`` with ``overrides`` ({"data.packing": "packed"}) set."""
    nested: dict = {}
    for path, value in (overrides or {}).items():
        *sections, key = path.split(".")
        node = nested
        for section in sections:
            node = node.setdefault(section, {})
        node[key] = value
    return parse_recipe_text(text, overrides=nested)


def target(card: Accelerator, kernels=frozenset(), count: int = 1) -> Target:
    return Target(card.kind, count, card=card, kernels=frozenset(kernels))


def compiled(overrides: dict | None = None, on: Target | None = None, text: str = SHIPPED_7B):
    return compile_recipe(
        recipe(overrides, text),
        target=on or target(H100),
        run_dir=RUN,
        workspace=WS,
        registry=REGISTRY,
    )


def batch_of(result) -> tuple[int, int]:
    return result.args["per_device_train_batch_size"], result.args["gradient_accumulation_steps"]


def test_the_shipped_7b_recipe_fills_an_h200_instead_of_batch_1():
    result = compiled(on=target(H200))
    micro, accum = batch_of(result)
    assert (micro, accum) == (16, 1)  # was 1 × 16: the same 16 examples per update
    assert result.args["train_sampling_strategy"] == "group_by_length"
    assert result.args["dataloader_num_workers"] == 4
    assert result.env["PYTORCH_CUDA_ALLOC_CONF"] == "expandable_segments:True"
    words = result.plan.describe().text("en")
    assert "batch 16 × accumulation 1 instead of 1 × 16" in words and "NVIDIA H200" in words


def test_packed_rows_on_an_h200_with_liger_plan_the_measured_fastest_setting():
    """The fastest setting measured on an H200 (10,930 tokens/s): packing, batch 8 of 2,048-token
    rows, checkpointing off, Liger (../shared/notes/gpu-machine.md)."""
    result = compiled({"data.packing": "packed"}, target(H200, {"liger"}))
    assert result.args["packing"] is True and "neat_packing" not in result.args
    assert result.args["enable_liger_kernel"] is True
    assert result.args["disable_gradient_checkpointing"] is True
    assert batch_of(result) == (8, 2)
    assert "train_sampling_strategy" not in result.args  # rows are full: nothing to group


def test_liger_is_used_only_where_it_is_installed_and_the_rows_are_packed():
    assert "enable_liger_kernel" not in compiled({"data.packing": "packed"}, target(H200)).args
    assert "enable_liger_kernel" not in compiled(on=target(H200, {"liger"})).args


@pytest.mark.parametrize("card", CARDS, ids=lambda c: c.name)
@pytest.mark.parametrize("packing", ["none", "packed"])
@pytest.mark.parametrize(
    "name", ["qwen2.5-0.5b-lora", "qwen2.5-7b-lora", "qwen2.5-7b-qlora-4bit", "qwen3-8b-lora"]
)
def test_the_plan_keeps_the_effective_batch_and_fits_the_card(card, packing, name):
    text = (REPO / "recipes" / f"{name}.yaml").read_text(encoding="utf-8")
    overrides = {"data.packing": packing, "hardware.device": card.kind, "hardware.devices": [0]}
    written = recipe(overrides, text)
    result = compiled(overrides, target(card, {"liger"}), text)
    micro, accum = batch_of(result)
    assert micro * accum == written.train.batch_size * written.train.grad_accum
    plan = result.plan
    if plan.estimate is None:  # nothing fits: as written, and pre-flight says what to change
        assert (micro, accum) == (written.train.batch_size, written.train.grad_accum)
        return
    assert plan.estimate <= plan.budget == int(card.memory_free_mib * (1 << 20) * BUDGET_SHARE)
    # the largest micro-batch that fits: the next divisor up does not
    product = micro * accum
    bigger = [m for m in range(micro + 1, min(product, MAX_MICRO_BATCH) + 1) if product % m == 0]
    if bigger:
        shape = catalogue().find(written.model.id).shape
        setup = TrainSetup(
            precision="bf16", quantization=written.lora.quantization, lora_rank=written.lora.rank,
            lora_target=written.lora.target, batch_size=bigger[0],
            cutoff_len=written.data.cutoff_len, deepspeed="none", offload=False, world_size=1,
            checkpointing=plan.checkpointing, fused_loss=plan.liger,
        )  # fmt: skip
        assert estimate(shape, setup).total > plan.budget


def test_checkpointing_stays_on_where_memory_needs_it():
    """A 24 GB card holds a 7B model's weights and little else: checkpointing stays on."""
    result = compiled(on=target(RTX4090))
    assert "disable_gradient_checkpointing" not in result.args
    assert result.plan.checkpointing is True


def test_what_extra_sets_wins_over_the_plan():
    extra = {"disable_gradient_checkpointing": False, "dataloader_num_workers": 1}
    result = compiled({"extra": extra}, target(H200))
    assert result.args["disable_gradient_checkpointing"] is False
    assert result.args["dataloader_num_workers"] == 1
    assert result.plan.checkpointing is True  # the batch was sized with checkpointing on
    assert "disable_gradient_checkpointing" in result.plan.describe().text("en")


def test_speed_off_gives_llamafactorys_defaults_with_the_batch_as_written():
    result = compiled({"train.speed": "off"}, target(H200, {"liger"}))
    assert batch_of(result) == (1, 16)
    for key in ("train_sampling_strategy", "dataloader_num_workers", "enable_liger_kernel"):
        assert key not in result.args
    assert "PYTORCH_CUDA_ALLOC_CONF" not in result.env


def test_a_cpu_run_compiles_exactly_as_written_whatever_the_speed_setting():
    cpu = {"hardware.device": "cpu", "hardware.devices": None}
    auto = compiled(cpu, Target("cpu"))
    off = compiled(cpu | {"train.speed": "off"}, Target("cpu"))
    assert auto.args == off.args and auto.env == off.env
    assert batch_of(auto) == (1, 16)
    assert "none on a CPU" in auto.plan.describe().text("en")


def test_without_a_card_to_size_for_the_batch_is_as_written_and_the_plan_says_why():
    result = compiled(on=Target("cuda", 1))
    assert batch_of(result) == (1, 16)
    assert "no card here to size the batch for" in result.plan.describe().text("en")
    assert "本机没有可用来确定批大小的卡" in result.plan.describe().text("zh")


def test_on_ascend_the_plan_uses_npu_fusion_attention_and_canns_settings():
    result = compiled({"hardware.device": "npu"}, target(ASCEND))
    assert result.args["flash_attn"] == "fa2"  # LLaMA-Factory routes it to npu_fusion_attention
    assert result.env["TASK_QUEUE_ENABLE"] == "2"
    assert result.env["PYTORCH_NPU_ALLOC_CONF"] == "expandable_segments:True"
    assert "enable_liger_kernel" not in compiled({"data.packing": "packed"}, target(ASCEND)).args


def test_neat_packing_uses_flash_attention_where_it_is_installed():
    neat = {"data.packing": "neat"}
    assert compiled(neat, target(H100, {"flash_attn"})).args["flash_attn"] == "fa2"
    assert "flash_attn" not in compiled(neat, target(H100)).args
    assert compiled(neat, target(H100)).args["neat_packing"] is True


def test_packing_is_the_recipes_choice_on_every_device_including_the_cpu():
    cpu = {"hardware.device": "cpu", "hardware.devices": None, "data.packing": "packed"}
    assert compiled(cpu, Target("cpu")).args["packing"] is True


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_neat_packing_for_pre_training_is_refused_naming_the_field_and_the_fix(lang):
    with pytest.raises(RecipeError) as refused:
        recipe({"data.packing": "neat", "train.stage": "pt"})
    words = refused.value.text(lang)
    assert "data.packing" in words
    assert ("data.packing: packed" in words) and (("sft" in words) if lang == "en" else True)


def test_a_recipe_without_the_new_fields_keeps_its_hash():
    plain = recipe()
    explicit = recipe({"train.speed": "auto", "data.packing": "none"})
    assert plain.content_hash() == explicit.content_hash()
    assert recipe({"train.speed": "off"}).content_hash() != plain.content_hash()


def test_the_plan_is_planned_for_the_tightest_of_the_chosen_cards():
    busy = replace(H100, index=1, memory_used_mib=40000)
    hardware = Hardware(cuda=(H100, busy), npu=(), cpu_count=32, kernels=frozenset())
    two = recipe({"hardware.devices": [0, 1]})
    planned = plan_target(two, hardware)
    assert planned.card == busy
    result = compile_recipe(two, target=planned, run_dir=RUN, workspace=WS, registry=REGISTRY)
    assert "GPU 1 (NVIDIA H100 80GB HBM3)" in result.plan.describe().text("en")
    assert batch_of(result)[0] < batch_of(compiled(on=target(H100)))[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_when_nothing_fits_the_batch_is_as_written_and_the_plan_says_so(lang):
    small = Accelerator("cuda", 0, "NVIDIA T4", 15360, 0)
    result = compiled(on=target(small))
    assert batch_of(result) == (1, 16)
    words = result.plan.describe().text(lang)
    assert ("nothing fits" if lang == "en" else "放不下任何方案") in words and "NVIDIA T4" in words


def test_compile_prints_the_plan_in_the_users_language_above_the_config(studio: Studio):
    shipped = str(REPO / "recipes" / "qwen2.5-7b-lora.yaml")
    result = studio.cli("--lang", "zh", "compile", shipped, "--device", "cuda")
    assert result.returncode == 0, result.stderr
    config = result.stdout.split("\n# ", 2)  # the file's name, the plan, then the config
    assert config[1].startswith("提速方案：")
    args = yaml.safe_load(result.stdout.split("\n\n# ")[0])
    assert args["per_device_train_batch_size"] == 1  # no card on this machine: as written


# ---------------------------------------------------------------- MFU, the benchmark, a real run


def test_mfu_is_model_flops_over_the_cards_dense_peak_and_none_for_an_unknown_card():
    # the issue's figure: 10,930 tokens/s of a 7.6 B model on one H200 is about 34 %
    assert mfu(10_930, 7_615_616_512, "NVIDIA H200") == pytest.approx(0.3366, abs=0.001)
    assert mfu(10_930, 7_615_616_512, "NVIDIA H200", cards=2) == pytest.approx(0.1683, abs=0.001)
    assert peak_flops("NVIDIA H100 PCIe") < peak_flops("NVIDIA H100 80GB HBM3")
    assert mfu(1000, 10**9, "910B3") is None and mfu(1000, 10**9, "Some Card") is None


VARIANTS = ("llamafactory-cli (defaults)", "launch.py, speed: off", "launch.py, speed: auto")


def test_the_speed_benchmark_shows_the_three_runs_it_compares():
    bench = REPO / "benchmarks" / "bench_speed.py"
    argv = [sys.executable, str(bench), "--dry-run", "--card", "h200", "--packing", "packed"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    runs = out.split("## ")[1:]
    assert [r.split(" on ")[0] for r in runs] == list(VARIANTS)
    peer, off, auto = (yaml.safe_load(r.split("\n", 2)[2]) for r in runs)
    assert peer == off and peer["per_device_train_batch_size"] == 1
    assert auto["per_device_train_batch_size"] == 8 and auto["enable_liger_kernel"] is True


@pytest.mark.slow
def test_a_packed_recipe_trains_on_the_cpu_through_llamafactory(studio: Studio, tiny_model: Path):
    """LLaMA-Factory takes the packing the recipe chose: rows are packed, and the run succeeds."""
    text = tiny_recipe(tiny_model, max_steps=3)
    text = text.replace("  max_samples: 64\n", "  max_samples: 64\n  packing: packed\n")
    result = studio.cli("train", str(studio.write_recipe("packed.yaml", text)))
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = studio.run_dirs()
    assert yaml.safe_load((run_dir / "llamafactory.yaml").read_text())["packing"] is True
    assert "3/3" in result.stdout


def test_the_plan_carries_the_models_parameters_for_the_live_views_mfu():
    assert compiled(on=target(H200)).plan.model_params == 7_615_616_512
    assert compiled(on=Target("cuda", 1)).plan.model_params == 7_615_616_512  # no card: known
