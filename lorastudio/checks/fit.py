"""Will a model fit this machine? The memory estimate pre-flight makes (lorastudio.models.memory)
set against what this machine has for one training process — the free memory of the tightest
card the run uses, or the CPU's available RAM — and said as a verdict: fits, might not fit (the
weights fit, the batch may not: pre-flight warns and starts) or does not fit (not even the
weights: pre-flight refuses), with the one change that makes it fit.

Pre-flight judges a recipe with it; the `models` command and the studio's model picker judge
every catalogued or cached model for a LoRA with the recipe schema's defaults, or the recipe
being edited. Arithmetic and two quick reads (free RAM, a config.json); nothing is loaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import psutil

from lorastudio.llamafactory.compiler import Target, resolved_precision
from lorastudio.llamafactory.environment import world_size
from lorastudio.machine.hardware import Accelerator, Hardware, resolve_device
from lorastudio.messages import Msg, msg
from lorastudio.models.catalogue import catalogue
from lorastudio.models.memory import (
    MemoryEstimate,
    Suggestion,
    TrainSetup,
    estimate,
    model_shape,
    no_fit_fix,
    suggest,
)
from lorastudio.models.shape import ModelShape
from lorastudio.recipe.schema import DataSpec, LoraSpec, Recipe, TrainSpec
from lorastudio.workspace import Workspace

Verdict = Literal["fits", "tight", "no_fit"]


@dataclass(frozen=True)
class Budget:
    """The memory one training process may use here.

    Attributes:
        device: cpu, cuda or npu.
        bytes: free memory of the tightest card, or the RAM available on a CPU.
        where: what that memory is ("RAM available", "free on cuda 0 (NVIDIA H100 …)").
    """

    device: str
    bytes: int
    where: Msg

    @property
    def precision(self) -> str:
        """How a run with ``train.precision: auto`` trains here, as far as memory goes: fp32 on
        a CPU, 16-bit on cards (fp16 takes as much as bf16)."""
        return "fp32" if self.device == "cpu" else "bf16"


def _ram() -> Budget:
    return Budget("cpu", psutil.virtual_memory().available, msg("memory.ram"))


def budget_for(device: str, cards: Sequence[Accelerator]) -> Budget | None:
    """What one process may use: RAM on a CPU, else the tightest of ``cards`` (None: no cards
    of that kind here)."""
    if device == "cpu":
        return _ram()
    if not cards:
        return None
    tightest = min(cards, key=lambda c: c.memory_free_mib)
    where = msg("memory.free_on", kind=tightest.kind, index=tightest.index, name=tightest.name)
    return Budget(device, tightest.memory_free_mib << 20, where)


def machine_budget(hardware: Hardware) -> Budget:
    """What a run with ``hardware.device: auto`` gets here: one card of the NPUs, else the GPUs,
    else the CPU."""
    device = resolve_device("auto", hardware)
    return budget_for(device, hardware.devices(device)) or _ram()


def verdict(memory: MemoryEstimate, budget: int) -> Verdict:
    """``fits``: the whole estimate; ``tight``: the weights and runtime, not the batch (a
    warning); ``no_fit``: not even the weights (a problem)."""
    if memory.total <= budget:
        return "fits"
    return "tight" if memory.weights + memory.overhead <= budget else "no_fit"


def can_quantize(device: str) -> bool:
    """QLoRA is possible: on NVIDIA GPUs, and on Ascend NPUs with bitsandbytes installed."""
    has_bnb = importlib.util.find_spec("bitsandbytes") is not None
    return device == "cuda" or (device == "npu" and has_bnb)


# ---------------------------------------------------------------- a recipe


def recipe_setup(recipe: Recipe, target: Target) -> TrainSetup:
    """What memory depends on in a recipe, on the machine ``target`` resolved."""
    lora, train = recipe.lora, recipe.train
    return TrainSetup(
        precision=resolved_precision(recipe, target),
        quantization=lora.quantization,
        lora_rank=lora.rank,
        lora_target=lora.target,
        batch_size=train.batch_size,
        cutoff_len=recipe.data.cutoff_len,
        deepspeed=recipe.hardware.deepspeed,
        offload=recipe.hardware.offload,
        world_size=world_size(recipe, target.processes_per_node),
    )


@dataclass(frozen=True)
class RecipeFit:
    """A recipe's estimate on this machine.

    Attributes:
        budget: None when the run's cards are not here (nothing to compare with).
        verdict: None without a budget.
        suggestion: the one recipe change that makes it fit (when it does not).
        fix: what to do when it does not fit: that change, or the advice for the hardware.
    """

    setup: TrainSetup
    memory: MemoryEstimate
    budget: Budget | None
    verdict: Verdict | None
    suggestion: Suggestion | None = None
    fix: Msg | None = None


def recipe_fit(
    recipe: Recipe, workspace: Workspace, target: Target, cards: Sequence[Accelerator]
) -> RecipeFit | None:
    """The recipe's memory per process against the tightest of ``cards`` (the RAM on a CPU);
    None when neither a config.json nor the catalogue knows the model's shape."""
    local = workspace.resolve_model(recipe.model.id)
    shape = model_shape(recipe.model.id, local)
    if shape is None:
        return None
    setup = recipe_setup(recipe, target)
    memory = estimate(shape, setup)
    budget = budget_for(target.device, cards)
    if budget is None:
        return RecipeFit(setup, memory, None, None)
    judged = verdict(memory, budget.bytes)
    if judged == "fits":
        return RecipeFit(setup, memory, budget, judged)
    quantize = can_quantize(target.device)
    suggestion = suggest(shape, setup, budget.bytes, recipe.train.grad_accum, quantize)
    if suggestion is not None:
        fix = msg("fix.set_suggestion", suggestion=suggestion.describe())
    else:
        entry = catalogue().find(recipe.model.id) if local is None else None
        fix = no_fit_fix(shape, setup, budget.bytes, target.device, entry, recipe.model.hub)
    return RecipeFit(setup, memory, budget, judged, suggestion, fix)


