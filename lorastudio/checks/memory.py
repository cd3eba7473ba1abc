"""Will it fit? An estimate of one card's memory for a LoRA run, and the one change that makes it
fit when it does not (a smaller batch, QLoRA, ZeRO-3). Pure arithmetic on the model's shape: read
from its config.json when the model is local (or in the Hugging Face cache), else from a table of
the Qwen2.5 sizes. Nothing is imported or loaded.

The parts, per card, in bytes:
- weights: parameters × 2 (bf16/fp16) or 4 (fp32); QLoRA stores the decoder's linear layers in
  0.5 (4-bit) or 1 (8-bit) byte per parameter, embeddings stay 16-bit. ZeRO-3 shards them over
  every card of the run.
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
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lorastudio.messages import Msg, msg

GIB = 1 << 30
OVERHEAD_BYTES = 1 * GIB
LAYER_WORKING_SET_BYTES = 34  # per token per hidden unit, one recomputed layer, 16-bit
LINEAR_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a Qwen2-style decoder that memory depends on."""

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    tie_word_embeddings: bool
    head_dim: int | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a transformers config.json (Qwen2, Qwen2.5, Qwen3 and Llama-style models)."""
        text = config.get("text_config") or config
        return cls(
            vocab_size=int(text["vocab_size"]),
            hidden_size=int(text["hidden_size"]),
            intermediate_size=int(text["intermediate_size"]),
            num_layers=int(text["num_hidden_layers"]),
            num_heads=int(text["num_attention_heads"]),
            num_kv_heads=int(text.get("num_key_value_heads") or text["num_attention_heads"]),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            head_dim=text.get("head_dim"),
        )

    @property
    def _head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear module in one decoder layer."""
        h, i = self.hidden_size, self.intermediate_size
        q, kv = self.num_heads * self._head_dim, self.num_kv_heads * self._head_dim
        return {
            "q_proj": (h, q),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    @property
    def linear_params(self) -> int:
        """Weights of the decoder's linear layers (what QLoRA quantizes)."""
        per_layer = sum(a * b for a, b in self.linear_shapes().values())
        return per_layer * self.num_layers

    @property
    def other_params(self) -> int:
        """Embeddings, output head, norms and attention biases (kept in 16-bit under QLoRA)."""
        shapes = self.linear_shapes()
        biases = sum(shapes[name][1] for name in ("q_proj", "k_proj", "v_proj"))
        norms = 2 * self.hidden_size
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        return embeddings + self.num_layers * (biases + norms) + self.hidden_size

    @property
    def params(self) -> int:
        return self.linear_params + self.other_params

    def lora_params(self, rank: int, target: str | list[str]) -> int:
        """Trainable LoRA parameters: rank × (in + out) for each adapted module of every layer."""
        names = LINEAR_MODULES if target == "all" else [t for t in target if t in LINEAR_MODULES]
        shapes = self.linear_shapes()
        return self.num_layers * sum(rank * sum(shapes[name]) for name in names)


def _qwen25(vocab, hidden, inter, layers, heads, kv, tied) -> ModelShape:
    return ModelShape(vocab, hidden, inter, layers, heads, kv, tied)


# The Qwen2.5 family's config.json values (Hugging Face Qwen/Qwen2.5-*; base and -Instruct share
# them). Their parameter counts come out as published: 0.49B, 1.54B, 3.09B, 7.62B, 14.8B, 32.8B,
# 72.7B.
QWEN25_SHAPES: dict[str, ModelShape] = {
    "0.5B": _qwen25(151936, 896, 4864, 24, 14, 2, True),
    "1.5B": _qwen25(151936, 1536, 8960, 28, 12, 2, True),
    "3B": _qwen25(151936, 2048, 11008, 36, 16, 2, True),
    "7B": _qwen25(152064, 3584, 18944, 28, 28, 4, False),
    "14B": _qwen25(152064, 5120, 13824, 48, 40, 8, False),
    "32B": _qwen25(152064, 5120, 27648, 64, 40, 8, False),
    "72B": _qwen25(152064, 8192, 29568, 80, 64, 8, False),
}


def _hub_cache_config(model_id: str) -> Path | None:
    """config.json of a hub model already in the Hugging Face cache (any snapshot)."""
    hf_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    cache = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    snapshots = cache / f"models--{model_id.replace('/', '--')}" / "snapshots"
    found = sorted(snapshots.glob("*/config.json")) if snapshots.is_dir() else []
    return found[-1] if found else None


def model_shape(model_id: str, local: Path | None) -> ModelShape | None:
    """The shape of a model: its config.json (local folder or hub cache), else the Qwen2.5 table;
    None when neither knows it."""
    config_path = local / "config.json" if local is not None else _hub_cache_config(model_id)
    if config_path is not None and config_path.is_file():
        try:
            return ModelShape.from_config(json.loads(config_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
    name = model_id.rsplit("/", 1)[-1].removesuffix("-Instruct")
    if local is None and name.startswith("Qwen2.5-"):
        return QWEN25_SHAPES.get(name.removeprefix("Qwen2.5-"))
    return None


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
        weights = shape.linear_params * per_param + shape.other_params * 2
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
    activations = (
        tokens
        * shape.hidden_size
        * (shape.num_layers * value_bytes + LAYER_WORKING_SET_BYTES * value_bytes // 2)
    )
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
