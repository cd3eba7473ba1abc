"""Recipe → what LLaMA-Factory runs: its training arguments (llamafactory.yaml), the run's own
dataset_info.json, a DeepSpeed JSON, the environment and the argv. A pure function: the same
inputs give the same output, byte for byte, which the golden-file tests rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorastudio.errors import RecipeError
from lorastudio.llamafactory.environment import Device, environment, is_distributed, world_size
from lorastudio.llamafactory.speed import SpeedPlan, plan_speed
from lorastudio.machine.hardware import Accelerator
from lorastudio.messages import Msg, msg
from lorastudio.models.memory import model_shape
from lorastudio.models.templates import TemplateChoice, resolve_template
from lorastudio.recipe.schema import Recipe, split_dataset_ref
from lorastudio.workspace import Workspace

CONFIG_FILE = "llamafactory.yaml"
DATASET_INFO_FILE = "dataset_info.json"
DEEPSPEED_FILE = "ds_config.json"

# LLaMA-Factory keys the recipe sets itself; `extra` may not set them: the field to use instead,
# or (a message) how LoRA Studio sets a key no field controls.
MANAGED_KEYS: dict[str, str | Msg] = {
    "model_name_or_path": "model.id",
    "template": "model.template",
    "enable_thinking": "model.thinking",
    "trust_remote_code": "model.trust_remote_code",
    "stage": "train.stage",
    "do_train": msg("managed.always_true"),
    "finetuning_type": msg("managed.always_lora"),
    "lora_rank": "lora.rank",
    "lora_alpha": "lora.alpha",
    "lora_dropout": "lora.dropout",
    "lora_target": "lora.target",
    "quantization_bit": "lora.quantization",
    "dataset": "data.datasets",
    "dataset_dir": "data.datasets / data.files",
    "cutoff_len": "data.cutoff_len",
    "packing": "data.packing",
    "neat_packing": "data.packing",
    "max_samples": "data.max_samples",
    "val_size": "data.val_size",
    "output_dir": msg("managed.output_dir"),
    "logging_dir": msg("managed.logging_dir"),
    "resume_from_checkpoint": msg("managed.resume"),
    "num_train_epochs": "train.epochs",
    "max_steps": "train.max_steps",
    "learning_rate": "train.learning_rate",
    "lr_scheduler_type": "train.scheduler",
    "warmup_steps": "train.warmup_steps",
    "per_device_train_batch_size": "train.batch_size",
    "gradient_accumulation_steps": "train.grad_accum",
    "bf16": "train.precision",
    "fp16": "train.precision",
    "use_cpu": "hardware.device",
    "seed": "train.seed",
    "logging_steps": "train.logging_steps",
    "save_steps": "train.save_steps",
    "eval_steps": "train.eval_steps",
    "deepspeed": "hardware.deepspeed",
    "quantization_method": "lora.quantization",
    "double_quantization": "lora.quantization",
    "per_device_eval_batch_size": "train.batch_size",
    "eval_strategy": "train.eval_steps",
    "ddp_backend": "hardware.device",
    "overwrite_cache": msg("managed.overwrite_cache"),
    "plot_loss": msg("managed.plot_loss"),
    "include_num_input_tokens_seen": msg("managed.tokens_seen"),
    "ddp_timeout": msg("managed.ddp_timeout"),
}


@dataclass(frozen=True)
class Target:
    """Where a run executes, resolved from the recipe and this machine at launch time.

    Attributes:
        device: cpu, cuda or npu.
        processes_per_node: training processes on this node (one per card; 1 on a CPU).
        bf16: whether the chosen cards compute in bf16 (``train.precision: auto`` falls back to
            fp16 where they do not, e.g. the first-generation Ascend 910).
        card: the chosen card with the least free memory (the speed plan fills that one);
            None on a CPU, or when compiling for cards this machine does not have.
        kernels: the fast-kernel packages installed where the run trains
            (`lorastudio.machine.hardware.kernels`).
    """

    device: Device
    processes_per_node: int = 1
    bf16: bool = True
    card: Accelerator | None = None
    kernels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Compiled:
    """Everything a run needs, as data; the launcher writes it into the run folder."""

    args: dict[str, Any]
    dataset_info: dict[str, Any]
    deepspeed: dict[str, Any] | None
    env: dict[str, str]
    argv: list[str] = field(default_factory=lambda: ["llamafactory-cli", "train", CONFIG_FILE])
    plan: SpeedPlan | None = None


def _dataset_entries(
    recipe: Recipe, workspace: Workspace, registry: dict[str, Any]
) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for ref in recipe.data.datasets:
        name, _ = split_dataset_ref(ref)  # name@hash: the hash is checked, not compiled
        entry = dict(registry[name])
        if "file_name" in entry:
            entry["file_name"] = str(workspace.data_dir / entry["file_name"])
        entries[name] = entry
    for relative in recipe.data.files:
        stem = Path(relative).stem
        name = f"file_{stem}"
        while name in entries:
            name += "_"
        entries[name] = {
            "file_name": str(workspace.data_dir / relative),
            "formatting": recipe.data.format,
        }
    return entries


def _model_path(recipe: Recipe, workspace: Workspace) -> str:
    local = workspace.resolve_model(recipe.model.id)
    # adapter_config.json records this string; a relative path would break from another cwd.
    return str(local) if local is not None else recipe.model.id


def resolved_template(recipe: Recipe, workspace: Workspace) -> TemplateChoice:
    """The chat template the run trains with (``model.template: auto`` resolved from the
    catalogue or the model's folder), and whether it thinks.

    Raises:
        RecipeError: the template guard refuses the recipe (a recipe that passed
            `lorastudio.checks.validation.check_recipe` never is).
    """
    local = workspace.resolve_model(recipe.model.id)
    choice, problems = resolve_template(recipe.model.model_dump(), local)
    if choice is None:
        raise RecipeError(problems)
    return choice


def resolved_precision(recipe: Recipe, target: Target) -> str:
    """``train.precision`` with auto resolved: fp32 on CPU, bf16 where the cards have it, else
    fp16."""
    if recipe.train.precision != "auto":
        return recipe.train.precision
    if target.device == "cpu":
        return "fp32"
    return "bf16" if target.bf16 else "fp16"


def compiled_precision(args: Mapping[str, Any]) -> str:
    """The precision a compiled run trains in (bf16, fp16 or fp32), read back from its
    LLaMA-Factory arguments: what :func:`resolved_precision` decided on the machine that
    trained it, so whoever loads the run later (chat) uses the same."""
    if args.get("bf16") or args.get("pure_bf16"):
        return "bf16"
    return "fp16" if args.get("fp16") else "fp32"


def _device_args(recipe: Recipe, target: Target) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    precision = resolved_precision(recipe, target)
    if precision in ("bf16", "fp16"):
        flags[precision] = True
    if target.device == "cpu":
        flags["use_cpu"] = True
        if is_distributed(recipe, target.processes_per_node):
            # transformers picks MPI over Gloo for CPU DDP when torch was built with MPI;
            # Gloo is the backend every torch build has.
            flags["ddp_backend"] = "gloo"
    if target.device == "npu" and recipe.lora.quantization != "none":
        # LLaMA-Factory's QLoRA-on-Ascend recipe (README, "QLoRA based on bitsandbytes on
        # Ascend NPU"; examples/train_qlora/llama3_lora_sft_bnb_npu.yaml): double quantization off.
        flags["double_quantization"] = False
    return flags


def deepspeed_config(stage: int, offload: bool) -> dict[str, Any]:
    """LLaMA-Factory's DeepSpeed config for a ZeRO stage ("auto" lets the Trainer fill sizes)."""
    zero: dict[str, Any] = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True}
    if stage == 2:
        zero |= {
            "allgather_partitions": True,
            "allgather_bucket_size": 5.0e8,
            "reduce_scatter": True,
            "reduce_bucket_size": 5.0e8,
            "round_robin_gradients": True,
        }
    elif stage == 3:
        zero |= {
            "sub_group_size": 1.0e9,
            "reduce_bucket_size": "auto",
            "stage3_prefetch_bucket_size": "auto",
            "stage3_param_persistence_threshold": "auto",
            "stage3_max_live_parameters": 1.0e9,
            "stage3_max_reuse_distance": 1.0e9,
            "stage3_gather_16bit_weights_on_model_save": True,
        }
    if offload:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
        if stage == 3:
            zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    return {
        "train_batch_size": "auto",
        "train_micro_batch_size_per_gpu": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        "zero_allow_untested_optimizer": True,
        "fp16": {
            "enabled": "auto",
            "loss_scale": 0,
            "loss_scale_window": 1000,
            "initial_scale_power": 16,
            "hysteresis": 2,
            "min_loss_scale": 1,
        },
        "bf16": {"enabled": "auto"},
        "zero_optimization": zero,
    }


