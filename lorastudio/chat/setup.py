"""How to chat with a run, read from its own folder without torch: the base model, the adapter
(checked for damage), the training template (guarded), the device, dtype and quantization."""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorastudio.chat.engine import DEFAULT_ENGINE
from lorastudio.errors import (
    AdapterDamagedError,
    BaseModelMissingError,
    ChatError,
    RecipeError,
    TemplateMismatchError,
)
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import CONFIG_FILE, compiled_precision
from lorastudio.machine.hardware import DeviceUnavailableError, Hardware, detect, resolve_device
from lorastudio.messages import Msg, msg
from lorastudio.recipe.schema import Recipe, parse_recipe_text
from lorastudio.runs.layout import ADAPTER_FILES, RECIPE_FILE
from lorastudio.runs.status import RunStatus, read_status, state_name

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
    notes: tuple[Msg, ...] = field(default=())  # what the user should know about this setup
    engine: str = DEFAULT_ENGINE  # which engine serves it (lorastudio.chat.engine.ENGINES)

    @property
    def trained_thinking(self) -> bool | None:
        """Whether the run trained with thinking (None: its template has no thinking switch), so
        chat offers the thinking toggle only where the template allows both."""
        value = self.template_args.get("enable_thinking")
        return value if isinstance(value, bool) else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"notes": [note.as_dict() for note in self.notes]}


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
            msg("chat.not_a_run", path=run_dir, reason=exc), msg("chat.fix.list_runs")
        ) from None
    try:
        recipe = parse_recipe_text(recipe_text, source=str(run_dir / RECIPE_FILE))
    except RecipeError as exc:
        problems = [problem.as_msg() for problem in exc.problems]
        damaged = msg("chat.recipe_damaged", path=run_dir / RECIPE_FILE, problems=problems)
        raise ChatError(damaged) from None
    if not isinstance(train_args, dict) or not train_args.get("model_name_or_path"):
        raise ChatError(msg("chat.no_model_path", path=run_dir / CONFIG_FILE))
    return recipe, train_args


def _safetensors_problem(path: Path) -> Msg | None:
    """Why ``path`` is not a complete safetensors file (None when it is), read without torch."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            return msg("chat.weights.empty")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100 << 20):
            return msg("chat.weights.not_safetensors")
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            return msg("chat.weights.bad_header")
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and "data_offsets" in entry
    ]
    if not ends:
        return msg("chat.weights.no_tensors")
    if 8 + length + max(ends) != size:
        return msg("chat.weights.short", size=size, described=8 + length + max(ends))
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
        if status.live:
            raise ChatError(msg("chat.still_training", run=run_dir.name))
        because = msg("chat.because", reason=status.reason) if status.reason else ""
        no_adapter = msg(
            "chat.no_adapter", run=run_dir.name, state=state_name(status.state), reason=because
        )
        raise ChatError(no_adapter, msg("chat.fix.resume"))
    fix = msg("chat.fix.copy_run")
    for path in (weights, config):
        if not path.is_file():
            raise AdapterDamagedError(msg("chat.adapter_missing", path=path), fix)
    try:
        adapter_config = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AdapterDamagedError(msg("chat.adapter_json", path=config, reason=exc), fix) from None
    if not isinstance(adapter_config, dict) or "peft_type" not in adapter_config:
        raise AdapterDamagedError(msg("chat.adapter_config", path=config), fix)
    problem = _safetensors_problem(weights)
    if problem:
        raise AdapterDamagedError(msg("chat.adapter_weights", path=weights, problem=problem), fix)


def check_base_model(model: str, run_dir: Path) -> None:
    """Raise BaseModelMissingError when ``model`` is a local folder that is not there."""
    path = Path(model).expanduser()
    if not path.is_absolute() and not model.startswith((".", "~")):
        return  # a hub id; the worker loads it from the hub cache (or downloads it)
    if not (path / "config.json").is_file():
        key = "chat.base_folder_missing" if not path.exists() else "chat.base_folder_empty"
        raise BaseModelMissingError(
            msg(key, path=path, config=run_dir / CONFIG_FILE), msg("chat.fix.base_model")
        )


def _resolve_device(recipe: Recipe, status: RunStatus, asked: str | None, hw: Hardware):
    """The device to chat on: the one asked for, else the one the run trained on; ``auto`` is
    resolved by the rule training uses (`lorastudio.machine.hardware.resolve_device`)."""
    device = asked or status.device or recipe.hardware.device
    try:
        return resolve_device(str(device), hw)
    except DeviceUnavailableError:
        missing = msg("chat.no_device", run=status.name, device=device)
        raise ChatError(missing, msg("chat.fix.cpu")) from None
    except ValueError:
        raise ChatError(msg("chat.bad_device", device=device)) from None


def chat_dtype(device: str, train_args: dict[str, Any]) -> str:
    """The torch dtype to chat in: the precision the run trained in (its compiled arguments say
    which: bf16, or fp16 on cards without bf16), float32 on the CPU, which computes in fp32."""
    return "float32" if device == "cpu" else DTYPES[compiled_precision(train_args)]


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
        raise ChatError(msg("chat.unknown_template", template=chosen))
    base = model or str(train_args["model_name_or_path"])
    check_base_model(base, run_dir)
    status = read_status(run_dir)
    device = _resolve_device(recipe, status, device, hardware or detect())
    notes = []
    if chosen != trained:
        notes.append(msg("chat.note.template_forced", asked=chosen, trained=trained))
    quantization = None if recipe.lora.quantization == "none" else int(recipe.lora.quantization)
    if quantization and device != "cuda":
        notes.append(msg("chat.note.unquantized", bits=quantization, device=device))
        quantization = None
    return ChatSetup(
        run_dir=str(run_dir),
        run_id=run_dir.name,
        model=base,
        hub=recipe.model.hub,
        template=chosen,
        trained_template=trained,
        template_args={k: train_args[k] for k in TEMPLATE_KEYS if k in train_args},
        device=device,
        dtype=chat_dtype(device, train_args),
        quantization=quantization,
        trust_remote_code=recipe.model.trust_remote_code,
        notes=tuple(notes),
    )
