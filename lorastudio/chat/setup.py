"""How to chat with a run, read from its own folder without torch: the base model, the adapter
(checked for damage), the training template (guarded), the device, dtype and quantization."""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorastudio.errors import (
    AdapterDamagedError,
    BaseModelMissingError,
    ChatError,
    RecipeError,
    TemplateMismatchError,
)
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import CONFIG_FILE
from lorastudio.machine.hardware import Hardware, detect
from lorastudio.recipe.schema import Recipe, parse_recipe_text
from lorastudio.runs.layout import ADAPTER_FILES, RECIPE_FILE
from lorastudio.runs.status import RunStatus, read_status

# LLaMA-Factory data arguments that change how a prompt is built; chat copies them from training.
TEMPLATE_KEYS = ("default_system", "enable_thinking", "tool_format")
DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


@dataclass(frozen=True)
class ChatSetup:
    """Everything the chat worker needs to load one run; plain data, sent to it as JSON."""

    run_dir: str
    run_id: str
    model: str  # model_name_or_path exactly as training used it (or the expert's override)
    hub: str
    template: str
    trained_template: str
    template_args: dict[str, Any]
    device: str  # cpu | cuda | npu
    dtype: str  # float32 | bfloat16 | float16
    quantization: int | None  # 4 or 8 (bitsandbytes) or None
    trust_remote_code: bool
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_run(run_dir: Path) -> tuple[Recipe, dict[str, Any]]:
    """The run's recipe and the training arguments LLaMA-Factory was given.

    Raises:
        ChatError: the folder is not a readable run folder.
    """
    try:
        recipe_text = (run_dir / RECIPE_FILE).read_text(encoding="utf-8")
        train_args = yaml.safe_load((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ChatError(
            f"{run_dir} is not a readable run folder ({exc}); `python launch.py runs` lists runs"
        ) from None
    try:
        recipe = parse_recipe_text(recipe_text, source=str(run_dir / RECIPE_FILE))
    except RecipeError as exc:
        raise ChatError(f"{run_dir / RECIPE_FILE} is damaged: {exc.render()}") from None
    if not isinstance(train_args, dict) or not train_args.get("model_name_or_path"):
        raise ChatError(f"{run_dir / CONFIG_FILE} names no model_name_or_path; the run is damaged")
    return recipe, train_args


def _safetensors_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (None when it is), read without torch."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return "is empty or truncated"
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100 << 20):
            return "is truncated or not a safetensors file"
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return "has an unreadable header (truncated or overwritten)"
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    if not ends:
        return "holds no tensors"
    if 8 + length + max(ends) != size:
        return f"is {size} bytes but its header describes {8 + length + max(ends)} (truncated)"
    return None


def check_adapter(run_dir: Path) -> None:
    """Raise a clear error when the run has no adapter yet or its adapter files are damaged.

    Raises:
        ChatError: the run is still training, or ended without saving an adapter.
        AdapterDamagedError: an adapter file is missing, truncated or unreadable.
    """
    weights, config = (run_dir / name for name in ADAPTER_FILES)
    if not weights.exists() and not config.exists():
        status = read_status(run_dir)
        state = status.state.value
        if status.live:
            raise ChatError(f"run {run_dir.name} is still training; its adapter lands when it ends")
        reason = f" ({status.reason_text()})" if status.reason else ""
        raise ChatError(
            f"run {run_dir.name} has no adapter: it is {state}{reason}. Fix: resume or re-run it"
        )
    fix = "copy the run folder again from where it was trained, or re-run the recipe"
    for path in (weights, config):
        if not path.is_file():
            raise AdapterDamagedError(f"the adapter file {path} is missing. Fix: {fix}")
    try:
        adapter_config = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterDamagedError(f"{config} is not valid JSON ({exc}). Fix: {fix}") from None
    if not isinstance(adapter_config, dict) or "peft_type" not in adapter_config:
        raise AdapterDamagedError(f"{config} is not a PEFT adapter config. Fix: {fix}")
    problem = _safetensors_problem(weights)
    if problem:
        raise AdapterDamagedError(f"the adapter weights {weights} {problem}. Fix: {fix}")


def check_base_model(model: str, run_dir: Path) -> None:
    """Raise BaseModelMissingError when ``model`` is a local folder that is not there."""
    path = Path(model).expanduser()
    if not path.is_absolute() and not model.startswith((".", "~")):
        return  # a hub id; the worker loads it from the hub cache (or downloads it)
    if not (path / "config.json").is_file():
        where = "does not exist" if not path.exists() else "holds no config.json"
        raise BaseModelMissingError(
            f"the base model folder {path}, recorded in {run_dir / CONFIG_FILE}, {where} on this "
            "machine. Fix: put the model there, or name another copy of the same base model "
            "(--model PATH)"
        )


def _resolve_device(recipe: Recipe, status: RunStatus, asked: str | None, hw: Hardware):
    device = asked or status.device or recipe.hardware.device
    if device == "auto":
        device = "npu" if hw.npu else "cuda" if hw.cuda else "cpu"
    if device not in ("cpu", "cuda", "npu"):
        raise ChatError(f"device '{device}' is not one of cpu, cuda, npu")
    if device != "cpu" and not hw.devices(device):
        raise ChatError(
            f"run {status.name} was trained on {device}, which this machine does not "
            "have. Fix: chat on the CPU (--device cpu); it is slower but gives the same answers"
        )
    return device


def resolve_setup(
    run_dir: Path,
    *,
    template: str | None = None,
    force_template: bool = False,
    device: str | None = None,
    model: str | None = None,
    hardware: Hardware | None = None,
) -> ChatSetup:
    """Read how to chat with the run in ``run_dir``, refusing what would silently go wrong.

    Args:
        run_dir: the run folder (``adapters/<run>/``).
        template: a chat template to use instead of the training one; refused unless
            ``force_template`` (expert override).
        force_template: use ``template`` even though the adapter was trained with another.
        device: cpu, cuda or npu instead of the device the run trained on.
        model: another copy of the base model (local folder or hub id) instead of the recorded one.
        hardware: what this machine has (detected when None).

    Raises:
        TemplateMismatchError: ``template`` differs from the training template and is not forced.
        BaseModelMissingError: the recorded base model folder is missing here.
        AdapterDamagedError: the adapter files are missing or damaged.
        ChatError: the folder is no run, the run has no adapter yet, or the device is missing.
    """
    run_dir = Path(run_dir).resolve()
    recipe, train_args = read_run(run_dir)
    check_adapter(run_dir)
    trained = str(train_args.get("template") or recipe.model.template)
    chosen = template or trained
    if chosen != trained and not force_template:
        raise TemplateMismatchError(chosen, trained, run_dir.name)
    if chosen not in llamafactory_spec.known_templates():
        raise ChatError(f"template '{chosen}' is not one LLaMA-Factory knows (see `templates`)")
    base = model or str(train_args["model_name_or_path"])
    check_base_model(base, run_dir)
    status = read_status(run_dir)
    device = _resolve_device(recipe, status, device, hardware or detect())
    notes = []
    if chosen != trained:
        notes.append(f"template '{chosen}' forced; the adapter was trained with '{trained}'")
    quantization = None if recipe.lora.quantization == "none" else int(recipe.lora.quantization)
    if quantization and device != "cuda":
        notes.append(
            f"the base was {quantization}-bit (QLoRA) in training; bitsandbytes needs CUDA, so "
            f"it loads unquantized on {device} (answers may differ slightly)"
        )
        quantization = None
    precision = recipe.train.precision  # auto: bf16 on a GPU/NPU; the CPU always computes fp32
    dtype = "float32" if device == "cpu" else DTYPES.get(precision, "bfloat16")
    return ChatSetup(
        run_dir=str(run_dir),
        run_id=run_dir.name,
        model=base,
        hub=recipe.model.hub,
        template=chosen,
        trained_template=trained,
        template_args={k: train_args[k] for k in TEMPLATE_KEYS if k in train_args},
        device=device,
        dtype=dtype,
        quantization=quantization,
        trust_remote_code=recipe.model.trust_remote_code,
        notes=tuple(notes),
    )
