"""The recipe: a small, versioned YAML file that says what to fine-tune, on what data, how.

Every field is declared once here, with its default, its range and its help text; the CLI,
the studio's form and the compiler all read them from this schema.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from lorastudio.errors import MISSING, Problem, RecipeError

SCHEMA_VERSION = 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_COUNT = 10**9  # steps and samples: far beyond any real run, well inside every int type
MAX_SEED = 2**32 - 1  # numpy's seed range, which the Trainer uses


def split_dataset_ref(ref: str) -> tuple[str, str | None]:
    """A ``data.datasets`` entry as (name, hash): ``"chats@3f2a9c1b7d0e"`` names the dataset
    ``chats`` and the file whose SHA-256 starts with that hash; a bare name has no hash."""
    name, sep, pin = ref.rpartition("@")
    return (name, pin.lower()) if sep and name else (ref, None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# ---------------------------------------------------------------- rules across fields
# Each reads one section as plain data, so the same rule runs on a validated section and, when
# other fields of that section are wrong (pydantic then skips its validators), on the raw YAML:
# the user sees every problem at once.


def _no_data(data: dict[str, Any]) -> Problem | None:
    if data.get("datasets") or data.get("files"):
        return None
    return Problem(
        "data.datasets",
        data.get("datasets", MISSING),
        "is empty, and so is data.files",
        "no data: list at least one name in data.datasets or a data.files entry",
    )


def _no_length(train: dict[str, Any]) -> Problem | None:
    if train.get("epochs") is not None or train.get("max_steps") is not None:
        return None
    return Problem(
        "train.max_steps",
        MISSING,
        "is not set, and neither is train.epochs",
        "set train.epochs (e.g. 3) or train.max_steps (e.g. 500)",
    )


def _offload_without_zero(hardware: dict[str, Any]) -> Problem | None:
    if hardware.get("offload") is not True or hardware.get("deepspeed", "none") in (2, 3):
        return None
    return Problem(
        "hardware.offload",
        True,
        "is incomplete or contradictory",
        "hardware.offload needs hardware.deepspeed 2 or 3",
    )


def _rank_beyond_count(nodes: dict[str, Any]) -> Problem | None:
    rank, count = nodes.get("rank", 0), nodes.get("count", 1)
    if not (type(rank) is int and type(count) is int) or rank < count:
        return None
    return Problem(
        "hardware.nodes.rank",
        rank,
        f"must be below nodes.count {count}",
        f"number the machines 0 to {count - 1}; the master is 0",
    )


def _eval_without_split(recipe: dict[str, Any]) -> Problem | None:
    train, data = _part(recipe, "train"), _part(recipe, "data")
    if train.get("eval_steps") is None or data.get("val_size", 0.0) not in (0, 0.0):
        return None
    return Problem(
        "train.eval_steps",
        train["eval_steps"],
        "is set, but data.val_size is 0, so nothing is held out to evaluate on",
        "set data.val_size (e.g. 0.1), or remove train.eval_steps",
    )


def _part(raw: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = raw
    for key in path.split(".") if path else []:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


CrossRule = Callable[[dict[str, Any]], Problem | None]
CROSS_RULES: tuple[tuple[str, CrossRule], ...] = (  # (section, rule), in file order
    ("data", _no_data),
    ("train", _no_length),
    ("hardware", _offload_without_zero),
    ("hardware.nodes", _rank_beyond_count),
    ("", _eval_without_split),
)


def _check(rule: CrossRule, section: BaseModel) -> None:
    """Run a rule in a validator; its Problem travels to `errors` whole (field, value, fix)."""
    problem = rule(section.model_dump(mode="json"))
    if problem is not None:
        raise PydanticCustomError("cross_field", "a rule across fields", {"problem": problem})


def cross_field_problems(raw: dict[str, Any]) -> list[Problem]:
    """The rules across fields, on raw recipe data; a section that is absent is skipped (its
    absence is reported on its own)."""
    problems = []
    for path, rule in CROSS_RULES:
        if _present(raw, path):
            problem = rule(_part(raw, path))
            if problem is not None:
                problems.append(problem)
    return problems


def _present(raw: dict[str, Any], path: str) -> bool:
    node: Any = raw
    for key in path.split(".") if path else []:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return False
        node = node[key]
    return isinstance(node, dict)


class ModelSpec(_Section):
    id: str = Field(
        min_length=1,
        description="Base model: a Hugging Face or ModelScope id (Qwen/Qwen2.5-0.5B-Instruct) "
        "or a local folder (absolute, or relative to the studio's folder).",
    )
    hub: Literal["huggingface", "modelscope"] = Field(
        "huggingface", description="Where a model id is downloaded from."
    )
    template: str = Field(
        "qwen",
        min_length=1,
        description="LLaMA-Factory chat template; chat must use the same one (qwen for Qwen2/2.5, "
        "qwen3 for Qwen3).",
    )
    trust_remote_code: bool = Field(
        False, description="Run Python code shipped with the model. Only for models you trust."
    )


class DataSpec(_Section):
    datasets: list[str] = Field(
        default_factory=list,
        description="Dataset names registered in the data folder's dataset_info.json "
        "(LLaMA-Factory's format), e.g. identity, alpaca_zh_demo; name@hash names the exact "
        "file (the first 12 hex digits of its SHA-256, as `data list` shows them).",
    )
    files: list[str] = Field(
        default_factory=list,
        description="Local .json/.jsonl files, relative to the data folder.",
    )
    format: Literal["alpaca", "sharegpt"] = Field(
        "alpaca",
        description="Layout of `files`: alpaca (instruction/input/output) or sharegpt "
        "(conversations).",
    )
    cutoff_len: int = Field(
        1024, ge=16, le=131072, description="Tokens kept per example; longer ones are cut."
    )
    max_samples: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Use at most this many examples per dataset (None: all).",
    )
    val_size: float = Field(
        0.0, ge=0.0, lt=1.0, description="Fraction held out for evaluation (0: no eval split)."
    )

    @model_validator(mode="after")
    def _needs_some_data(self) -> DataSpec:
        _check(_no_data, self)
        return self


class LoraSpec(_Section):
    rank: int = Field(8, ge=1, le=1024, description="LoRA rank: higher learns more, costs memory.")
    alpha: int = Field(16, ge=1, le=4096, description="LoRA scaling; usually 2 × rank.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA layers.")
    target: Literal["all"] | list[str] = Field(
        "all",
        description="Modules to adapt: all (every linear layer) or a list like [q_proj, v_proj].",
    )
    quantization: Literal["none", 4, 8] = Field(
        "none", description="QLoRA: load the base model in 4 or 8 bits (bitsandbytes, CUDA)."
    )


class TrainSpec(_Section):
    stage: Literal["sft", "pt"] = Field(
        "sft",
        description="sft: learn the answers of conversations or instructions; pt: continued "
        "pre-training on plain text (datasets in the text layout).",
        json_schema_extra={
            "zh": "sft：学习对话或指令中的回答；pt：在纯文本上继续预训练（text 格式的数据集）。"
        },
    )
    epochs: float | None = Field(None, gt=0, le=10_000, description="Passes over the data.")
    max_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Optimizer steps to run; when set, it overrides epochs.",
    )
    learning_rate: float = Field(1.0e-4, gt=0, le=1, description="Peak learning rate.")
    scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"
    ] = Field("cosine", description="Learning-rate schedule after warm-up.")
    warmup_steps: int = Field(0, ge=0, le=MAX_COUNT, description="Steps of linear warm-up.")
    batch_size: int = Field(1, ge=1, le=4096, description="Examples per device per step.")
    grad_accum: int = Field(
        8, ge=1, le=4096, description="Steps accumulated per update (effective batch multiplier)."
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on GPU/NPU, fp32 on CPU."
    )
    seed: int = Field(
        42, ge=0, le=MAX_SEED, description="Random seed for data order and initialization."
    )
    logging_steps: int = Field(10, ge=1, le=MAX_COUNT, description="Log loss every N steps.")
    save_steps: int = Field(
        500, ge=1, le=MAX_COUNT, description="Write a resumable checkpoint every N steps."
    )
    eval_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Evaluate every N steps (needs data.val_size); default save_steps.",
    )

    @model_validator(mode="after")
    def _needs_a_length(self) -> TrainSpec:
        _check(_no_length, self)
        return self


class NodesSpec(_Section):
    count: int = Field(1, ge=1, le=1024, description="Machines taking part.")
    rank: int = Field(0, ge=0, description="This machine's rank (0 on the master).")
    master_addr: str = Field(
        "127.0.0.1", min_length=1, description="Address of the rank-0 node (multi-node runs)."
    )
    master_port: int = Field(
        29500,
        ge=1024,
        le=65535,
        description="Port of the rank-0 node (multi-node runs; one machine picks a free port).",
    )
    interface: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:@-]{1,64}$",
        description="Network interface the nodes reach each other on, e.g. eth0 (multi-node "
        "runs; None lets HCCL/NCCL/Gloo pick one, which can be the wrong one).",
    )

    @model_validator(mode="after")
    def _rank_in_range(self) -> NodesSpec:
        _check(_rank_beyond_count, self)
        return self


class HardwareSpec(_Section):
    device: Literal["auto", "cpu", "cuda", "npu"] = Field(
        "auto", description="Where to train: auto picks NPU, then CUDA GPU, then CPU."
    )
    devices: list[int] | None = Field(
        None, description="Which cards by index, e.g. [0, 1] (None: all visible)."
    )
    deepspeed: Literal["none", 0, 2, 3] = Field(
        "none", description="DeepSpeed ZeRO stage: none, 0, 2 (shard optimizer) or 3 (shard all)."
    )
    offload: bool = Field(False, description="ZeRO-2/3: offload optimizer (and params) to CPU.")
    nodes: NodesSpec = Field(default_factory=NodesSpec, description="Multi-node settings.")

    @field_validator("devices")
    @classmethod
    def _indices_from_zero(cls, value: list[int] | None) -> list[int] | None:
        if value and min(value) < 0:
            raise ValueError("card indices start at 0, as nvidia-smi and npu-smi number them")
        return value

    @model_validator(mode="after")
    def _offload_needs_zero(self) -> HardwareSpec:
        _check(_offload_without_zero, self)
        return self


class EvalSpec(_Section):
    prompts: list[str] = Field(
        default_factory=list,
        description="Test prompts answered by the base model and by base + adapter side by side "
        "(Chat tab, `chat RUN --prompt-set`); the table is saved as adapters/<run>/prompts.jsonl.",
        json_schema_extra={"one_per_line": True},  # free text: a form edits it line by line
    )


class Recipe(_Section):
    schema_version: Literal[1] = Field(description="Recipe format version; this is version 1.")
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Short name (letters, digits, . _ -); run folders are named after it.",
    )
    description: str = Field("", description="What this recipe trains, for teammates.")
    model: ModelSpec = Field(description="The base model: model.id, and the chat template")
    data: DataSpec = Field(
        description="What to train on: data.datasets (registered names) and/or data.files"
    )
    lora: LoraSpec = Field(default_factory=LoraSpec)
    train: TrainSpec = Field(description="How long and how: train.max_steps or train.epochs")
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    eval: EvalSpec = Field(
        default_factory=EvalSpec, description="How to look at the trained adapter afterwards."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="Other LLaMA-Factory training arguments, passed through as written.",
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML's true would otherwise pass as 1
            raise ValueError("write 1, the number (not true)")
        return value

    @model_validator(mode="after")
    def _eval_needs_a_split(self) -> Recipe:
        _check(_eval_without_split, self)
        return self

    def content_hash(self) -> str:
        """A short hash of the recipe's meaning (key order and comments do not count).

        An empty ``eval`` section and ``train.stage: sft`` are left out, so recipes written before
        they existed keep their hash.
        """
        data = self.model_dump(mode="json")
        if data["eval"] == EvalSpec().model_dump(mode="json"):
            del data["eval"]
        if data["train"]["stage"] == "sft":
            del data["train"]["stage"]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class FieldDoc:
    """One recipe field as the CLI help and the studio's form present it."""

    path: str  # dotted, as written in a recipe: "lora.rank"
    type_name: str
    default: Any
    required: bool
    help: str
    info: FieldInfo


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "")
    return text.removeprefix("<class '").removesuffix("'>")


