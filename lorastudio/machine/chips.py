"""What each accelerator model can compute in, read from the product name nvidia-smi or npu-smi
prints (no torch import): today that is whether it has bfloat16.

Ascend: npu-smi names a chip by its SoC without the "Ascend" prefix ("910B3", "910ProB"); Atlas A3
servers print "Ascend910". The first 910 generation (SoCs Ascend910A, Ascend910B, Ascend910ProA,
Ascend910ProB, Ascend910PremiumA; 32 GB HBM) has no bf16, only fp16: vllm-ascend's maintainers
say so for the 910A (vllm-project/vllm-ascend issue #9294, "910A支持float16，不支持bf16"), and
LLaMA-Factory's NPU port began without bf16 for the same reason (hiyouga/LLaMA-Factory PR #975).
The 910B series (Ascend910B1, B2, B2C, B3, B4, B4-1; Atlas A2, 64/32 GB) and the A3 chips
(Ascend910_93xx, npu-smi "Ascend910") have it. The SoC families and their numbering follow
torch_npu's NpuVariables (SoC versions below 200: first generation; 220-225: 910B; 250-255: A3),
as gpustack reproduces them. The old "Ascend910B" SoC is exactly "910B" with no digit, which is
why "910B" alone is first generation while "910B3" is not.

NVIDIA: bf16 needs compute capability 8.0 (Ampere) or newer; the older data-center and consumer
families are recognised by name.
"""

from __future__ import annotations

import re

# npu-smi names of first-generation Ascend 910 chips (fp16 only).
_ASCEND_FIRST_GENERATION = re.compile(r"^(?:Ascend)?910(?:A|B|ProA|ProB|PremiumA)$")
# 910B series (Atlas A2: 910B1, 910B2, 910B2C, 910B3, 910B4, 910B4-1) and A3 (910_93xx).
_ASCEND_BF16 = re.compile(r"^(?:Ascend)?910(?:B\d\w*(?:-\d+)?|_93\d\d)$")
_ASCEND_A3_NAME = "Ascend910"  # what npu-smi 25.x prints for an Atlas A3 chip (910_93 SoC)
# Inference-only Ascend chips: no training, no bf16.
_ASCEND_INFERENCE = re.compile(r"^(?:Ascend)?310")

# NVIDIA names of pre-Ampere GPUs (compute capability below 8.0: no bf16).
_NVIDIA_NO_BF16 = re.compile(
    r"\b(?:V100|T4|P100|P40|P4|K80|K40|M40|M60|P6000|TITAN (?:V|Xp?|RTX)|Quadro RTX|"
    r"GTX \d{3,4}|RTX 20\d0)\b",
    re.IGNORECASE,
)


def npu_has_bf16(name: str) -> bool | None:
    """Whether an Ascend chip, named as npu-smi prints it, computes in bf16.

    Returns:
        True for the 910B series and A3, False for the first-generation 910 and the 310 family,
        None for a name these rules do not know (a newer chip: let torch_npu decide).
    """
    name = name.strip()
    if name == _ASCEND_A3_NAME or _ASCEND_BF16.match(name):
        return True
    if _ASCEND_FIRST_GENERATION.match(name) or _ASCEND_INFERENCE.match(name):
        return False
    return None


def gpu_has_bf16(name: str) -> bool | None:
    """Whether an NVIDIA GPU, named as nvidia-smi prints it, computes in bf16 (None: unknown)."""
    if _NVIDIA_NO_BF16.search(name):
        return False
    return True if name.strip() else None


def has_bf16(kind: str, name: str) -> bool | None:
    """bf16 support of one accelerator of ``kind`` (cuda or npu); None when unknown."""
    if kind == "npu":
        return npu_has_bf16(name)
    if kind == "cuda":
        return gpu_has_bf16(name)
    return None


def is_training_chip(kind: str, name: str) -> bool:
    """False for accelerators that cannot train (Ascend 310 inference cards)."""
    return not (kind == "npu" and _ASCEND_INFERENCE.match(name.strip()))
