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

from lorastudio.checks.fit import recipe_fit
from lorastudio.checks.nodes import node_problems
from lorastudio.data.demo import DEMO_FILES
from lorastudio.data.registry import pin_warnings
from lorastudio.errors import Problem
from lorastudio.llamafactory.compiler import Target, resolved_template
from lorastudio.machine.chips import is_training_chip
from lorastudio.machine.hardware import Accelerator, Hardware
from lorastudio.machine.probe import package_problems, run_probe, version_problems
from lorastudio.messages import Msg, msg
from lorastudio.models.memory import GIB, MemoryEstimate, Suggestion, gib, model_shape
from lorastudio.recipe.schema import Recipe, split_dataset_ref
from lorastudio.workspace import Workspace

CHECKPOINT_BYTES_PER_LORA_PARAM = 16  # adapter (4) + Adam moments (8) + slack, per checkpoint
DISK_MARGIN_BYTES = 1 * GIB
# Ascend QLoRA, as LLaMA-Factory's README documents it ("QLoRA based on bitsandbytes on Ascend
# NPU"): 4-bit bitsandbytes built from source for the NPU backend, double quantization off
# (the build steps are the fix "fix.npu_bitsandbytes").


@dataclass
class PreflightReport:
    """What pre-flight found. ``problems`` stop the launch; the rest is for the user to read."""

    device: str
    cards: list[Accelerator] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Msg] = field(default_factory=list)
    memory: MemoryEstimate | None = None
    memory_budget: int | None = None
    suggestion: Suggestion | None = None
    disk_free: int = 0
    disk_needed: int = 0
    versions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for preflight.json and the studio (problems and notes as keyed messages,
        read back by `Problem.from_dict` and `Msg.from_dict`)."""
        data = asdict(self)
        data["problems"] = [p.as_dict() for p in self.problems]
        data["warnings"] = [p.as_dict() for p in self.warnings]
        data["notes"] = [note.as_dict() for note in self.notes]
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
                    msg(
                        "problem.file_missing", name=file_name, path=workspace.data_dir / file_name
                    ),
                    msg("fix.demo_data")
                    if DEMO_FILES.get(name, ("",))[0] == file_name
                    else msg("fix.copy_data"),
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
            Problem(field_name, bits, msg("problem.quantization_cpu"), msg("fix.set_none"))
        )
    elif device == "npu" and bits == 8:
        problems.append(
            Problem(
                field_name,
                bits,
                msg("problem.npu_qlora_8bit"),
                msg("fix.npu_qlora_4bit"),
            )
        )
    elif device == "npu" and not _has("bitsandbytes"):
        problems.append(
            Problem(
                field_name, bits, msg("problem.npu_no_bitsandbytes"), msg("fix.npu_bitsandbytes")
            )
        )
    elif device == "npu":
        warnings.append(
            Problem(
                field_name,
                bits,
                msg("problem.npu_bitsandbytes_backend"),
                msg("fix.npu_bitsandbytes"),
            )
        )
    elif not _has("bitsandbytes"):
        problems.append(
            Problem(
                field_name,
                bits,
                msg("problem.no_bitsandbytes"),
                msg("fix.bitsandbytes"),
            )
        )
    if bits == 8 and recipe.hardware.deepspeed == 3:
        problems.append(
            Problem(
                field_name,
                bits,
                msg("problem.qlora8_zero3"),
                msg("fix.qlora8_zero3"),
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
                msg("problem.inference_cards", names=", ".join(inference)),
                msg("fix.training_cards"),
            )
        )
    if recipe.train.precision == "bf16" and target.device != "cpu" and not target.bf16:
        names = ", ".join(sorted({c.name for c in cards}))
        problems.append(
            Problem(
                "train.precision",
                "bf16",
                msg("problem.no_bf16", names=names),
                msg("fix.fp16"),
            )
        )
    if recipe.hardware.deepspeed != "none" and not _has("deepspeed"):
        problems.append(
            Problem(
                "hardware.deepspeed",
                recipe.hardware.deepspeed,
                msg("problem.needs_deepspeed"),
                msg("fix.deepspeed"),
            )
        )
    return problems


def _memory(
    recipe: Recipe, workspace: Workspace, target: Target, cards: list[Accelerator], report
) -> None:
    fitted = recipe_fit(recipe, workspace, target, cards)
    if fitted is None:
        report.notes.append(msg("note.memory_skipped", model=recipe.model.id))
        return
    report.memory = fitted.memory
    if fitted.budget is None or fitted.verdict is None:
        return
    budget = fitted.budget.bytes
    report.memory_budget = budget
    if fitted.verdict == "fits":
        return
    report.suggestion = fitted.suggestion
    where = fitted.budget.where
    needed = {"estimate": fitted.memory.describe(), "budget": gib(budget), "where": where}
    if fitted.verdict == "no_fit":
        message = msg("problem.weights_do_not_fit", **needed)
        report.problems.append(Problem("model.id", recipe.model.id, message, fitted.fix))
    else:
        batch = {"batch": recipe.train.batch_size, "cutoff": recipe.data.cutoff_len}
        message = msg("problem.may_not_fit", **batch, **needed)
        report.warnings.append(Problem("model.id", recipe.model.id, message, fitted.fix))


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
                msg(
                    "problem.disk",
                    count=checkpoints,
                    needed=gib(report.disk_needed),
                    free=gib(report.disk_free),
                    path=where,
                ),
                msg("fix.free_disk"),
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
                msg("problem.interface_unset_npu"),
                msg("fix.interface_npu"),
            )
        )
    report.notes.append(resolved_template(recipe, workspace).describe())
    _memory(recipe, workspace, target, cards, report)
    _disk(recipe, workspace, report)
    report.problems += package_problems()
    if target.device in ("cuda", "npu"):
        report.versions = probe()
        report.problems += version_problems(report.versions, target.device)
    return report
