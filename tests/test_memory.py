"""The memory estimate, checked against numbers that can be justified: published parameter
counts, bf16 weight sizes, the 4-bit QLoRA arithmetic, ZeRO-3 sharding, and the peak measured on
an H100 for a LoRA of Qwen2.5-0.5B's architecture."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import TOKENIZER

from lorastudio.checks.memory import (
    GIB,
    QWEN25_SHAPES,
    ModelShape,
    TrainSetup,
    estimate,
    model_shape,
    suggest,
)

SEVEN_B = QWEN25_SHAPES["7B"]
ONE_CARD = TrainSetup("bf16", "none", 16, "all", 2, 2048, "none", False, world_size=1)


def test_the_table_agrees_with_qwen2_5_0_5b_instructs_real_config():
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


def test_model_sizes_come_from_a_local_config_or_the_table(tmp_path):
    (tmp_path / "config.json").write_text((TOKENIZER / "config.json").read_text())
    assert model_shape(str(tmp_path), tmp_path) == QWEN25_SHAPES["0.5B"]
    assert model_shape("Qwen/Qwen2.5-7B-Instruct", None) == SEVEN_B
    assert model_shape("someone/unknown-model", None) is None
