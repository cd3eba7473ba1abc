"""The speed plan: how a recipe uses its card, compiled with it (``train.speed: auto``).

LLaMA-Factory's defaults are safe for any card and slow on a big one: the shipped 7B recipe
(batch 1 × accumulation 16, gradient checkpointing on) trains at 348 tokens/s on an H200 where
the same engine reaches 10,930 (../shared/notes/gpu-machine.md). The plan keeps what is learned —
the effective batch (batch × accumulation × cards), epochs, steps, learning rate — and chooses
how it is computed, from the card's free memory, the model's shape and the cutoff:

- the micro-batch: the largest divisor of batch × accumulation whose estimate
  (`lorastudio.models.memory.estimate`) fits in 85 % of the tightest card's free memory; the
  accumulation makes up the rest;
- gradient checkpointing off when the micro-batch without it is at least half the one with it
  (recomputing every layer costs about a third more compute; a much smaller batch costs more);
- examples grouped by length (less padding) when they are not packed;
- Liger's kernels (fused linear cross-entropy: the logits are never whole) on NVIDIA cards when
  liger-kernel is installed and rows are packed — measured faster there, and slower at batch 16
  with short, unpacked examples;
- flash attention on Ascend (LLaMA-Factory's ``flash_attn: fa2`` runs torch_npu's
  ``npu_fusion_attention``), and for ``neat`` packing on NVIDIA cards where flash-attn is
  installed (LLaMA-Factory's variable-length path instead of a block-diagonal mask);
- four data-loader workers, and the allocators' expandable segments
  (``PYTORCH_CUDA_ALLOC_CONF`` / ``PYTORCH_NPU_ALLOC_CONF``), with Ascend's task queue
  (``TASK_QUEUE_ENABLE=2``, CANN's documented setting for training).

Examples are sized at the full ``data.cutoff_len`` (the worst case: a batch pads to its longest
example). A key the recipe sets in ``extra`` always wins; ``train.speed: off`` gives LLaMA-Factory's
defaults with the batch as written; on a CPU the recipe runs as written (the tiny models' tests
and results do not change). Packing (``data.packing``) changes what an example can attend to, so
it is the recipe's choice, never the plan's.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace
from typing import Any

from lorastudio.messages import Msg, msg
from lorastudio.models.memory import GIB, ModelShape, TrainSetup, estimate, gib
from lorastudio.recipe.schema import Recipe

BUDGET_SHARE = 0.85  # of the tightest card's free memory: room for the allocator and spikes
MAX_MICRO_BATCH = 64
LOADER_WORKERS = 4
CHECKPOINTING_KEY = "disable_gradient_checkpointing"
LIGER_KEY = "enable_liger_kernel"
ATTENTION_KEY = "flash_attn"
SAMPLER_KEY = "train_sampling_strategy"
WORKERS_KEY = "dataloader_num_workers"


@dataclass(frozen=True)
class SpeedPlan:
    """How a run computes, as LLaMA-Factory arguments and environment, and why.

    Attributes:
        mode: ``auto`` (planned for a card), ``no_card`` (auto, but no card to size for: the
            batch as written), ``off`` (``train.speed: off``) or ``cpu``.
        batch_size / grad_accum: the micro-batch per card and the accumulation.
        written: the recipe's (batch_size, grad_accum).
        checkpointing: gradient checkpointing on.
        estimate / budget: bytes one card needs with this plan / may use (auto only).
        card: which card was sized for (auto only), e.g. "GPU 0 (NVIDIA H200)".
        args / env: what the plan adds to the compiled arguments and environment.
        set_by_extra: the plan's keys the recipe's ``extra`` sets itself (they win).
        fallback: the arguments to change when the run runs out of memory in its first steps
            (the supervisor tries once more with them): checkpointing on, half the micro-batch.
    """

    mode: str
    batch_size: int
    grad_accum: int
    written: tuple[int, int]
    checkpointing: bool = True
    liger: bool = False
    grouped: bool = False
    attention: str | None = None
    packing: str = "none"
    estimate: int | None = None
    budget: int | None = None
    card: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    set_by_extra: tuple[str, ...] = ()
    fallback: dict[str, Any] | None = None  # the safer plan's changes, tried once after an OOM
    model_params: int | None = None  # the model's parameters, when its shape is known (MFU)

    def describe(self) -> Msg:
        """The plan in plain words, e.g. "batch 8 × 2 instead of 1 × 16; gradient checkpointing
        off; …; about 98.0 GiB of 126.9 GiB on GPU 0 (NVIDIA H200)"."""
        parts: list[Msg] = []
        if self.mode in ("off", "cpu"):
            parts.append(msg(f"speed.mode_{self.mode}"))
        elif self.mode == "no_card":
            parts.append(msg("speed.no_card"))
        elif self.estimate is None and self.budget is not None:
            parts.append(msg("speed.no_fit", budget=gib(self.budget), card=self.card))
        batch = {"batch": self.batch_size, "accum": self.grad_accum}
        if (self.batch_size, self.grad_accum) != self.written:
            written = {"written_batch": self.written[0], "written_accum": self.written[1]}
            parts.append(msg("speed.batch_changed", **batch, **written))
        else:
            parts.append(msg("speed.batch_kept", **batch))
        parts.append(msg(f"speed.checkpointing_{'on' if self.checkpointing else 'off'}"))
        if self.packing != "none":
            parts.append(msg(f"speed.packing_{self.packing}"))
        if self.grouped:
            parts.append(msg("speed.grouped"))
        if self.liger:
            parts.append(msg("speed.liger"))
        if self.attention:
            parts.append(msg("speed.attention", attention=self.attention))
        if self.estimate is not None and self.budget is not None:
            sizes = {"estimate": gib(self.estimate), "budget": gib(self.budget)}
            parts.append(msg("speed.fits", **sizes, card=self.card))
        if self.set_by_extra:
            parts.append(msg("speed.extra_wins", keys=", ".join(self.set_by_extra)))
        return msg("speed.plan", parts=parts)


