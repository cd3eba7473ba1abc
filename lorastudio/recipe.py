"""The recipe: a small, versioned YAML file that says what to fine-tune, on what data, how.

Every field is declared once here, with its default, its range and its help text; the CLI,
the studio's form and the compiler all read them from this schema.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from lorastudio.errors import Problem, RecipeError

SCHEMA_VERSION = 1
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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
        "(LLaMA-Factory's format), e.g. identity, alpaca_zh_demo.",
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
        None, ge=1, description="Use at most this many examples per dataset (None: all)."
    )
    val_size: float = Field(
        0.0, ge=0.0, lt=1.0, description="Fraction held out for evaluation (0: no eval split)."
    )

    @model_validator(mode="after")
    def _needs_some_data(self) -> DataSpec:
        if not self.datasets and not self.files:
            raise ValueError(
                "no data: list at least one name in data.datasets or a data.files entry"
            )
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
    epochs: float | None = Field(None, gt=0, description="Passes over the data.")
    max_steps: int | None = Field(
        None, ge=1, description="Optimizer steps to run; when set, it overrides epochs."
    )
    learning_rate: float = Field(1.0e-4, gt=0, le=1, description="Peak learning rate.")
    scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"
    ] = Field("cosine", description="Learning-rate schedule after warm-up.")
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up.")
    batch_size: int = Field(1, ge=1, le=4096, description="Examples per device per step.")
    grad_accum: int = Field(
        8, ge=1, le=4096, description="Steps accumulated per update (effective batch multiplier)."
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="auto: bf16 on GPU/NPU, fp32 on CPU."
    )
    seed: int = Field(42, ge=0, description="Random seed for data order and initialization.")
    logging_steps: int = Field(10, ge=1, description="Log loss every N steps.")
    save_steps: int = Field(500, ge=1, description="Write a resumable checkpoint every N steps.")
    eval_steps: int | None = Field(
        None, ge=1, description="Evaluate every N steps (needs data.val_size); default save_steps."
    )

    @model_validator(mode="after")
    def _needs_a_length(self) -> TrainSpec:
        if self.epochs is None and self.max_steps is None:
            raise ValueError("set train.epochs (e.g. 3) or train.max_steps (e.g. 500)")
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
        if self.rank >= self.count:
            raise ValueError(f"nodes.rank {self.rank} must be below nodes.count {self.count}")
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

    @model_validator(mode="after")
    def _offload_needs_zero(self) -> HardwareSpec:
        if self.offload and self.deepspeed not in (2, 3):
            raise ValueError("hardware.offload needs hardware.deepspeed 2 or 3")
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
    model: ModelSpec
    data: DataSpec
    lora: LoraSpec = Field(default_factory=LoraSpec)
    train: TrainSpec
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    eval: EvalSpec = Field(
        default_factory=EvalSpec, description="How to look at the trained adapter afterwards."
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="Other LLaMA-Factory training arguments, passed through as written.",
    )

    def content_hash(self) -> str:
        """A short hash of the recipe's meaning (key order and comments do not count).

        An empty ``eval`` section is left out, so recipes written before it existed keep their
        hash.
        """
        data = self.model_dump(mode="json")
        if data["eval"] == EvalSpec().model_dump(mode="json"):
            del data["eval"]
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
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
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


def parse_recipe_text(
    text: str, source: str = "recipe", overrides: dict[str, Any] | None = None
) -> Recipe:
    """Parse and validate recipe YAML; raise RecipeError listing every problem."""
    try:
        raw = yaml.safe_load(text)
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
        from lorastudio.errors import problems_from_validation

        raise RecipeError(problems_from_validation(exc, Recipe)) from None


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain data, in schema order, every field explicit."""
    return recipe.model_dump(mode="json")


def dump_recipe(recipe: Recipe) -> str:
    """YAML text with a stable key order (the schema's), so two dumps diff cleanly."""
    return yaml.safe_dump(
        recipe_to_dict(recipe), sort_keys=False, allow_unicode=True, default_flow_style=None
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
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
