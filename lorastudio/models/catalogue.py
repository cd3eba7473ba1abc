"""The model catalogue (catalogue.yaml beside this module), loaded and checked once: which Qwen
models LoRA Studio knows, their hub ids, family, thinking behaviour, parameter shape and context
length, looked up by hub id or by name."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lorastudio.messages import Bilingual
from lorastudio.models.shape import ModelShape

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
Thinking = Literal["none", "hybrid", "always", "optional"]
Variant = Literal["base", "instruct", "hybrid", "instruct-2507", "thinking-2507"]
Hub = Literal["huggingface", "modelscope"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Note(_Data):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def bilingual(self) -> Bilingual:
        return Bilingual(self.en, self.zh)


class Family(_Data):
    """Models that share a config.json `model_type` and a pair of chat templates."""

    key: str
    name: str
    model_types: tuple[str, ...]
    plain_template: str
    thinking_template: str | None = None
    supported: bool = True
    reason: Literal["vision_language", "hybrid_attention"] | None = None

    @model_validator(mode="after")
    def _unsupported_says_why(self) -> Family:
        if self.supported == (self.reason is not None):
            raise ValueError(f"family {self.key}: a reason exactly when it is not supported")
        return self


class ShapeData(_Data):
    vocab_size: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)
    layers: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int | None = None
    tied: bool
    experts: int = Field(0, ge=0)
    experts_per_token: int = Field(0, ge=0)
    moe_intermediate_size: int = Field(0, ge=0)

    def model_shape(self, family: str) -> ModelShape:
        qwen3 = family.startswith("qwen3")
        return ModelShape(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_layers=self.layers,
            num_heads=self.heads,
            num_kv_heads=self.kv_heads,
            tie_word_embeddings=self.tied,
            head_dim=self.head_dim,
            num_experts=self.experts,
            num_experts_per_tok=self.experts_per_token,
            moe_intermediate_size=self.moe_intermediate_size,
            attention_bias=not qwen3,
            qk_norm=qwen3,
        )


class _ModelRow(_Data):
    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    size: str
    shape: str | None = None
    context: int | None = Field(None, gt=0)
    huggingface: str | None = None
    modelscope: str | None = None
    note: Note | None = None


class _Group(_Data):
    family: str
    variant: Variant
    thinking: Thinking
    note: Note
    models: tuple[_ModelRow, ...]


class _File(_Data):
    families: tuple[Family, ...]
    shapes: dict[str, ShapeData]
    groups: tuple[_Group, ...]


class ModelEntry(_Data):
    """One catalogued model."""

    name: str  # Qwen3-8B
    family: Family
    variant: Variant
    size: str  # 8B, 30B-A3B
    thinking: Thinking
    huggingface: str  # Qwen/Qwen3-8B
    modelscope: str
    shape: ModelShape | None  # None only for a family LoRA Studio does not train
    context: int | None
    note: Note

    def hub_id(self, hub: Hub) -> str:
        return self.modelscope if hub == "modelscope" else self.huggingface

    @property
    def is_moe(self) -> bool:
        return self.shape is not None and self.shape.is_moe


def _entry(group: _Group, row: _ModelRow, families: dict[str, Family], shapes) -> ModelEntry:
    family = families[group.family]
    if family.supported and (row.shape not in shapes or row.context is None):
        raise ValueError(f"{row.name}: a supported model needs a known shape and its context")
    note = (
        group.note
        if row.note is None
        else Note(en=f"{row.note.en}; {group.note.en}", zh=f"{row.note.zh}；{group.note.zh}")
    )
    return ModelEntry(
        name=row.name,
        family=family,
        variant=group.variant,
        size=row.size,
        thinking=group.thinking,
        huggingface=row.huggingface or f"Qwen/{row.name}",
        modelscope=row.modelscope or row.huggingface or f"Qwen/{row.name}",
        shape=shapes[row.shape].model_shape(family.key) if row.shape else None,
        context=row.context,
        note=note,
    )


class Catalogue:
    """Every family and model of catalogue.yaml, in file order."""

    def __init__(self, families: tuple[Family, ...], models: tuple[ModelEntry, ...]):
        self.families = families
        self.models = models
        self._by_id = {}
        for entry in models:
            for key in (entry.huggingface, entry.modelscope, entry.name):
                self._by_id.setdefault(key.lower(), entry)

    def find(self, model_id: str) -> ModelEntry | None:
        """The model with this hub id (either hub) or catalogue name, in any letter case; a
        ModelScope cache's folder spelling (``Qwen2___5-7B-Instruct``) is read too."""
        key = model_id.strip().rstrip("/").replace("___", ".").lower()
        return self._by_id.get(key) or self._by_id.get(key.rsplit("/", 1)[-1])

    def family_of_type(self, model_type: str) -> Family | None:
        """The family whose models have this config.json ``model_type`` (the first listed)."""
        return next((f for f in self.families if model_type in f.model_types), None)

    def family(self, key: str) -> Family:
        return next(f for f in self.families if f.key == key)

    def trainable(self) -> tuple[ModelEntry, ...]:
        """The models of families LoRA Studio trains."""
        return tuple(m for m in self.models if m.family.supported)

    def smaller(self, entry: ModelEntry) -> list[ModelEntry]:
        """Models of the same family and variant with fewer parameters, largest first."""
        if entry.shape is None:
            return []
        same = [
            m
            for m in self.trainable()
            if m.family.key == entry.family.key
            and m.variant == entry.variant
            and m.shape is not None
            and m.shape.params < entry.shape.params
        ]
        return sorted(same, key=lambda m: m.shape.params if m.shape else 0, reverse=True)


def parse_catalogue(text: str) -> Catalogue:
    """A catalogue from YAML text (catalogue.yaml's layout).

    Raises:
        pydantic.ValidationError, ValueError: the text is not a valid catalogue.
    """
    data = _File.model_validate(yaml.safe_load(text))
    families = {f.key: f for f in data.families}
    unknown = {g.family for g in data.groups} - set(families)
    if unknown:
        raise ValueError(f"groups name unknown families: {sorted(unknown)}")
    models = tuple(
        _entry(group, row, families, data.shapes) for group in data.groups for row in group.models
    )
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ValueError("a model is listed twice")
    return Catalogue(data.families, models)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped beside this module (read once)."""
    return parse_catalogue(CATALOGUE_FILE.read_text(encoding="utf-8"))


SIZE = re.compile(r"^(\d+(?:\.\d+)?)B")


def size_billions(entry: ModelEntry) -> float:
    """The size in the name, in billions (``30B-A3B`` → 30), for ordering."""
    match = SIZE.match(entry.size)
    return float(match.group(1)) if match else 0.0