def as_comment(plan: Msg, lang: str, width: int = 96) -> str:
    """The plan as YAML comment lines, to open the compiled config with."""
    lines = textwrap.wrap(plan.text(lang), width - 2, break_on_hyphens=False)
    return "".join(f"# {line}\n" for line in lines)


def packing_args(recipe: Recipe) -> dict[str, Any]:
    """The recipe's packing choice as LLaMA-Factory arguments (on every device)."""
    if recipe.data.packing == "packed":
        return {"packing": True}
    if recipe.data.packing == "neat":
        return {"packing": True, "neat_packing": True}
    return {}


def plan_speed(
    recipe: Recipe,
    *,
    device: str,
    world_size: int,
    precision: str,
    shape: ModelShape | None,
    card: Any = None,
    kernels: frozenset[str] = frozenset(),
) -> SpeedPlan:
    """The plan for ``recipe`` on ``device`` (cpu, cuda, npu).

    Args:
        world_size: training processes in the whole run (ZeRO shards over them).
        precision: the resolved precision (bf16, fp16, fp32).
        shape: the model's shape (None when unknown: the batch as written).
        card: the chosen card with the least free memory (a
            `lorastudio.machine.hardware.Accelerator`), None when there is none to size for.
        kernels: fast-kernel packages installed where the run trains (liger, flash_attn).
    """
    train, data = recipe.train, recipe.data
    written = (train.batch_size, train.grad_accum)
    base = SpeedPlan(
        mode="auto", batch_size=written[0], grad_accum=written[1], written=written,
        packing=data.packing, args=packing_args(recipe),
    )  # fmt: skip
    if device == "cpu":
        return replace(base, mode="cpu")
    if train.speed == "off":
        return replace(base, mode="off")
    extra = recipe.extra
    packed = data.packing != "none"
    liger = LIGER_KEY not in extra and device == "cuda" and packed and "liger" in kernels
    if LIGER_KEY in extra:
        liger = bool(extra[LIGER_KEY])
    attention = None
    if device == "npu" or (data.packing == "neat" and "flash_attn" in kernels):
        attention = "fa2"
    args: dict[str, Any] = dict(base.args)
    if liger:
        args[LIGER_KEY] = True
    if attention:
        args[ATTENTION_KEY] = attention
    if not packed:
        args[SAMPLER_KEY] = "group_by_length"
    args[WORKERS_KEY] = LOADER_WORKERS
    env = _environment(device)
    plan = replace(
        base, liger=liger, grouped=not packed, attention=attention, args=args, env=env,
        model_params=shape.params if shape else None,
        set_by_extra=tuple(k for k in (*args, CHECKPOINTING_KEY) if k in extra),
    )  # fmt: skip
    if shape is None or card is None:
        return replace(plan, mode="no_card")
    budget = int(card.memory_free_mib * (1 << 20) * BUDGET_SHARE)
    setup = TrainSetup(
        precision=precision,
        quantization=recipe.lora.quantization,
        lora_rank=recipe.lora.rank,
        lora_target=recipe.lora.target,
        batch_size=written[0],
        cutoff_len=data.cutoff_len,
        deepspeed=recipe.hardware.deepspeed,
        offload=recipe.hardware.offload,
        world_size=world_size,
        fused_loss=liger,
    )
    product = written[0] * written[1]
    choices = [True, False]
    if CHECKPOINTING_KEY in extra:
        choices = [not extra[CHECKPOINTING_KEY]]
    best = {ckpt: _largest_fitting(shape, setup, product, budget, ckpt) for ckpt in choices}
    on, off = best.get(True), best.get(False)
    if off is not None and (on is None or off * 2 >= on):
        checkpointing, micro = False, off
    elif on is not None:
        checkpointing, micro = True, on
    else:  # nothing fits: as written, and pre-flight says what to change
        return replace(plan, mode="auto", budget=budget, card=_card_name(card))
    if not checkpointing:
        args[CHECKPOINTING_KEY] = True
    fits = estimate(shape, replace(setup, batch_size=micro, checkpointing=checkpointing))
    planned = replace(
        plan, batch_size=micro, grad_accum=product // micro, checkpointing=checkpointing,
        estimate=fits.total, budget=budget, card=_card_name(card), args=args,
    )  # fmt: skip
    return replace(planned, fallback=safer(planned, extra))