def recipe_fields(model: type[BaseModel] = Recipe, prefix: str = "") -> list[FieldDoc]:
    """Every leaf field of the recipe schema, in file order, with its one help text."""
    fields = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        path = f"{prefix}{name}"
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            fields.extend(recipe_fields(annotation, f"{path}."))
            continue
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        fields.append(
            FieldDoc(
                path,
                _type_name(annotation),
                default,
                info.is_required(),
                info.description or "",
                info,
            )
        )
    return fields


# ---------------------------------------------------------------- loading and dumping


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["train.max_steps=50", "lora.target=[q_proj]"]`` into a nested dict (YAML values)."""
    nested: dict[str, Any] = {}
    problems = []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            problems.append(
                Problem(
                    field="--set",
                    value=pair,
                    message="is not KEY=VALUE",
                    fix="write it like --set train.max_steps=50",
                )
            )
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.strip().split(".")
        node, clash = nested, None
        for index, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                clash = ".".join(parts[: index + 1])
                break
        if clash is None and isinstance(node.get(parts[-1]), dict):
            clash = key.strip()
        if clash is not None:
            problems.append(
                Problem(
                    field="--set",
                    value=pair,
                    message=f"clashes with another --set of {clash}",
                    fix=f"set {clash} once: either the whole value or fields inside it",
                )
            )
            continue
        node[parts[-1]] = value
    if problems:
        raise RecipeError(problems)
    return nested


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_overrides(merged[key], value)
        else:
            merged[key] = value
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (YAML says keys are
    unique; PyYAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key '{key}' is written twice", key_node.start_mark
                )
            seen.add(key) if isinstance(key, str | int | float | bool) else None
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Recipe YAML as data: the safe loader, with duplicate keys refused."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (schema only; `lorastudio.validation.check_recipe_file`
    also checks it against this machine's folders and LLaMA-Factory)."""
    return parse_recipe_text(Path(path).read_text(encoding="utf-8"), source=str(path))


