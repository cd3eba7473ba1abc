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
from typing import Annotated, Any, Literal

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
from lorastudio.messages import msg
from lorastudio.recipe.loader import YamlLimitError, load_yaml, read_recipe_file, yaml_problem
from lorastudio.schema_problems import KeyedValueError, problems_from_validation

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
        msg("problem.no_data_either"),
        msg("fix.no_data"),
    )


def _no_length(train: dict[str, Any]) -> Problem | None:
    if train.get("epochs") is not None or train.get("max_steps") is not None:
        return None
    return Problem(
        "train.max_steps",
        MISSING,
        msg("problem.no_length"),
        msg("fix.length"),
    )


def _offload_without_zero(hardware: dict[str, Any]) -> Problem | None:
    if hardware.get("offload") is not True or hardware.get("deepspeed", "none") in (2, 3):
        return None
    return Problem(
        "hardware.offload",
        True,
        msg("problem.incomplete"),
        msg("fix.offload"),
    )


def _rank_beyond_count(nodes: dict[str, Any]) -> Problem | None:
    rank, count = nodes.get("rank", 0), nodes.get("count", 1)
    if not (type(rank) is int and type(count) is int) or rank < count:
        return None
    return Problem(
        "hardware.nodes.rank",
        rank,
        msg("problem.rank_count", count=count),
        msg("fix.rank_count", last=count - 1),
    )


def _eval_without_split(recipe: dict[str, Any]) -> Problem | None:
    train, data = _part(recipe, "train"), _part(recipe, "data")
    if train.get("eval_steps") is None or data.get("val_size", 0.0) not in (0, 0.0):
        return None
    return Problem(
        "train.eval_steps",
        train["eval_steps"],
        msg("problem.eval_no_split"),
        msg("fix.eval_split"),
    )