def safer(plan: SpeedPlan, extra: dict[str, Any]) -> dict[str, Any] | None:
    """The next safer plan, as argument changes: gradient checkpointing on (unless ``extra``
    decides it) and half the micro-batch, the effective batch kept; None when there is none."""
    changes: dict[str, Any] = {}
    if not plan.checkpointing and CHECKPOINTING_KEY not in extra:
        changes[CHECKPOINTING_KEY] = False
    product = plan.batch_size * plan.grad_accum
    smaller = [m for m in range(1, plan.batch_size // 2 + 1) if product % m == 0]
    if smaller:
        micro = smaller[-1]
        changes |= {
            "per_device_train_batch_size": micro,
            "gradient_accumulation_steps": product // micro,
        }
    return changes or None


def _largest_fitting(
    shape: ModelShape, setup: TrainSetup, product: int, budget: int, checkpointing: bool
) -> int | None:
    """The largest divisor of ``product`` (up to MAX_MICRO_BATCH) that fits in ``budget``."""
    for micro in range(min(product, MAX_MICRO_BATCH), 0, -1):
        if product % micro:
            continue
        candidate = replace(setup, batch_size=micro, checkpointing=checkpointing)
        if estimate(shape, candidate).total <= budget:
            return micro
    return None


def _card_name(card: Any) -> str:
    kind = "GPU" if card.kind == "cuda" else "NPU"
    return f"{kind} {card.index} ({card.name})"


def _environment(device: str) -> dict[str, str]:
    if device == "cuda":
        return {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}
    return {"PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True", "TASK_QUEUE_ENABLE": "2"}


__all__ = ["GIB", "SpeedPlan", "as_comment", "packing_args", "plan_speed", "safer"]
