"""Choosing a model from the catalogue, one step at a time, as the studio's model picker and the
`models` command offer it: the families LoRA Studio trains, a family's sizes, a size's variants
(base, instruct, …), the model those three name — the nearest one when a step changes — and the
models in this machine's Hugging Face and ModelScope caches, recognised by the catalogue or by
their config.json."""

from __future__ import annotations

from dataclasses import dataclass

from lorastudio.models.catalogue import Family, ModelEntry, Variant, catalogue, size_billions
from lorastudio.models.local import CachedModel, cached_models
from lorastudio.models.shape import ModelShape

# The variant a family's size offers first: a chat model, the usual start of a LoRA.
VARIANT_ORDER: tuple[Variant, ...] = (
    "instruct",
    "hybrid",
    "instruct-2507",
    "thinking-2507",
    "base",
)


def families() -> list[Family]:
    """The families LoRA Studio trains, in catalogue order."""
    return [f for f in catalogue().families if f.supported]


def _models(family: str) -> list[ModelEntry]:
    return [m for m in catalogue().trainable() if m.family.key == family]


def sizes(family: str) -> list[str]:
    """A family's sizes, smallest first ("0.6B", …, "30B-A3B", "235B-A22B")."""
    found = {m.size: size_billions(m) for m in _models(family)}
    return sorted(found, key=lambda size: (found[size], size))


def variants(family: str, size: str) -> list[Variant]:
    """The variants of one size of a family, chat models first and base last."""
    offered = {m.variant for m in _models(family) if m.size == size}
    return [v for v in VARIANT_ORDER if v in offered]


def entry_for(family: str, size: str, variant: str) -> ModelEntry | None:
    """The catalogued model of that family, size and variant (None: there is none)."""
    return next(
        (m for m in _models(family) if m.size == size and m.variant == variant),
        None,
    )


def nearest(family: str | None, size: str | None, variant: str | None) -> ModelEntry:
    """The model a picker shows after one of its steps changed: the family as chosen (the first
    one if unknown), the size kept where the family has it (else the closest in parameters), the
    variant kept where that size has it (else the first of `VARIANT_ORDER`)."""
    keys = [f.key for f in families()]
    family = family if family in keys else keys[0]
    offered = sizes(family)
    if size not in offered:
        wanted = _billions(size)
        size = min(offered, key=lambda s: abs(_billions(s) - wanted))
    kinds = variants(family, size)
    chosen = variant if variant in kinds else kinds[0]
    entry = entry_for(family, size, chosen)
    assert entry is not None  # chosen among the variants that size has
    return entry


def _billions(size: str | None) -> float:
    for entry in catalogue().models:
        if entry.size == size:
            return size_billions(entry)
    return 0.0


@dataclass(frozen=True)
class LocalModel:
    """A model in one of this machine's hub caches, recognised.

    Attributes:
        entry: the catalogued model of that hub id, if any.
        family: its family: the catalogue's, else the one its config.json's model_type names
            (None: not a family LoRA Studio knows).
        shape: its shape read from its config.json (None when that has no sizes).
    """

    cached: CachedModel
    entry: ModelEntry | None
    family: Family | None
    shape: ModelShape | None


def recognise(cached: CachedModel) -> LocalModel:
    """What LoRA Studio makes of a cached model."""
    cat = catalogue()
    entry = cat.find(cached.model_id)
    family = entry.family if entry else cat.family_of_type(cached.info.model_type)
    try:
        shape: ModelShape | None = ModelShape.from_config(cached.info.config)
    except (KeyError, TypeError, ValueError):
        shape = entry.shape if entry else None
    return LocalModel(cached, entry, family, shape)


def local_models() -> list[LocalModel]:
    """Every model in this machine's Hugging Face and ModelScope caches, recognised (read from
    the disk each call: a picker calls it when it is opened or refreshed)."""
    return [recognise(cached) for cached in cached_models()]
