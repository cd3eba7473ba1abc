"""The chat template follows the model: which model a recipe names (the catalogue, else its
folder's config.json and chat template), which LLaMA-Factory templates fit it, the one
`model.template: auto` picks with `model.thinking`, and every mismatch as a Problem naming both
templates and the fix. `model.template_override: true` is the expert's way past the guard.

How thinking maps onto LLaMA-Factory (llamafactory/data/template.py, 0.9.5):
- a model that never thinks (Qwen2.5, Qwen3-*-Instruct-2507) gets the plain template (`qwen`,
  `qwen3_nothink`), as LLaMA-Factory registers them;
- a hybrid Qwen3 gets `qwen3` with `enable_thinking` true or false: with false, LLaMA-Factory
  drops the thinking from the answers and puts the empty `<think>\\n\\n</think>\\n\\n` block into
  the prompt, exactly what the model's own chat template does with `enable_thinking=False`;
- a thinking-only model (Qwen3-*-Thinking-2507) gets `qwen3` with thinking on;
- a base model gets the plain template unless the recipe turns thinking on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lorastudio.errors import Problem
from lorastudio.messages import Msg, msg
from lorastudio.models.catalogue import Family, ModelEntry, Thinking, catalogue
from lorastudio.models.local import FolderInfo, hf_cached_folder, inspect_folder

AUTO = "auto"


@dataclass(frozen=True)
class ModelIdentity:
    """Which model a recipe names, as far as this machine can tell.

    Attributes:
        name: how messages call it (its catalogue name, else the id as written).
        entry: its catalogue entry, if catalogued.
        family: its family (None: not one LoRA Studio knows).
        thinking: how it treats thinking (None when unknown).
        folder: what its folder says (a local folder, or its Hugging Face cache snapshot).
    """

    name: str
    entry: ModelEntry | None
    family: Family | None
    thinking: Thinking | None
    folder: FolderInfo | None

    def default_thinking(self) -> Thinking:
        if self.family is None or self.family.thinking_template is None:
            return "none"
        return self.thinking or "optional"


@dataclass(frozen=True)
class TemplateChoice:
    """The template a run trains and chats with.

    Attributes:
        enable_thinking: LLaMA-Factory's ``enable_thinking`` (None: not written, for templates
            without thinking).
    """

    template: str
    enable_thinking: bool | None
    identity: ModelIdentity
    source: Literal["auto", "explicit", "override"] = "auto"

    @property
    def thinks(self) -> bool:
        return bool(self.enable_thinking)

    def describe(self) -> Msg:
        """ "chat template: qwen3, thinking on (from the catalogue: Qwen3-8B)"."""
        who = self.identity
        if self.source != "auto":
            how = msg(f"models.how.{self.source}")
        elif who.entry is not None:
            how = msg("models.how.catalogue", model=who.entry.name)
        else:
            folder = who.folder
            how = msg(
                "models.how.folder",
                path=folder.path if folder else who.name,
                type=folder.model_type if folder else "",
            )
        if self.enable_thinking is None:
            return msg("note.template", template=self.template, how=how)
        thinking = msg("models.thinking.on" if self.enable_thinking else "models.thinking.off")
        return msg("note.template_thinking", template=self.template, thinking=thinking, how=how)


def identify(model_id: str, local: Path | None) -> ModelIdentity:
    """Recognise a model: a local folder (or a hub id's Hugging Face cache snapshot) by its
    config.json ``model_type`` and chat template, named after a catalogued model where its folder
    name is one; a hub id by the catalogue."""
    cat = catalogue()
    folder_path = local
    entry = cat.find(model_id) if local is None else None
    if local is None and entry is None:
        folder_path = hf_cached_folder(model_id)
    if folder_path is None:
        family = entry.family if entry else None
        return ModelIdentity(
            entry.name if entry else model_id, entry, family, _thinking(entry), None
        )
    info = inspect_folder(folder_path)
    family = cat.family_of_type(info.model_type)
    named = cat.find(folder_path.name) if local is not None else None
    if named is not None and (info.model_type in named.family.model_types or not info.config):
        return ModelIdentity(named.name, named, named.family, named.thinking, info)
    if family is not None and family.thinking_template is None:
        return ModelIdentity(model_id, None, family, "none", info)
    return ModelIdentity(model_id, None, family, info.thinking, info)


def _thinking(entry: ModelEntry | None) -> Thinking | None:
    return entry.thinking if entry else None


def allowed_templates(family: Family, thinking: Thinking) -> list[str]:
    """The templates that fit a model of this family with this thinking behaviour."""
    plain, thinks = family.plain_template, family.thinking_template
    if thinks is None or thinking == "none":
        return [plain]
    if thinking == "always":
        return [thinks]
    return [thinks, plain]  # hybrid or optional


def _auto(family: Family, thinking: Thinking, asked: str) -> tuple[str, bool | None]:
    thinks = family.thinking_template
    if thinks is None or thinking == "none":
        return family.plain_template, None
    if thinking == "always":
        return thinks, True
    if thinking == "hybrid":
        return thinks, asked != "off"
    return (thinks, True) if asked == "on" else (family.plain_template, None)


def _explicit_thinking(asked: str) -> bool | None:
    return None if asked == AUTO else asked == "on"


Resolution = tuple[TemplateChoice | None, list[Problem]]


def resolve_template(model: Mapping[str, Any], local: Path | None) -> Resolution:
    """The template for a recipe's ``model`` section (raw or validated values), or the problems
    that stop it.

    Args:
        model: ``id``, ``template`` (default auto), ``thinking`` (auto|on|off),
            ``template_override`` (bool).
        local: the model's local folder when ``id`` names one (None for a hub id).
    """
    model_id = str(model.get("id") or "")
    template = str(model.get("template") or AUTO)
    asked = thinking_asked(model.get("thinking"))
    override = model.get("template_override") is True
    who = identify(model_id, local)
    family = who.family
    if family is not None and not family.supported and not (override and template != AUTO):
        return None, [_unsupported(model_id, who, family)]
    if family is None or not family.supported:
        if template == AUTO:
            return None, [_unknown(model_id, who)]
        return TemplateChoice(template, _explicit_thinking(asked), who, "explicit"), []
    thinking = who.default_thinking()
    problems = _thinking_problems(who, thinking, asked, family)
    expected, enable = _auto(family, thinking, asked)
    if template == AUTO:
        return (None, problems) if problems else (TemplateChoice(expected, enable, who), [])
    if template not in allowed_templates(family, thinking):
        if override:
            return TemplateChoice(template, _explicit_thinking(asked), who, "override"), []
        return None, [*problems, _misfit(template, expected, who, family)]
    if template != family.thinking_template and asked == "on":
        fix = msg("fix.thinking_template", thinking=family.thinking_template)
        message = msg("problem.template_never_thinks", template=template)
        problems.append(Problem("model.thinking", asked, message, fix))
    if problems:
        return None, problems
    enable = (asked != "off") if template == family.thinking_template else None
    return TemplateChoice(template, enable, who, "explicit"), []


def thinking_asked(value: Any) -> str:
    """``model.thinking`` as auto, on or off (YAML reads an unquoted on/off as true/false)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value or AUTO)


