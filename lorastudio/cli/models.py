"""The `models` command of the CLI: `python launch.py models [--json] [--local]` — every model of
the catalogue (family, size, variant, Hugging Face and ModelScope ids, chat template, parameters)
with its memory for a LoRA with the recipe schema's defaults in bf16 and as QLoRA 4-bit, as
pre-flight estimates it, and whether it fits this machine; then the models found in this
machine's Hugging Face and ModelScope caches. Nothing is downloaded or loaded."""

from __future__ import annotations

import argparse
import json
import unicodedata
from typing import Any, TextIO

from lorastudio.checks.fit import Budget, ModelSizing, default_setup, machine_budget, size_model
from lorastudio.cli.exit_codes import ExitCode
from lorastudio.machine.hardware import detect
from lorastudio.messages import LANGUAGES, msg
from lorastudio.models.catalogue import ModelEntry, catalogue
from lorastudio.models.local import hf_hub_cache, modelscope_cache
from lorastudio.models.memory import GIB, MemoryEstimate, gib
from lorastudio.models.picking import LocalModel, local_models
from lorastudio.models.shape import ModelShape
from lorastudio.models.templates import resolve_template
from lorastudio.workspace import Workspace

CATALOGUE_COLUMNS = (
    "model", "family", "size", "variant", "template", "params", "lora", "qlora", "here"
)  # fmt: skip
LOCAL_COLUMNS = ("id", "cache", "type", "family", "params", "lora", "here", "path")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `models` on the CLI's subcommand parser."""
    models = sub.add_parser(
        "models",
        help="The models LoRA Studio knows and those in this machine's caches, with their "
        "memory for a LoRA and whether they fit this machine.",
        description="Every catalogued Qwen model (family, size, variant, Hugging Face and "
        "ModelScope ids, template, parameters, memory for a LoRA in bf16 and QLoRA 4-bit as "
        "pre-flight estimates it, and whether it fits this machine's cards), then the models "
        "in the Hugging Face ($HF_HUB_CACHE) and ModelScope ($MODELSCOPE_CACHE) caches.",
    )
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.add_argument(
        "--local", action="store_true", help="only the models in this machine's caches"
    )


def _billions(count: int) -> str:
    return f"{count / 1e9:.2f}B" if count < 1e10 else f"{count / 1e9:.1f}B"


def _gib(memory: MemoryEstimate) -> float:
    return round(memory.total / GIB, 2)


def _params(shape: ModelShape | None, lang: str) -> str:
    if shape is None:
        return "–"
    total = _billions(shape.params)
    if not shape.is_moe:
        return total
    return msg("models.active", total=total, active=_billions(shape.active_params)).text(lang)


def _template(entry: ModelEntry) -> tuple[str | None, bool | None]:
    """The template `model.template: auto` picks for it, and enable_thinking."""
    choice, _ = resolve_template({"id": entry.huggingface}, None)
    return (choice.template, choice.enable_thinking) if choice else (None, None)


def _sizing_data(sizing: ModelSizing | None) -> dict[str, Any]:
    if sizing is None:
        return {"memory_gib": None, "fits": None}
    memory = {"lora_bf16": _gib(sizing.lora), "qlora_4bit": _gib(sizing.qlora)}
    memory["this_machine"] = _gib(sizing.here_memory)
    fits = {"lora": sizing.here, "qlora_4bit": sizing.here_qlora, "summary": sizing.summary}
    return {"memory_gib": memory, "fits": fits}


def _sized(shape: ModelShape | None, budget: Budget) -> ModelSizing | None:
    return size_model(shape, budget) if shape is not None else None


def catalogue_data(budget: Budget) -> list[dict[str, Any]]:
    """One row per catalogued model, as `models --json` prints it."""
    rows = []
    for entry in catalogue().models:
        template, thinking = _template(entry)
        shape = entry.shape if entry.family.supported else None
        rows.append(
            {
                "name": entry.name,
                "family": entry.family.key,
                "family_name": entry.family.name,
                "size": entry.size,
                "variant": entry.variant,
                "thinking": entry.thinking,
                "huggingface": entry.huggingface,
                "modelscope": entry.modelscope,
                "template": template,
                "enable_thinking": thinking,
                "supported": entry.family.supported,
                "params": entry.shape.params if entry.shape else None,
                "active_params": entry.shape.active_params if entry.shape else None,
                "context": entry.context,
                "note": {"en": entry.note.en, "zh": entry.note.zh},
            }
            | _sizing_data(_sized(shape, budget))
        )
    return rows


