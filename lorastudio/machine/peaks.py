"""The dense bf16 peak of the cards we know, for MFU (model FLOPs utilisation): the vendor's
datasheet figure without sparsity. A card not listed has no MFU (never a guess).

Sources: NVIDIA H100 and H200 datasheets (SXM: 989 TFLOPS bf16 dense; H100 PCIe 756; H200 NVL
836), A100 datasheet (312), L40S datasheet (362), L4 datasheet (121), RTX 4090 (Ada whitepaper:
165 bf16 with fp32 accumulate, what training uses).
"""

from __future__ import annotations

TERA = 10**12
# (substring of nvidia-smi's name, lower case; dense bf16 FLOP/s), most specific first.
_PEAKS: tuple[tuple[str, float], ...] = (
    ("h200 nvl", 836 * TERA),
    ("h200", 989 * TERA),
    ("h100 pcie", 756 * TERA),
    ("h100", 989 * TERA),
    ("a100", 312 * TERA),
    ("l40s", 362 * TERA),
    ("l4", 121 * TERA),
    ("rtx 4090", 165 * TERA),
)


def peak_flops(name: str) -> float | None:
    """The dense bf16 peak of a card named as nvidia-smi names it; None when unknown."""
    lowered = name.lower()
    return next((peak for key, peak in _PEAKS if key in lowered), None)


def lora_flops_per_token(params: int) -> int:
    """Model FLOPs a token costs in LoRA training: forward 2 × parameters, backward 2 × (the
    gradient of the activations; the frozen weights get none); recomputation is not counted."""
    return 4 * params


def mfu(tokens_per_s: float, params: int, card_name: str, cards: int = 1) -> float | None:
    """Model FLOPs utilisation of ``cards`` cards named ``card_name``; None for an unknown card."""
    peak = peak_flops(card_name)
    if not peak or cards < 1:
        return None
    return tokens_per_s * lora_flops_per_token(params) / (peak * cards)