def _neat_packing_without_sft(recipe: dict[str, Any]) -> Problem | None:
    train, data = _part(recipe, "train"), _part(recipe, "data")
    if data.get("packing") != "neat" or train.get("stage", "sft") == "sft":
        return None
    return Problem("data.packing", "neat", msg("problem.neat_not_sft"), msg("fix.neat_not_sft"))


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
    ("", _neat_packing_without_sft),
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
        json_schema_extra={
            "zh": "Hugging Face 或 ModelScope 的模型 id（如 Qwen/Qwen2.5-0.5B-Instruct），"
            "或本地目录。"
        },
    )
    hub: Literal["huggingface", "modelscope"] = Field(
        "huggingface",
        description="Where a model id is downloaded from.",
        json_schema_extra={"zh": "模型 id 从哪里下载。"},
    )
    template: str = Field(
        "auto",
        min_length=1,
        description="LLaMA-Factory chat template; auto picks the one the model needs (qwen for "
        "Qwen2.5, qwen3 or qwen3_nothink for Qwen3), and chat and export use the same one.",
        json_schema_extra={
            "zh": "LLaMA-Factory 的对话模板；auto 会选模型需要的那个"
            "（Qwen2.5 用 qwen，Qwen3 用 qwen3 或 qwen3_nothink），对话和导出都用同一个。"
        },
    )
    thinking: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Qwen3 thinking: on trains and chats with the <think> block, off without it; "
        "auto follows the model (on for hybrid and thinking models, off otherwise).",
        json_schema_extra={
            "zh": "Qwen3 的思考：on 训练和对话都带 <think> 思考段，off 不带；"
            "auto 跟随模型（混合思考和思考模型为 on，其余为 off）。"
        },
    )
    template_override: bool = Field(
        False,
        description="Experts: keep model.template even where it does not fit the model.",
        json_schema_extra={"zh": "专家选项：即使 model.template 不适合该模型，也照样使用。"},
    )
    trust_remote_code: bool = Field(
        False,
        description="Run Python code shipped with the model. Only for models you trust.",
        json_schema_extra={"zh": "运行模型自带的 Python 代码。只对你信任的模型打开。"},
    )

    @field_validator("thinking", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        """YAML 1.1 reads an unquoted on/off as true/false: take them as written."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class DataSpec(_Section):
    datasets: list[str] = Field(
        default_factory=list,
        description="Dataset names registered in the data folder's dataset_info.json "
        "(LLaMA-Factory's format), e.g. identity, alpaca_zh_demo; name@hash names the exact "
        "file (the first 12 hex digits of its SHA-256, as `data list` shows them).",
        json_schema_extra={
            "zh": "在数据目录的 dataset_info.json 中注册的数据集名称，如 identity、alpaca_zh_demo；"
            "名称@哈希 指定确切的文件（其 SHA-256 的前 12 位十六进制数字，`data list` 会显示）。"
        },
    )
    files: list[str] = Field(
        default_factory=list,
        description="Local .json/.jsonl files, relative to the data folder.",
        json_schema_extra={"zh": "本地 .json/.jsonl 文件，路径相对于数据目录。"},
    )
    format: Literal["alpaca", "sharegpt"] = Field(
        "alpaca",
        description="Layout of `files`: alpaca (instruction/input/output) or sharegpt "
        "(conversations).",
        json_schema_extra={
            "zh": "data.files 的格式：alpaca（instruction/input/output）或 sharegpt（对话）。"
        },
    )
    cutoff_len: int = Field(
        1024,
        ge=16,
        le=131072,
        description="Tokens kept per example; longer ones are cut.",
        json_schema_extra={"zh": "每条样本保留的 token 数；更长的会被截断。"},
    )
    max_samples: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Use at most this many examples per dataset (None: all).",
        json_schema_extra={"zh": "每个数据集最多使用多少条样本（留空：全部）。"},
    )
    val_size: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Fraction held out for evaluation (0: no eval split).",
        json_schema_extra={"zh": "留作验证的比例（0：不划分验证集）。"},
    )

    packing: Literal["none", "packed", "neat"] = Field(
        "none",
        description="none: one example per row, padded (what each example sees is only itself); "
        "packed: examples joined into rows of cutoff_len tokens, no padding, fastest, but an "
        "example can attend to the ones before it in its row; neat: packed without attention "
        "across examples (exact, fast with flash attention; without it, more memory).",
        json_schema_extra={
            "zh": "none：每行一条样本并填充（每条样本只看到自己）；packed：把样本拼接成 cutoff_len "
            "长的行，不填充，最快，但样本能看到同一行中它前面的样本；neat：拼接但样本之间不互相注意"
            "（结果不变；有 flash attention 时快，没有时更占显存）。"
        },
    )

    @model_validator(mode="after")
    def _needs_some_data(self) -> DataSpec:
        _check(_no_data, self)
        return self


class LoraSpec(_Section):
    rank: int = Field(
        8,
        ge=1,
        le=1024,
        description="LoRA rank: higher learns more, costs memory.",
        json_schema_extra={"zh": "LoRA 秩：越高学得越多，也越占显存。"},
    )
    alpha: int = Field(
        16,
        ge=1,
        le=4096,
        description="LoRA scaling; usually 2 × rank.",
        json_schema_extra={"zh": "LoRA 缩放系数；通常为秩的 2 倍。"},
    )
    dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout on the LoRA layers.",
        json_schema_extra={"zh": "LoRA 层上的 dropout。"},
    )
    target: Literal["all"] | Annotated[list[str], Field(min_length=1)] = Field(
        "all",
        description="Modules to adapt: all (every linear layer) or a list like [q_proj, v_proj].",
        json_schema_extra={"zh": "要适配的模块：all（所有线性层）或列表，如 q_proj, v_proj。"},
    )
    quantization: Literal["none", 4, 8] = Field(
        "none",
        description="QLoRA: load the base model in 4 or 8 bits (bitsandbytes, CUDA).",
        json_schema_extra={"zh": "QLoRA：以 4 或 8 比特加载基础模型（bitsandbytes，需 CUDA）。"},
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
    epochs: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="Passes over the data.",
        json_schema_extra={"zh": "遍历数据的次数。"},
    )
    max_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Optimizer steps to run; when set, it overrides epochs.",
        json_schema_extra={"zh": "要执行的优化步数；设置后覆盖训练轮数。"},
    )
    learning_rate: float = Field(
        1.0e-4,
        gt=0,
        le=1,
        description="Peak learning rate.",
        json_schema_extra={"zh": "峰值学习率。"},
    )
    scheduler: Literal[
        "linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"
    ] = Field(
        "cosine",
        description="Learning-rate schedule after warm-up.",
        json_schema_extra={"zh": "预热之后的学习率变化方式。"},
    )
    warmup_steps: int = Field(
        0,
        ge=0,
        le=MAX_COUNT,
        description="Steps of linear warm-up.",
        json_schema_extra={"zh": "线性预热的步数。"},
    )
    batch_size: int = Field(
        1,
        ge=1,
        le=4096,
        description="Examples per device per step.",
        json_schema_extra={"zh": "每个设备每步的样本数。"},
    )
    grad_accum: int = Field(
        8,
        ge=1,
        le=4096,
        description="Steps accumulated per update (effective batch multiplier).",
        json_schema_extra={"zh": "每次更新累积的步数（有效批大小的倍数）。"},
    )
    speed: Literal["auto", "off"] = Field(
        "auto",
        description="auto: on a GPU or NPU, LoRA Studio splits batch_size × grad_accum (the "
        "effective batch is kept) into the micro-batch that fills the card, turns gradient "
        "checkpointing off when memory allows, groups examples of similar length, and uses fast "
        "kernels; `compile` shows the plan. off: LLaMA-Factory's defaults with the batch as "
        "written. Keys set in `extra` always win. On a CPU the recipe runs as written.",
        json_schema_extra={
            "zh": "auto：在 GPU 或 NPU 上，LoRA Studio 把 batch_size × grad_accum（有效批大小不变）"
            "拆成能填满卡的微批，显存够时关闭梯度检查点，按长度分组样本，并使用快速算子；`compile` "
            "会显示这个方案。off：LLaMA-Factory 的默认设置，批大小按配方。"
            "`extra` 中设置的键总是优先。在 CPU 上按配方原样运行。"
        },
    )
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto",
        description="auto: bf16 on GPU/NPU, fp32 on CPU.",
        json_schema_extra={"zh": "auto：GPU/NPU 上用 bf16，CPU 上用 fp32。"},
    )
    seed: int = Field(
        42,
        ge=0,
        le=MAX_SEED,
        description="Random seed for data order and initialization.",
        json_schema_extra={"zh": "数据顺序和初始化的随机种子。"},
    )
    logging_steps: int = Field(
        10,
        ge=1,
        le=MAX_COUNT,
        description="Log loss every N steps.",
        json_schema_extra={"zh": "每 N 步记录一次损失。"},
    )
    save_steps: int = Field(
        500,
        ge=1,
        le=MAX_COUNT,
        description="Write a resumable checkpoint every N steps.",
        json_schema_extra={"zh": "每 N 步写一个可恢复的检查点。"},
    )
    eval_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_COUNT,
        description="Evaluate every N steps (needs data.val_size); default save_steps.",
        json_schema_extra={"zh": "每 N 步做一次验证（需要 data.val_size）；默认等于保存间隔。"},
    )

    @model_validator(mode="after")
    def _needs_a_length(self) -> TrainSpec:
        _check(_no_length, self)
        return self


class NodesSpec(_Section):
    count: int = Field(
        1,
        ge=1,
        le=1024,
        description="Machines taking part.",
        json_schema_extra={"zh": "参与训练的机器数。"},
    )
    rank: int = Field(
        0,
        ge=0,
        description="This machine's rank (0 on the master).",
        json_schema_extra={"zh": "本机的序号（主节点为 0）。"},
    )
    master_addr: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address of the rank-0 node (multi-node runs).",
        json_schema_extra={"zh": "序号为 0 的节点的地址。"},
    )
    master_port: int = Field(
        29500,
        ge=1024,
        le=65535,
        description="Port of the rank-0 node (multi-node runs; one machine picks a free port).",
        json_schema_extra={"zh": "序号为 0 的节点的端口。"},
    )
    interface: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.:@-]{1,64}$",
        description="Network interface the nodes reach each other on, e.g. eth0 (multi-node "
        "runs; None lets HCCL/NCCL/Gloo pick one, which can be the wrong one).",
        json_schema_extra={
            "zh": "各节点互连所用的网卡，如 eth0"
            "（多节点训练；留空则由 HCCL/NCCL/Gloo 自选，可能选错）。"
        },
    )

    @model_validator(mode="after")
    def _rank_in_range(self) -> NodesSpec:
        _check(_rank_beyond_count, self)
        return self


class HardwareSpec(_Section):
    device: Literal["auto", "cpu", "cuda", "npu"] = Field(
        "auto",
        description="Where to train: auto picks NPU, then CUDA GPU, then CPU.",
        json_schema_extra={"zh": "在哪里训练：auto 依次选择 NPU、CUDA GPU、CPU。"},
    )
    devices: list[int] | None = Field(
        None,
        description="Which cards by index, e.g. [0, 1] (None: all visible).",
        json_schema_extra={"zh": "使用哪些卡（按编号），如 0, 1（留空：全部可见的卡）。"},
    )
    deepspeed: Literal["none", 0, 2, 3] = Field(
        "none",
        description="DeepSpeed ZeRO stage: none, 0, 2 (shard optimizer) or 3 (shard all).",
        json_schema_extra={"zh": "DeepSpeed ZeRO 阶段：none、0、2（切分优化器）或 3（全部切分）。"},
    )
    offload: bool = Field(
        False,
        description="ZeRO-2/3: offload optimizer (and params) to CPU.",
        json_schema_extra={"zh": "ZeRO-2/3：把优化器（和参数）卸载到 CPU。"},
    )
    nodes: NodesSpec = Field(
        default_factory=NodesSpec,
        description="Multi-node settings.",
        json_schema_extra={"zh": "多机设置。"},
    )

    @field_validator("devices")
    @classmethod
    def _indices_from_zero(cls, value: list[int] | None) -> list[int] | None:
        if value and min(value) < 0:
            raise KeyedValueError(msg("fix.indices"))
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
        json_schema_extra={  # free text: a form edits it line by line
            "one_per_line": True,
            "zh": "训练后由基础模型和基础模型 + 适配器并排回答的测试提示词"
            "（对话页、`chat RUN --prompt-set`）；"
            "对比表保存为 adapters/<运行>/prompts.jsonl。",
        },
    )


class Recipe(_Section):
    schema_version: Literal[1] = Field(
        description="Recipe format version; this is version 1.",
        json_schema_extra={"zh": "配方格式版本；当前为 1。"},
    )
    name: str = Field(
        pattern=NAME_PATTERN,
        description="Short name (letters, digits, . _ -); run folders are named after it.",
        json_schema_extra={"zh": "简短名称（字母、数字、. _ -）；运行目录以它命名。"},
    )
    description: str = Field(
        "",
        description="What this recipe trains, for teammates.",
        json_schema_extra={"zh": "这个配方训练什么，写给队友看。"},
    )
    model: ModelSpec = Field(
        description="The base model: model.id, and the chat template",
        json_schema_extra={"zh": "基础模型：model.id 和对话模板"},
    )
    data: DataSpec = Field(
        description="What to train on: data.datasets (registered names) and/or data.files",
        json_schema_extra={"zh": "训练数据：data.datasets（已注册的名称）和/或 data.files"},
    )
    lora: LoraSpec = Field(default_factory=LoraSpec)
    train: TrainSpec = Field(
        description="How long and how: train.max_steps or train.epochs",
        json_schema_extra={"zh": "训练多久、怎么训练：train.max_steps 或 train.epochs"},
    )
    hardware: HardwareSpec = Field(default_factory=HardwareSpec)
    eval: EvalSpec = Field(
        default_factory=EvalSpec,
        description="How to look at the trained adapter afterwards.",
        json_schema_extra={"zh": "训练后怎样查看训练好的适配器。"},
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="Other LLaMA-Factory training arguments, passed through as written.",
        json_schema_extra={"zh": "其他 LLaMA-Factory 训练参数，按原样传入。"},
    )

    @field_validator("schema_version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML's true would otherwise pass as 1
            raise KeyedValueError(msg("fix.version_number"))
        return value

    @model_validator(mode="after")
    def _eval_needs_a_split(self) -> Recipe:
        _check(_eval_without_split, self)
        return self

    @model_validator(mode="after")
    def _neat_packing_is_for_sft(self) -> Recipe:
        _check(_neat_packing_without_sft, self)
        return self

    def content_hash(self) -> str:
        """A short hash of the recipe's meaning (key order and comments do not count).

        An empty ``eval`` section, ``train.stage: sft`` and the model fields added later at their
        defaults are left out, so recipes written before they existed keep their hash.
        """
        data = self.model_dump(mode="json")
        if data["eval"] == EvalSpec().model_dump(mode="json"):
            del data["eval"]
        for key, default in _LATER_MODEL_DEFAULTS.items():
            if data["model"][key] == default:
                del data["model"][key]
        if data["train"]["stage"] == "sft":
            del data["train"]["stage"]
        for section, key, default in _LATER_DEFAULTS:
            if data[section][key] == default:
                del data[section][key]
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


_LATER_MODEL_DEFAULTS = {"thinking": "auto", "template_override": False}
_LATER_DEFAULTS = (("train", "speed", "auto"), ("data", "packing", "none"))


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
                Problem("--set", pair, msg("problem.not_key_value"), msg("fix.set_example"))
            )
            continue
        try:
            value = load_yaml(raw) if raw.strip() else ""
        except YamlLimitError as exc:  # too deep or too long: no field takes it as text either
            problems.append(Problem("--set", pair, exc.reason, exc.fix))
            continue
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
                    "--set",
                    pair,
                    msg("problem.set_clash", name=clash),
                    msg("fix.set_once", name=clash),
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


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (schema only; `lorastudio.validation.check_recipe_file`
    also checks it against this machine's folders and LLaMA-Factory)."""
    return parse_recipe_text(read_recipe_file(path), source=str(path))


def parse_recipe_text(
    text: str, source: str = "recipe", overrides: dict[str, Any] | None = None
) -> Recipe:
    """Parse and validate recipe YAML; raise RecipeError listing every problem."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        raise RecipeError([yaml_problem(exc, source)]) from None
    if not isinstance(raw, dict):
        problem = Problem("(file)", source, msg("problem.not_mapping"), msg("fix.shipped"))
        raise RecipeError([problem])
    version = raw.get("schema_version")
    if isinstance(version, int) and version > SCHEMA_VERSION:
        message = msg("problem.newer_schema", version=SCHEMA_VERSION)
        raise RecipeError([Problem("schema_version", version, message, msg("fix.upgrade"))])
    if overrides:
        raw = merge_overrides(raw, overrides)
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
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