def local_data(found: list[LocalModel], budget: Budget) -> list[dict[str, Any]]:
    """One row per cached model, as `models --json` prints it."""
    return [
        {
            "id": model.cached.model_id,
            "hub": model.cached.hub,
            "path": str(model.cached.path),
            "model_type": model.cached.info.model_type or None,
            "family": model.family.key if model.family else None,
            "catalogued": model.entry.name if model.entry else None,
            "params": model.shape.params if model.shape else None,
        }
        | _sizing_data(_sized(model.shape, budget))
        for model in found
    ]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell (a Chinese character counts as two)."""
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(
            cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in [header, *rows]
    ]


def _verdict(sizing: ModelSizing | None, supported: bool, lang: str) -> str:
    if not supported:
        return msg("models.unsupported").text(lang)
    return msg(f"models.{sizing.summary}").text(lang) if sizing else "–"


def _catalogue_lines(budget: Budget, lang: str) -> list[str]:
    cat, setup = catalogue(), default_setup()
    names = ", ".join(dict.fromkeys(e.family.name for e in cat.models))
    said = {"rank": setup.lora_rank, "batch": setup.batch_size, "cutoff": setup.cutoff_len}
    lines = [msg("models.header", count=len(cat.models), families=names, **said).text(lang)]
    rows = []
    for entry in cat.models:
        supported = entry.family.supported
        sizing = _sized(entry.shape if supported else None, budget)
        model = entry.huggingface
        if entry.modelscope != entry.huggingface:
            model = msg("models.modelscope_id", id=model, modelscope=entry.modelscope).text(lang)
        rows.append(
            [
                model,
                entry.family.name,
                entry.size,
                msg(f"models.variant.{entry.variant.replace('-', '_')}").text(lang),
                _template(entry)[0] or "–",
                _params(entry.shape, lang),
                gib(sizing.lora.total) if sizing else "–",
                gib(sizing.qlora.total) if sizing else "–",
                _verdict(sizing, supported, lang),
            ]
        )
    header = [msg(f"models.col.{c}").text(lang) for c in CATALOGUE_COLUMNS]
    return [*lines, "", *_table(header, rows)]


def _local_lines(found: list[LocalModel], budget: Budget, lang: str) -> list[str]:
    caches = {"hf": hf_hub_cache(), "ms": modelscope_cache()}
    if not found:
        return [msg("models.local_none", **caches).text(lang)]
    rows = []
    for model in found:
        sizing = _sized(model.shape, budget) if model.family else None
        family = model.family.name if model.family else msg("models.unknown_family").text(lang)
        rows.append(
            [
                model.cached.model_id,
                msg(f"models.cache.{model.cached.hub}").text(lang),
                model.cached.info.model_type or "–",
                family,
                _params(model.shape, lang),
                gib(sizing.lora.total) if sizing else "–",
                _verdict(sizing, True, lang),
                str(model.cached.path),
            ]
        )
    header = [msg(f"models.col.{c}").text(lang) for c in LOCAL_COLUMNS]
    return [msg("models.local_header", **caches).text(lang), "", *_table(header, rows)]


def machine_data(budget: Budget) -> dict[str, Any]:
    return {
        "device": budget.device,
        "precision": budget.precision,
        "budget_gib": round(budget.bytes / GIB, 2),
        "where": {lang: budget.where.text(lang) for lang in LANGUAGES},
    }


def cmd_models(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    budget = machine_budget(detect())
    found = local_models()
    if args.json:
        setup = default_setup()
        data: dict[str, Any] = {
            "machine": machine_data(budget),
            "setup": {
                "lora_rank": setup.lora_rank,
                "lora_target": setup.lora_target,
                "batch_size": setup.batch_size,
                "cutoff_len": setup.cutoff_len,
            },
            "caches": {"huggingface": str(hf_hub_cache()), "modelscope": str(modelscope_cache())},
            "local": local_data(found, budget),
        }
        if not args.local:
            data["catalogue"] = catalogue_data(budget)
        print(json.dumps(data, indent=2, ensure_ascii=False), file=out)
        return ExitCode.OK
    lang = args.lang
    here = {"budget": gib(budget.bytes), "where": budget.where, "precision": budget.precision}
    lines = [msg("models.machine", **here).text(lang), ""]
    if not args.local:
        lines += [*_catalogue_lines(budget, lang), ""]
    lines += _local_lines(found, budget, lang)
    print("\n".join(lines), file=out)
    return ExitCode.OK


COMMANDS = {"models": cmd_models}