# ---------------------------------------------------------------- any model, a default LoRA


def default_setup(precision: str = "bf16", quantization: str | int = "none") -> TrainSetup:
    """A LoRA with the recipe schema's defaults (rank, target modules, batch, cutoff) on one
    card: what the `models` command and the picker size every model for."""
    lora, train, data = LoraSpec.model_fields, TrainSpec.model_fields, DataSpec.model_fields
    return TrainSetup(
        precision=precision,
        quantization=quantization,
        lora_rank=lora["rank"].default,
        lora_target=lora["target"].default,
        batch_size=train["batch_size"].default,
        cutoff_len=data["cutoff_len"].default,
        deepspeed="none",
        offload=False,
        world_size=1,
    )


@dataclass(frozen=True)
class ModelSizing:
    """One model for the default LoRA: its memory in bf16 and as QLoRA 4-bit, and how it fares
    here, trained as this machine would (fp32 on a CPU, 16-bit on cards; QLoRA only on cards).

    Attributes:
        here: the LoRA's verdict on this machine.
        here_qlora: QLoRA 4-bit's verdict (None where QLoRA is not possible: a CPU).
    """

    lora: MemoryEstimate
    qlora: MemoryEstimate
    here_memory: MemoryEstimate
    here: Verdict
    here_qlora: Verdict | None

    @property
    def summary(self) -> Literal["fits", "qlora", "tight", "no_fit"]:
        """The LoRA fits; only QLoRA 4-bit fits; it might not fit; it does not fit."""
        if self.here == "fits":
            return "fits"
        if self.here_qlora == "fits":
            return "qlora"
        return self.here


def size_model(shape: ModelShape, budget: Budget) -> ModelSizing:
    """A model's memory for the default LoRA, judged against ``budget``."""
    lora = estimate(shape, default_setup())
    qlora = estimate(shape, default_setup(quantization=4))
    here = estimate(shape, default_setup(budget.precision))
    here_qlora = verdict(qlora, budget.bytes) if can_quantize(budget.device) else None
    return ModelSizing(lora, qlora, here, verdict(here, budget.bytes), here_qlora)
