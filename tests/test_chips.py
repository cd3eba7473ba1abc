"""Which cards compute in bf16, decided from the names npu-smi and nvidia-smi print — checked on
npu-smi tables recorded on real Ascend machines (910B3, 910B2C, Atlas A3, 910ProB)."""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from recorded_npu import NPU_SMI_910PROB_8CARD_IDLE

from lorastudio.machine.chips import gpu_has_bf16, is_training_chip, npu_has_bf16
from lorastudio.machine.hardware import parse_npu_smi

NPU_SMI = FIXTURES / "npu-smi"


def names_in(text: str) -> set[str]:
    return {chip.name for chip in parse_npu_smi(text)}


@pytest.mark.parametrize(
    "recording",
    ["910b3-8card-idle.txt", "910b2c-16card-busy.txt", "ascend910-a3-8npu-16chip-busy.txt"],
)
def test_the_910b_series_and_atlas_a3_chips_have_bf16(recording: str):
    names = names_in((NPU_SMI / recording).read_text())
    assert names and all(npu_has_bf16(name) is True for name in names)


def test_the_first_generation_910_computes_in_fp16_only():
    assert names_in(NPU_SMI_910PROB_8CARD_IDLE) == {"910ProB"}
    for name in ("910ProB", "910A", "910ProA", "910PremiumA", "Ascend910A"):
        assert npu_has_bf16(name) is False, name


def test_a_bare_910b_is_the_old_first_generation_soc_not_the_910b_series():
    """torch_npu numbers the SoC "Ascend910B" (no digit) with the first generation."""
    assert npu_has_bf16("910B") is False
    assert npu_has_bf16("910B3") is True and npu_has_bf16("910B4-1") is True


def test_an_unknown_ascend_chip_is_left_to_torch_npu_to_decide():
    assert npu_has_bf16("Ascend999") is None


def test_ascend_310_inference_cards_cannot_train():
    assert not is_training_chip("npu", "310P3") and npu_has_bf16("310P3") is False
    assert is_training_chip("npu", "910B3") and is_training_chip("cuda", "Tesla T4")


@pytest.mark.parametrize(
    ("name", "bf16"),
    [
        ("NVIDIA H100 80GB HBM3", True),
        ("NVIDIA A100-SXM4-80GB", True),
        ("NVIDIA GeForce RTX 4090", True),
        ("Tesla V100-SXM2-32GB", False),
        ("Tesla T4", False),
        ("NVIDIA GeForce RTX 2080 Ti", False),
    ],
)
def test_nvidia_gpus_before_ampere_have_no_bf16(name: str, bf16: bool):
    assert gpu_has_bf16(name) is bf16