def compile_recipe(
    recipe: Recipe,
    *,
    target: Target,
    run_dir: Path,
    workspace: Workspace,
    registry: dict[str, Any],
) -> Compiled:
    """Turn a validated recipe into LLaMA-Factory's arguments, environment and command.

    Args:
        recipe: a recipe that passed `lorastudio.validation.check_recipe`.
        target: the device and process count resolved for this machine.
        run_dir: the run folder (absolute); LLaMA-Factory writes the adapter there.
        workspace: the studio's folders (data and model paths are resolved against them).
        registry: the data folder's dataset_info.json.
    """
    data, lora, train = recipe.data, recipe.lora, recipe.train
    datasets = _dataset_entries(recipe, workspace, registry)
    plan = speed_plan(recipe, target, workspace)
    template = resolved_template(recipe, workspace)
    args: dict[str, Any] = {
        "model_name_or_path": _model_path(recipe, workspace),
        "template": template.template,
    }
    if template.enable_thinking is not None:
        args["enable_thinking"] = template.enable_thinking
    args |= {
        "trust_remote_code": recipe.model.trust_remote_code,
        "stage": recipe.train.stage,
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": lora.rank,
        "lora_alpha": lora.alpha,
        "lora_dropout": lora.dropout,
        "lora_target": lora.target if lora.target == "all" else ",".join(lora.target),
    }
    if lora.quantization != "none":
        args |= {"quantization_bit": lora.quantization, "quantization_method": "bnb"}
    args |= {
        "dataset": ",".join(datasets),
        "dataset_dir": str(run_dir),
        "cutoff_len": data.cutoff_len,
        "overwrite_cache": True,
    }
    if data.max_samples is not None:
        args["max_samples"] = data.max_samples
    args |= {
        "output_dir": str(run_dir),
        "logging_steps": train.logging_steps,
        "save_steps": train.save_steps,
        "plot_loss": True,
        "report_to": "none",
        "per_device_train_batch_size": plan.batch_size,
        "gradient_accumulation_steps": plan.grad_accum,
        "learning_rate": train.learning_rate,
        "lr_scheduler_type": train.scheduler,
        "warmup_steps": train.warmup_steps,
        "seed": train.seed,
        "include_num_input_tokens_seen": "non_padding",  # tokens/s in trainer_log.jsonl
        "ddp_timeout": 180000000,
    }
    if train.max_steps is not None:
        args["max_steps"] = train.max_steps
    else:
        args["num_train_epochs"] = train.epochs
    if data.val_size > 0:
        args |= {
            "val_size": data.val_size,
            "per_device_eval_batch_size": plan.batch_size,
            "eval_strategy": "steps",
            "eval_steps": train.eval_steps or train.save_steps,
        }
    args |= _device_args(recipe, target)
    args |= plan.args
    deepspeed = None
    if recipe.hardware.deepspeed != "none":
        deepspeed = deepspeed_config(int(recipe.hardware.deepspeed), recipe.hardware.offload)
        args["deepspeed"] = str(run_dir / DEEPSPEED_FILE)
    args |= recipe.extra
    return Compiled(
        args=args,
        dataset_info=datasets,
        deepspeed=deepspeed,
        env=environment(recipe, target.device, target.processes_per_node, run_dir) | plan.env,
        plan=plan,
    )


def speed_plan(recipe: Recipe, target: Target, workspace: Workspace) -> SpeedPlan:
    """The speed plan for ``recipe`` on ``target`` (`lorastudio.llamafactory.speed`)."""
    local = workspace.resolve_model(recipe.model.id)
    return plan_speed(
        recipe,
        device=target.device,
        world_size=world_size(recipe, target.processes_per_node),
        precision=resolved_precision(recipe, target),
        shape=model_shape(recipe.model.id, local) if target.device != "cpu" else None,
        card=target.card,
        kernels=target.kernels,
    )