def parse_recipe_text(
    text: str, source: str = "recipe", overrides: dict[str, Any] | None = None
) -> Recipe:
    """Parse and validate recipe YAML; raise RecipeError listing every problem."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown place"
        reason = getattr(exc, "problem", None) or str(exc)
        raise RecipeError(
            [
                Problem(
                    field="(file)",
                    value=source,
                    message=f"is not valid YAML at {where}: {reason}",
                    fix="fix the YAML syntax there (indentation, a missing ':' or quote)",
                )
            ]
        ) from None
    if not isinstance(raw, dict):
        raise RecipeError(
            [
                Problem(
                    field="(file)",
                    value=source,
                    message="is not a recipe (expected a mapping of keys)",
                    fix="start from a shipped recipe in recipes/",
                )
            ]
        )
    version = raw.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise RecipeError(
            [
                Problem(
                    field="schema_version",
                    value=version,
                    message=f"is newer than this LoRA Studio understands ({SCHEMA_VERSION})",
                    fix="upgrade LoRA Studio, or write schema_version: 1",
                )
            ]
        )
    if overrides:
        raw = merge_overrides(raw, overrides)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        from lorastudio.schema_problems import problems_from_validation

        problems = problems_from_validation(exc, Recipe)
        reported = {p.field for p in problems}
        problems += [p for p in cross_field_problems(raw) if p.field not in reported]
        raise RecipeError(problems) from None


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain data, in schema order, every field explicit."""
    return recipe.model_dump(mode="json")


def dump_recipe(recipe: Recipe) -> str:
    """YAML text with a stable key order (the schema's), so two dumps diff cleanly."""
    return yaml.safe_dump(
        recipe_to_dict(recipe), sort_keys=False, allow_unicode=True, default_flow_style=None
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):  # an empty mapping (extra: {}) has no fields to compare
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: data}


def diff_recipes(a: Recipe, b: Recipe) -> list[tuple[str, Any, Any]]:
    """Fields that differ between two recipes, as ``(field, value_in_a, value_in_b)``."""
    flat_a, flat_b = _flatten(recipe_to_dict(a)), _flatten(recipe_to_dict(b))
    keys = list(dict.fromkeys([*flat_a, *flat_b]))
    return [
        (key, flat_a.get(key), flat_b.get(key))
        for key in keys
        if flat_a.get(key) != flat_b.get(key)
    ]
