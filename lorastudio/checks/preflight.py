"""Pre-flight: everything that can be known about a run on this machine before it starts — the
cards it will use and their free memory, whether model + LoRA + batch fit (and the change that
makes them fit), free disk for checkpoints, the versions that must match, the device rules
(bf16, QLoRA, Ascend) and the multi-node checks. Problems stop the launch with a message naming
the field and the fix; warnings (memory that only might not fit, an address other nodes may not
reach) are printed and the run goes on.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

from lorastudio.checks.memory import (
    GIB,
    MemoryEstimate,
    Suggestion,
    TrainSetup,
    estimate,
    gib,
    model_shape,
    suggest,
)
from lorastudio.cluster.multinode import node_problems
from lorastudio.data.demo import DEMO_FILES
from lorastudio.data.registry import pin_warnings
from lorastudio.errors import Problem
from lorastudio.llamafactory.compiler import Target, resolved_precision
from lorastudio.llamafactory.environment import world_size
from lorastudio.machine.chips import is_training_chip
from lorastudio.machine.hardware import Accelerator, Hardware
from lorastudio.machine.probe import package_problems, run_probe, version_problems
from lorastudio.recipe.schema import Recipe, split_dataset_ref
from lorastudio.workspace import Workspace

CHECKPOINT_BYTES_PER_LORA_PARAM = 16  # adapter (4) + Adam moments (8) + slack, per checkpoint
DISK_MARGIN_BYTES = 1 * GIB
# Ascend QLoRA, as LLaMA-Factory's README documents it ("QLoRA based on bitsandbytes on Ascend
# NPU"): 4-bit bitsandbytes built from source for the NPU backend, double quantization off.
NPU_BITSANDBYTES = (
    "build bitsandbytes for Ascend (git clone -b multi-backend-refactor "
    "https://github.com/bitsandbytes-foundation/bitsandbytes; cmake -DCOMPUTE_BACKEND=npu -S .; "
    "make; pip install .), or set lora.quantization: none"
)


@dataclass
class PreflightReport:
    """What pre-flight found. ``problems`` stop the launch; the rest is for the user to read."""

    device: str
    cards: list[Accelerator] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    memory: MemoryEstimate | None = None
    memory_budget: int | None = None
    suggestion: Suggestion | None = None
    disk_free: int = 0
    disk_needed: int = 0
    versions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for preflight.json and the studio."""
        data = asdict(self)
        data["memory_total"] = self.memory.total if self.memory else None
        return data


def _data_problems(recipe: Recipe, workspace: Workspace, registry: dict) -> list[Problem]:
    problems = []
    for index, ref in enumerate(recipe.data.datasets):
        name, _ = split_dataset_ref(ref)
        file_name = registry.get(name, {}).get("file_name")
        if file_name and not (workspace.data_dir / file_name).exists():
            problems.append(
                Problem(
                    f"data.datasets[{index}]",
                    name,
                    f"is registered as {file_name}, "
                    f"but {workspace.data_dir / file_name} does not exist",
                    "run python launch.py demo-data, which fetches LLaMA-Factory's demo data there"
                    if DEMO_FILES.get(name, ("",))[0] == file_name
                    else "copy the file there or set LORASTUDIO_DATA_DIR to the folder that has it",
                )
            )
    return problems


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _quantization_rules(recipe: Recipe, device: str) -> tuple[list[Problem], list[Problem]]:
    bits = recipe.lora.quantization
    if bits == "none":
        return [], []
    field_name, problems, warnings = "lora.quantization", [], []
    if device == "cpu":
        problems.append(
            Problem(field_name, bits, "needs a GPU (bitsandbytes), not the CPU", "set it to none")
        )
    elif device == "npu" and bits == 8:
        problems.append(
            Problem(
                field_name,
                bits,
                "on Ascend, LLaMA-Factory supports QLoRA with 4-bit bitsandbytes only",
                "set lora.quantization: 4, or none",
            )
        )
    elif device == "npu" and not _has("bitsandbytes"):
        problems.append(
            Problem(field_name, bits, "needs bitsandbytes built for Ascend NPUs", NPU_BITSANDBYTES)
        )
    elif device == "npu":
        warnings.append(
            Problem(
                field_name,
                bits,
                "QLoRA on Ascend needs bitsandbytes' NPU backend (multi-backend-refactor); a CUDA "
                "build of bitsandbytes fails when the model loads",
                NPU_BITSANDBYTES,
            )
        )
    elif not _has("bitsandbytes"):
        problems.append(
            Problem(
                field_name,
                bits,
                "needs bitsandbytes, which is not installed",
                "pip install -e '.[qlora]' (bitsandbytes>=0.43), or set lora.quantization: none",
            )
        )
    if bits == 8 and recipe.hardware.deepspeed == 3:
        problems.append(
            Problem(
                field_name,
                bits,
                "cannot be sharded by ZeRO-3 (LLaMA-Factory: only 4-bit models can use ZeRO-3 "
                "or FSDP with QLoRA)",
                "set lora.quantization: 4, or hardware.deepspeed: 2",
            )
        )
    return problems, warnings


