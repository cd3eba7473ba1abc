"""Models already on this machine: what a model folder says about itself (config.json's
`model_type`, its tokenizer's chat template and whether that template thinks), where a hub id
sits in the Hugging Face cache, and every model found in the Hugging Face and ModelScope caches.
Files are read, never downloaded; nothing heavy is imported."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lorastudio.models.catalogue import Thinking

CONFIG = "config.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
CHAT_TEMPLATE_FILE = "chat_template.jinja"  # transformers 5 may save the template beside it
# The generation prompt of a thinking-only model opens the thinking block itself.
_OPENS_THINKING = re.compile(r"add_generation_prompt[\s\S]*<think>")


@dataclass(frozen=True)
class FolderInfo:
    """What a model folder says about itself.

    Attributes:
        model_type: config.json's ``model_type`` ("" when unreadable).
        architectures: config.json's ``architectures``.
        thinking: how its chat template treats thinking: ``hybrid`` (it reads
            ``enable_thinking``), ``always`` (the generation prompt opens ``<think>``), ``none``
            (neither), or None (no chat template).
        config: config.json as data ({} when unreadable).
    """

    path: Path
    model_type: str
    architectures: tuple[str, ...]
    thinking: Thinking | None
    config: dict[str, Any]


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def chat_template_of(folder: Path) -> str | None:
    """The tokenizer's chat template text (tokenizer_config.json, else chat_template.jinja)."""
    template = _json(folder / TOKENIZER_CONFIG).get("chat_template")
    if isinstance(template, list):  # several named templates: the default one
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if isinstance(template, str) and template:
        return template
    try:
        return (folder / CHAT_TEMPLATE_FILE).read_text(encoding="utf-8") or None
    except OSError:
        return None


def thinking_of(template: str | None) -> Thinking | None:
    """How a chat template treats thinking (see `FolderInfo.thinking`)."""
    if template is None:
        return None
    if "enable_thinking" in template:
        return "hybrid"
    return "always" if _OPENS_THINKING.search(template) else "none"


def inspect_folder(folder: Path) -> FolderInfo:
    """Read a model folder's config.json and tokenizer files."""
    config = _json(folder / CONFIG)
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
    model_type = str(config.get("model_type") or text.get("model_type") or "")
    architectures = config.get("architectures")
    return FolderInfo(
        path=folder,
        model_type=model_type,
        architectures=tuple(a for a in architectures or () if isinstance(a, str)),
        thinking=thinking_of(chat_template_of(folder)),
        config=config,
    )


# ---------------------------------------------------------------- the hub caches


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
    ~/.cache/huggingface/hub."""
    hf_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    return Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")


def modelscope_cache() -> Path:
    """The ModelScope cache: $MODELSCOPE_CACHE, else ~/.cache/modelscope/hub."""
    default = Path.home() / ".cache" / "modelscope" / "hub"
    return Path(os.environ.get("MODELSCOPE_CACHE") or default)


def hf_cached_folder(model_id: str) -> Path | None:
    """The newest snapshot of a hub model in the Hugging Face cache that has its config.json."""
    snapshots = hf_hub_cache() / f"models--{model_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    found = sorted(snapshots.glob(f"*/{CONFIG}"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent if found else None


@dataclass(frozen=True)
class CachedModel:
    """A model found in a hub cache: its hub id, its folder and which cache it is in."""

    model_id: str
    path: Path
    hub: Literal["huggingface", "modelscope"]
    info: FolderInfo


def _hf_models() -> list[CachedModel]:
    root = hf_hub_cache()
    found = []
    for repo in sorted(root.glob("models--*--*")) if root.is_dir() else []:
        model_id = repo.name.removeprefix("models--").replace("--", "/", 1)
        folder = hf_cached_folder(model_id)
        if folder is not None:
            found.append(CachedModel(model_id, folder, "huggingface", inspect_folder(folder)))
    return found


def _modelscope_models() -> list[CachedModel]:
    """ModelScope keeps a model in <cache>/models/<org>/<name> (older versions <cache>/<org>/
    <name>), with dots in names written as ``___``."""
    root = modelscope_cache()
    found: dict[Path, CachedModel] = {}
    for base in (root / "models", root):
        for config in sorted(base.glob(f"*/*/{CONFIG}")) if base.is_dir() else []:
            folder = config.parent
            org = folder.parent.name
            if org == "models" or org.startswith(".") or folder in found:
                continue
            model_id = f"{org}/{folder.name}".replace("___", ".")
            found[folder] = CachedModel(model_id, folder, "modelscope", inspect_folder(folder))
    return list(found.values())


def cached_models() -> list[CachedModel]:
    """Every model with a config.json in the Hugging Face and ModelScope caches (no network)."""
    return _hf_models() + _modelscope_models()
