"""The memory estimate, checked against numbers that can be justified: published parameter
counts, bf16 weight sizes, the 4-bit QLoRA arithmetic, ZeRO-3 sharding, and the peak measured on
an H100 for a LoRA of Qwen2.5-0.5B's architecture."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import TOKENIZER

from lorastudio.models.catalogue import catalogue
from lorastudio.models.memory import (
    GIB,
    ModelShape,
    TrainSetup,
    estimate,
    model_shape,
    no_fit_fix,
    suggest,
    zero3_cards,
)


def shape_of(name: str) -> ModelShape:
    entry = catalogue().find(name)
    assert entry is not None and entry.shape is not None
    return entry.shape


QWEN25_SHAPES = {size: shape_of(f"Qwen2.5-{size}") for size in ("0.5B", "1.5B", "3B", "7B", "72B")}
QWEN25_SHAPES["14B"] = shape_of("Qwen2.5-14B")
SEVEN_B = QWEN25_SHAPES["7B"]
ONE_CARD = TrainSetup("bf16", "none", 16, "all", 2, 2048, "none", False, world_size=1)


def test_the_catalogue_agrees_with_qwen2_5_0_5b_instructs_real_config():
    config = json.loads((TOKENIZER / "config.json").read_text())
    assert ModelShape.from_config(config) == QWEN25_SHAPES["0.5B"]
    assert QWEN25_SHAPES["0.5B"].params == 494_032_768  # Qwen2.5-0.5B's published count


@pytest.mark.parametrize(
    ("size", "billions"),
    [("1.5B", 1.54), ("3B", 3.09), ("7B", 7.62), ("14B", 14.77), ("72B", 72.71)],
)
def test_the_qwen2_5_sizes_have_their_published_parameter_counts(size: str, billions: float):
    assert QWEN25_SHAPES[size].params / 1e9 == pytest.approx(billions, abs=0.01)


def test_qwen2_5_7b_weights_take_15_2_gb_in_bf16():
    assert estimate(SEVEN_B, ONE_CARD).weights / 1e9 == pytest.approx(15.23, abs=0.01)


def test_4_bit_qlora_stores_linear_layers_in_half_a_byte_and_embeddings_in_two():
    weights = estimate(SEVEN_B, replace(ONE_CARD, quantization=4)).weights
    assert weights == int(SEVEN_B.linear_params * 0.5 + SEVEN_B.other_params * 2)
    assert weights / 1e9 == pytest.approx(5.44, abs=0.01)  # 6.53 B linear × 0.5 + 1.09 B × 2


def test_zero_3_divides_the_weights_by_the_number_of_cards():
    eight = replace(ONE_CARD, deepspeed=3, world_size=8)
    assert estimate(SEVEN_B, eight).weights == pytest.approx(
        estimate(SEVEN_B, ONE_CARD).weights / 8, abs=1
    )


def test_optimizer_state_counts_only_lora_parameters():
    lora = SEVEN_B.lora_params(16, "all")
    assert lora == 40_370_176  # rank 16 on the 7 linear layers of 28 layers
    assert estimate(SEVEN_B, ONE_CARD).lora == lora * 16  # fp32 weight, gradient, 2 Adam moments
    offloaded = replace(ONE_CARD, deepspeed=2, offload=True, world_size=2)
    assert estimate(SEVEN_B, offloaded).lora == lora * 4 + lora * 4 // 2


def test_activations_grow_with_batch_times_cutoff():
    double = estimate(SEVEN_B, replace(ONE_CARD, batch_size=4))
    single = estimate(SEVEN_B, ONE_CARD)
    assert double.activations == 2 * single.activations and double.logits == 2 * single.logits


def test_the_estimate_matches_the_peak_measured_on_an_h100():
    """README: LoRA r=16 on all linear layers, batch 8, cutoff 512, bf16, 8.2 GiB peak allocated."""
    run = TrainSetup("bf16", "none", 16, "all", 8, 512, "none", False, world_size=1)
    assert estimate(QWEN25_SHAPES["0.5B"], run).total / GIB == pytest.approx(8.2, rel=0.1)


def test_a_7b_lora_that_misses_a_24_gb_card_fits_with_a_smaller_batch():
    suggestion = suggest(SEVEN_B, ONE_CARD, 22 * GIB, grad_accum=4, can_quantize=True)
    assert suggestion.changes == {"train.batch_size": 1, "train.grad_accum": 8}
    assert suggestion.estimate.total <= 22 * GIB


def test_a_7b_lora_on_a_16_gb_card_needs_qlora():
    suggestion = suggest(SEVEN_B, ONE_CARD, 15 * GIB, grad_accum=1, can_quantize=True)
    assert suggestion.changes == {"lora.quantization": 4}


def test_without_qlora_eight_cards_share_a_72b_model_with_zero_3():
    eight = replace(ONE_CARD, world_size=8)
    suggestion = suggest(QWEN25_SHAPES["72B"], eight, 60 * GIB, grad_accum=1, can_quantize=False)
    assert suggestion.changes == {"hardware.deepspeed": 3}


def test_model_sizes_come_from_a_local_config_or_the_catalogue(tmp_path):
    (tmp_path / "config.json").write_text((TOKENIZER / "config.json").read_text())
    assert model_shape(str(tmp_path), tmp_path) == QWEN25_SHAPES["0.5B"]
    assert model_shape("Qwen/Qwen2.5-7B-Instruct", None) == SEVEN_B
    assert model_shape("Qwen/Qwen3-8B", None) == shape_of("Qwen3-8B")
    assert model_shape("someone/unknown-model", None) is None


# ---------------------------------------------------------------- mixture of experts

MOE = shape_of("Qwen3-30B-A3B")


def test_an_moe_model_holds_every_expert_in_memory_and_runs_a_few_per_token():
    """Qwen3-30B-A3B: 30.5 B parameters, 3.3 B active (its model card)."""
    assert MOE.params / 1e9 == pytest.approx(30.5, abs=0.05)
    assert MOE.active_params / 1e9 == pytest.approx(3.3, abs=0.06)
    assert estimate(MOE, ONE_CARD).weights == MOE.params * 2  # all 128 experts, in bf16


def test_lora_on_an_moe_model_adapts_its_attention_projections():
    """transformers 5 keeps experts as 3-D parameters, not linear layers: LoRA adapts q/k/v/o."""
    assert set(MOE.linear_shapes()) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert MOE.lora_params(16, "all") == MOE.lora_params(
        16, ["q_proj", "k_proj", "v_proj", "o_proj"]
    )
    assert MOE.lora_params(16, ["gate_proj"]) == 0


def test_qlora_quantizes_the_attention_of_an_moe_model_and_keeps_its_experts_16_bit():
    weights = estimate(MOE, replace(ONE_CARD, quantization=4)).weights
    assert weights == int(MOE.linear_params * 0.5 + (MOE.expert_params + MOE.other_params) * 2)
    assert weights > 0.9 * estimate(MOE, ONE_CARD).weights  # the experts are most of it


def test_an_moe_model_that_does_not_fit_says_why_all_experts_count_and_how_many_cards():
    fix = no_fit_fix(MOE, ONE_CARD, 24 * GIB, "cuda", catalogue().find("Qwen3-30B-A3B"))
    assert fix.key == "fix.moe_no_fit"
    cards = fix.args["cards"]
    fits = estimate(MOE, replace(ONE_CARD, deepspeed=3, world_size=cards))
    assert fits.total <= 24 * GIB
    assert estimate(MOE, replace(ONE_CARD, deepspeed=3, world_size=cards - 1)).total > 24 * GIB
    assert "128" in fix.text("en") and "128" in fix.text("zh")


def test_on_a_cpu_the_fix_is_a_smaller_model_of_the_same_family_never_zero_3():
    cpu = replace(ONE_CARD, precision="fp32", batch_size=1, cutoff_len=1024)
    fix = no_fit_fix(shape_of("Qwen3-8B"), cpu, 24 * GIB, "cpu", catalogue().find("Qwen3-8B"))
    assert fix.key == "fix.cpu_no_fit"
    assert "Qwen/Qwen3-4B" in fix.text("en") and "Qwen/Qwen3-4B" in fix.text("zh")
    assert "deepspeed" not in fix.text("en").lower()


def test_beyond_eight_cards_zero_3_advice_becomes_several_machines():
    big = shape_of("Qwen3-235B-A22B")
    assert zero3_cards(big, ONE_CARD, 80 * GIB) == 7  # 470 GB of bf16 weights over 7 cards
    assert zero3_cards(big, ONE_CARD, 24 * GIB) > 8
    dense = shape_of("Qwen2.5-72B")
    fix = no_fit_fix(dense, ONE_CARD, 16 * GIB, "cuda", catalogue().find("Qwen2.5-72B"))
    assert fix.key == "fix.more_nodes"