def _device_rules(recipe: Recipe, target: Target, cards: list[Accelerator]) -> list[Problem]:
    problems = []
    inference = sorted({c.name for c in cards if not is_training_chip(c.kind, c.name)})
    if inference:
        problems.append(
            Problem(
                "hardware.devices",
                recipe.hardware.devices,
                f"are {', '.join(inference)} inference cards, which cannot train",
                "train on Atlas A2/A3 (910B/910C) NPUs or on GPUs",
            )
        )
    if recipe.train.precision == "bf16" and target.device != "cpu" and not target.bf16:
        names = ", ".join(sorted({c.name for c in cards}))
        problems.append(
            Problem(
                "train.precision",
                "bf16",
                f"needs bf16 hardware, and these cards ({names}) compute in fp16 only (the "
                "first-generation Ascend 910 and pre-Ampere NVIDIA GPUs lack bf16)",
                "set train.precision: fp16 (auto picks it on these cards)",
            )
        )
    if recipe.hardware.deepspeed != "none" and not _has("deepspeed"):
        problems.append(
            Problem(
                "hardware.deepspeed",
                recipe.hardware.deepspeed,
                "needs DeepSpeed, which is not installed",
                "pip install -e '.[deepspeed]', or set hardware.deepspeed: none",
            )
        )
    return problems


def _memory(
    recipe: Recipe, workspace: Workspace, target: Target, cards: list[Accelerator], report
) -> None:
    local = workspace.resolve_model(recipe.model.id)
    shape = model_shape(recipe.model.id, local)
    if shape is None:
        report.notes.append(
            f"memory: no config.json for {recipe.model.id} here and not a Qwen2.5 size this "
            "studio knows, so the memory check was skipped"
        )
        return
    lora, train = recipe.lora, recipe.train
    setup = TrainSetup(
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
    report.memory = estimate(shape, setup)
    if target.device == "cpu":
        budget, where = psutil.virtual_memory().available, "RAM available"
    elif cards:
        tightest = min(cards, key=lambda c: c.memory_free_mib)
        budget = tightest.memory_free_mib << 20
        where = f"free on {tightest.kind} {tightest.index} ({tightest.name})"
    else:
        return
    report.memory_budget = budget
    if report.memory.total <= budget:
        return
    can_quantize = target.device == "cuda" or (target.device == "npu" and _has("bitsandbytes"))
    report.suggestion = suggest(shape, setup, budget, train.grad_accum, can_quantize)
    fix = (
        f"set {report.suggestion.describe()}"
        if report.suggestion
        else "use more cards with hardware.deepspeed: 3, QLoRA, or a smaller model"
    )
    subject = f"{recipe.model.id} with batch {train.batch_size} × {recipe.data.cutoff_len} tokens"
    needed = f"needs about {report.memory.describe()} per card, more than the {gib(budget)} {where}"
    if report.memory.weights + report.memory.overhead > budget:
        report.problems.append(
            Problem("model.id", recipe.model.id, f"{needed}; its weights alone do not fit", fix)
        )
    else:
        report.warnings.append(Problem("model.id", subject, f"{needed}; it may not fit", fix))


def _disk(recipe: Recipe, workspace: Workspace, report: PreflightReport) -> None:
    where = workspace.adapters_dir if workspace.adapters_dir.exists() else workspace.root
    report.disk_free = shutil.disk_usage(where).free
    shape = model_shape(recipe.model.id, workspace.resolve_model(recipe.model.id))
    lora_params = shape.lora_params(recipe.lora.rank, recipe.lora.target) if shape else 0
    train = recipe.train
    checkpoints = math.ceil(train.max_steps / train.save_steps) + 1 if train.max_steps else 3
    report.disk_needed = lora_params * CHECKPOINT_BYTES_PER_LORA_PARAM * checkpoints
    report.disk_needed += DISK_MARGIN_BYTES
    if recipe.hardware.nodes.rank == 0 and report.disk_free < report.disk_needed:
        report.problems.append(
            Problem(
                "train.save_steps",
                train.save_steps,
                f"makes about {checkpoints} checkpoints, {gib(report.disk_needed)} with the "
                f"adapter, but only {gib(report.disk_free)} is free under {where}",
                "free disk space there, or raise train.save_steps",
            )
        )


def run_preflight(
    recipe: Recipe,
    workspace: Workspace,
    target: Target,
    hardware: Hardware,
    registry: dict,
    probe: Callable[[], dict[str, Any]] = run_probe,
) -> PreflightReport:
    """Check a recipe against this machine; never starts anything.

    Args:
        probe: returns the version report (:func:`lorastudio.probe.run_probe`, a subprocess);
            only called for GPU and NPU runs.
    """
    spec = recipe.hardware
    cards = [
        card
        for card in hardware.devices(target.device)
        if not spec.devices or card.index in spec.devices
    ]
    report = PreflightReport(device=target.device, cards=cards)
    report.problems += _data_problems(recipe, workspace, registry)
    report.warnings += pin_warnings(recipe.data.datasets, workspace)
    quantization_problems, quantization_warnings = _quantization_rules(recipe, target.device)
    report.problems += quantization_problems + _device_rules(recipe, target, cards)
    report.warnings += quantization_warnings
    multinode_problems, multinode_warnings = node_problems(recipe)
    report.problems += multinode_problems
    report.warnings += multinode_warnings
    if target.device == "npu" and spec.nodes.count > 1 and not spec.nodes.interface:
        report.warnings.append(
            Problem(
                "hardware.nodes.interface",
                None,
                "is not set: HCCL picks a network interface by itself, and LLaMA-Factory's NPU "
                "guide sets HCCL_SOCKET_IFNAME on every node",
                "set it to the interface the nodes share, e.g. eth0",
            )
        )
    _memory(recipe, workspace, target, cards, report)
    _disk(recipe, workspace, report)
    report.problems += package_problems()
    if target.device in ("cuda", "npu"):
        report.versions = probe()
        report.problems += version_problems(report.versions, target.device)
    return report