def template_problems(model: Mapping[str, Any], local: Path | None) -> list[Problem]:
    """Only the problems of `resolve_template`."""
    return resolve_template(model, local)[1]


def _thinking_problems(
    who: ModelIdentity, thinking: Thinking, asked: str, family: Family
) -> list[Problem]:
    if asked == "on" and thinking == "none":
        message = msg("problem.cannot_think", model=who.name, template=family.plain_template)
        return [Problem("model.thinking", asked, message, msg("fix.thinking_auto_off"))]
    if asked == "off" and thinking == "always":
        message = msg("problem.must_think", model=who.name)
        return [Problem("model.thinking", asked, message, msg("fix.thinking_auto_on"))]
    return []


def _misfit(template: str, expected: str, who: ModelIdentity, family: Family) -> Problem:
    message = msg(
        "problem.template_misfit",
        template=template,
        model=who.name,
        family=family.name,
        expected=expected,
    )
    fix = msg("fix.template_misfit", template=template, expected=expected)
    return Problem("model.template", template, message, fix)


REASONS: dict[str, str] = {
    "vision_language": "models.reason.vision_language",
    "hybrid_attention": "models.reason.hybrid_attention",
}


def _unsupported(model_id: str, who: ModelIdentity, family: Family) -> Problem:
    reason: Msg = msg(REASONS[family.reason or "vision_language"])
    message = msg("problem.unsupported_family", model=who.name, family=family.name, reason=reason)
    return Problem("model.id", model_id, message, msg("fix.text_model"))


def _unknown(model_id: str, who: ModelIdentity) -> Problem:
    if who.folder is not None and who.folder.model_type:
        message = msg("problem.unknown_model_type", model=who.name, type=who.folder.model_type)
    else:
        message = msg("problem.unknown_family", model=who.name)
    return Problem("model.template", AUTO, message, msg("fix.unknown_family"))
