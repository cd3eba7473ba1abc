"""Recipe → what LLaMA-Factory runs: its training arguments (llamafactory.yaml), the run's own
dataset_info.json, a DeepSpeed JSON, the environment and the argv. A pure function: the same
inputs give the same output, byte for byte, which the golden-file tests rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lorastudio.recipe import Recipe
from lorastudio.workspace import Workspace

Device = Literal["cpu", "cuda", "npu"]

CONFIG_FILE = "llamafactory.yaml"
DATASET_INFO_FILE = "dataset_info.json"
DEEPSPEED_FILE = "ds_config.json"

# LLaMA-Factory keys the recipe sets itself; `extra` may not set them (the field to use instead).
MANAGED_KEYS: dict[str, str] = {
    "model_name_or_path": "model.id",
    "template": "model.template",
    "trust_remote_code": "model.trust_remote_code",
    "stage": "(always sft)",
    "do_train": "(always true)",
    "finetuning_type": "(always lora)",
    "lora_rank": "lora.rank",
    "lora_alpha": "lora.alpha",
    "lora_dropout": "lora.dropout",
    "lora_target": "lora.target",
    "quantization_bit": "lora.quantization",
    "dataset": "data.datasets",
    "dataset_dir": "data.datasets / data.files",
    "cutoff_len": "data.cutoff_len",
    "max_samples": "data.max_samples",
    "val_size": "data.val_size",
    "output_dir": "name (runs land in adapters/<run>/)",
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
}


@dataclass(frozen=True)
class Target:
    """Where a run executes, resolved from the recipe and this machine at launch time."""

    device: Device
    processes_per_node: int = 1


@dataclass(frozen=True)
class Compiled:
    """Everything a run needs, as data; the launcher writes it into the run folder."""

    args: dict[str, Any]
    dataset_info: dict[str, Any]
    deepspeed: dict[str, Any] | None
    env: dict[str, str]
    argv: list[str] = field(default_factory=lambda: ["llamafactory-cli", "train", CONFIG_FILE])


def _dataset_entries(
    recipe: Recipe, workspace: Workspace, registry: dict[str, Any]
) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for name in recipe.data.datasets:
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


def _precision(recipe: Recipe, device: Device) -> dict[str, Any]:
    precision = recipe.train.precision
    if precision == "auto":
        precision = "fp32" if device == "cpu" else "bf16"
    flags: dict[str, Any] = {}
    if precision in ("bf16", "fp16"):
        flags[precision] = True
    if device == "cpu":
        flags["use_cpu"] = True
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


def _environment(recipe: Recipe, target: Target, run_dir: Path) -> dict[str, str]:
    hardware = recipe.hardware
    env = {
        # LLaMA-Factory's web-UI mode: SIGABRT makes it stop at the next step and save the adapter.
        "LLAMABOARD_ENABLED": "1",
        "LLAMABOARD_WORKDIR": str(run_dir),
        "PYTHONUNBUFFERED": "1",
    }
    ids = ",".join(str(i) for i in hardware.devices) if hardware.devices is not None else None
    if target.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    elif target.device == "cuda" and ids is not None:
        env["CUDA_VISIBLE_DEVICES"] = ids
    elif target.device == "npu" and ids is not None:
        env["ASCEND_RT_VISIBLE_DEVICES"] = ids
    distributed = (
        target.processes_per_node > 1 or hardware.deepspeed != "none" or hardware.nodes.count > 1
    )
    if distributed:
        env |= {
            "FORCE_TORCHRUN": "1",
            "NPROC_PER_NODE": str(target.processes_per_node),
            "NNODES": str(hardware.nodes.count),
            "NODE_RANK": str(hardware.nodes.rank),
        }
    if hardware.nodes.count > 1:
        # Every node must meet at one address. On one machine LLaMA-Factory picks a free port
        # itself, so two runs side by side (GPUs 0-3 and 4-7) do not both claim 29500.
        env |= {
            "MASTER_ADDR": hardware.nodes.master_addr,
            "MASTER_PORT": str(hardware.nodes.master_port),
        }
    if recipe.model.hub == "modelscope":
        env["USE_MODELSCOPE_HUB"] = "1"
    return env


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
    args: dict[str, Any] = {
        "model_name_or_path": _model_path(recipe, workspace),
        "template": recipe.model.template,
        "trust_remote_code": recipe.model.trust_remote_code,
        "stage": "sft",
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
        "per_device_train_batch_size": train.batch_size,
        "gradient_accumulation_steps": train.grad_accum,
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
            "per_device_eval_batch_size": train.batch_size,
            "eval_strategy": "steps",
            "eval_steps": train.eval_steps or train.save_steps,
        }
    args |= _precision(recipe, target.device)
    deepspeed = None
    if recipe.hardware.deepspeed != "none":
        deepspeed = deepspeed_config(int(recipe.hardware.deepspeed), recipe.hardware.offload)
        args["deepspeed"] = str(run_dir / DEEPSPEED_FILE)
    args |= recipe.extra
    return Compiled(
        args=args,
        dataset_info=datasets,
        deepspeed=deepspeed,
        env=_environment(recipe, target, run_dir),
    )
