"""Will it fit? An estimate of one card's memory for a LoRA run, and the one change that makes it
fit when it does not (a smaller batch, QLoRA, ZeRO-3, a smaller model). Pure arithmetic on the
model's shape: read from its config.json when the model is local (or in the Hugging Face cache),
else from the model catalogue (lorastudio/models/catalogue.yaml). Nothing is imported or loaded.

The parts, per card, in bytes:
- weights: parameters × 2 (bf16/fp16) or 4 (fp32); QLoRA stores the decoder's linear layers in
  0.5 (4-bit) or 1 (8-bit) byte per parameter, embeddings stay 16-bit. ZeRO-3 shards them over
  every card of the run. A mixture-of-experts model holds every expert (only a few run per
  token: that is its speed, not its memory); its experts are not linear layers in transformers 5,
  so they stay 16-bit under QLoRA and LoRA adapts the attention projections
  (`lorastudio.models.shape`).
- LoRA: its parameters are trained in fp32 (LLaMA-Factory upcasts trainable parameters): 4 for the
  weight, 4 for its gradient, 8 for Adam's two moments; ZeRO-2/3 shard gradient and moments (and
  ZeRO-3 the weight), CPU offload moves the moments off the card.
- activations: LLaMA-Factory turns on gradient checkpointing, so each layer keeps its input
  (batch × cutoff × hidden values) and one layer at a time is recomputed with its full working
  set, about 34 bytes × batch × cutoff × hidden in 16-bit (Korthikanti et al., "Reducing
  Activation Recomputation in Large Transformer Models", 2022, eq. 1, without the attention
  scores, which SDPA/flash attention never stores).
- logits: batch × cutoff × vocabulary, in 16-bit, upcast to fp32 for the loss, and the fp32
  log-softmax and its gradient: 10 bytes each (12 in fp32). Qwen's 152k vocabulary makes this the
  largest part for the small models.
- overhead: 1 GiB for the CUDA/CANN context and allocator slack.

Calibration: LoRA rank 16 on all linear layers of Qwen2.5-0.5B's architecture, batch 8, cutoff 512,
bf16, measured 8.2 GiB peak allocated on an H100 (README); this estimate gives 8.1 GiB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lorastudio.messages import Msg, msg
from lorastudio.models.catalogue import ModelEntry, catalogue
from lorastudio.models.local import hf_cached_folder
from lorastudio.models.shape import LINEAR_MODULES, ModelShape

__all__ = ["LINEAR_MODULES", "ModelShape"]  # the shape lives in lorastudio.models.shape

GIB = 1 << 30
OVERHEAD_BYTES = 1 * GIB
LAYER_WORKING_SET_BYTES = 34  # per token per hidden unit, one recomputed layer, 16-bit
# Without gradient checkpointing every layer keeps its whole working set: 34 bytes per token per
# hidden unit in theory (Korthikanti et al.), plus LoRA's dropout copies of its inputs and the
# allocator's slack. 56 is fitted to two measured peaks (reserved) on an H200, Qwen2.5-7B's
# shape, LoRA r16 all linear, packed rows of 2,048 tokens: 84 GB at batch 4, 98 GB at batch 8
# with Liger (../shared/notes/gpu-machine.md); it gives 75 and 109 GB.
KEPT_LAYER_BYTES = 56
FUSED_LOSS_CHUNK_BYTES = 1 * GIB  # Liger computes the loss a chunk of tokens at a time
CARDS_PER_MACHINE = 8  # beyond this, ZeRO-3 advice becomes several machines'


def model_shape(model_id: str, local: Path | None) -> ModelShape | None:
    """The shape of a model: its config.json (local folder or Hugging Face cache), else the
    catalogue's; None when neither knows it."""
    config_path = local / "config.json" if local is not None else None
    if local is None and catalogue().find(model_id) is None:
        cached = hf_cached_folder(model_id)
        config_path = cached / "config.json" if cached is not None else None
    if config_path is not None:
        try:
            return ModelShape.from_config(json.loads(config_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
    entry = catalogue().find(model_id) if local is None else None
    return entry.shape if entry is not None else None


@dataclass(frozen=True)
class TrainSetup:
    """What memory depends on in a recipe, resolved for the machine."""

    precision: str  # fp32, bf16, fp16
    quantization: str | int  # none, 4, 8
    lora_rank: int
    lora_target: str | list[str]
    batch_size: int
    cutoff_len: int
    deepspeed: str | int  # none, 0, 2, 3
    offload: bool
    world_size: int
    checkpointing: bool = True  # LLaMA-Factory's default; the speed plan may turn it off
    fused_loss: bool = False  # Liger's fused linear cross-entropy: the logits are never whole


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one card (or the CPU) needs, by part."""

    weights: int
    lora: int
    activations: int
    logits: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.lora + self.activations + self.logits + self.overhead

    def describe(self) -> Msg:
        """The total and its parts, e.g. "8.1 GiB (weights 0.9 GiB, LoRA + optimizer …)"."""
        return msg(
            "memory.estimate",
            total=gib(self.total),
            weights=gib(self.weights),
            lora=gib(self.lora),
            activations=gib(self.activations),
            logits=gib(self.logits),
            overhead=gib(self.overhead),
        )


def gib(size: float) -> str:
    return f"{size / GIB:.1f} GiB"


def estimate(shape: ModelShape, setup: TrainSetup) -> MemoryEstimate:
    """Peak memory of one training process, in bytes."""
    value_bytes = 4 if setup.precision == "fp32" else 2
    zero = setup.deepspeed if setup.deepspeed in (2, 3) else None
    if setup.quantization in (4, 8):
        per_param = 0.5 if setup.quantization == 4 else 1.0
        weights = shape.linear_params * per_param + (shape.expert_params + shape.other_params) * 2
    else:
        weights = shape.params * value_bytes
    if zero == 3:
        weights /= setup.world_size
    lora_params = shape.lora_params(setup.lora_rank, setup.lora_target)
    sharded = setup.world_size if zero else 1
    lora_weights = lora_params * 4 / (setup.world_size if zero == 3 else 1)
    lora_grads = lora_params * 4 / sharded
    moments = 0 if setup.offload else lora_params * 8 / sharded
    tokens = setup.batch_size * setup.cutoff_len
    if setup.checkpointing:
        per_token = shape.num_layers * value_bytes + LAYER_WORKING_SET_BYTES * value_bytes // 2
    else:
        per_token = shape.num_layers * KEPT_LAYER_BYTES * value_bytes // 2
    activations = tokens * shape.hidden_size * per_token
    if setup.fused_loss:
        logits = tokens * shape.hidden_size * 4 + FUSED_LOSS_CHUNK_BYTES
    else:
        logits = tokens * shape.vocab_size * (12 if value_bytes == 4 else 10)
    return MemoryEstimate(
        weights=int(weights),
        lora=int(lora_weights + lora_grads + moments),
        activations=int(activations),
        logits=int(logits),
        overhead=OVERHEAD_BYTES,
    )


@dataclass(frozen=True)
class Suggestion:
    """A change to the recipe that makes the run fit, with the estimate after it."""

    changes: dict[str, Any]  # recipe field -> new value, e.g. {"lora.quantization": 4}
    estimate: MemoryEstimate

    def describe(self) -> Msg:
        """The change and the estimate after it: "lora.quantization: 4 (about 7.9 GiB per card)"."""
        settings = ", ".join(f"{field}: {value}" for field, value in self.changes.items())
        return msg("memory.suggestion", settings=settings, total=gib(self.estimate.total))


def suggest(
    shape: ModelShape,
    setup: TrainSetup,
    budget: int,
    grad_accum: int,
    can_quantize: bool,
) -> Suggestion | None:
    """The first single change, in order of least effect on the result, that brings the estimate
    under ``budget`` bytes: a smaller batch (more accumulation keeps the effective batch), QLoRA
    4-bit, ZeRO-3 over the run's cards (with CPU offload), then a shorter cutoff."""
    batch = setup.batch_size
    while batch > 1:
        batch //= 2
        candidate = replace(setup, batch_size=batch)
        fits = estimate(shape, candidate)
        if fits.total <= budget:
            factor = setup.batch_size // batch
            changes = {"train.batch_size": batch, "train.grad_accum": grad_accum * factor}
            return Suggestion(changes, fits)
    options: list[tuple[dict[str, Any], TrainSetup]] = []
    if can_quantize and setup.quantization == "none":
        options.append(({"lora.quantization": 4}, replace(setup, quantization=4)))
    if setup.world_size > 1 and setup.deepspeed != 3:
        options.append(({"hardware.deepspeed": 3}, replace(setup, deepspeed=3)))
        options.append(
            (
                {"hardware.deepspeed": 3, "hardware.offload": True},
                replace(setup, deepspeed=3, offload=True),
            )
        )
    cutoff = setup.cutoff_len
    while cutoff > 256:
        cutoff //= 2
        options.append(({"data.cutoff_len": cutoff}, replace(setup, cutoff_len=cutoff)))
    for changes, candidate in options:
        fits = estimate(shape, candidate)
        if fits.total <= budget:
            return Suggestion(changes, fits)
    return None


def no_fit_fix(
    shape: ModelShape,
    setup: TrainSetup,
    budget: int,
    device: str,
    entry: ModelEntry | None,
    hub: str = "huggingface",
) -> Msg:
    """What to do when no single recipe change makes the run fit, for the hardware at hand: on
    a CPU a smaller model of the same family (or a GPU/NPU machine), never ZeRO-3; on cards the
    number of such cards ZeRO-3 needs (several machines beyond eight), and for a mixture of
    experts why all of them count."""
    if device == "cpu":
        smaller = _fitting_smaller(entry, setup, budget) if entry is not None else None
        if smaller is None:
            return msg("fix.cpu_no_fit_any")
        model, fits = smaller
        total = gib(fits.total)
        return msg(
            "fix.cpu_no_fit",
            smaller=msg("memory.smaller_model", model=model.hub_id(hub), total=total),
        )
    cards = zero3_cards(shape, setup, budget)
    if cards is None:
        return msg("fix.memory_no_fit")
    if shape.is_moe:
        return msg(
            "fix.moe_no_fit",
            experts=shape.num_experts,
            active=shape.num_experts_per_tok,
            cards=cards,
        )
    if cards > CARDS_PER_MACHINE:
        return msg("fix.more_nodes", cards=cards)
    return msg("fix.zero3_cards", cards=cards)


def zero3_cards(shape: ModelShape, setup: TrainSetup, budget: int) -> int | None:
    """The fewest cards (of ``budget`` bytes each) ZeRO-3 needs to fit the run: up to a machine's
    eight one by one, then whole machines of eight; None when even 1,024 are not enough
    (activations and logits are not sharded)."""
    counts = [*range(2, CARDS_PER_MACHINE + 1), *(CARDS_PER_MACHINE * n for n in (2, 4, 8, 16))]
    counts += [256, 512, 1024]
    for cards in (c for c in counts if c >= setup.world_size):
        if estimate(shape, replace(setup, deepspeed=3, world_size=cards)).total <= budget:
            return cards
    return None


def _fitting_smaller(
    entry: ModelEntry, setup: TrainSetup, budget: int
) -> tuple[ModelEntry, MemoryEstimate] | None:
    for smaller in catalogue().smaller(entry):
        if smaller.shape is not None:
            fits = estimate(smaller.shape, setup)
            if fits.total <= budget:
                return smaller, fits
    return None
