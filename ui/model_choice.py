"""What the Train tab's model picker (ui.model_picker) offers and says, without widgets: the
choices of each step (family → size → variant → hub, or a model of this machine's caches), the
hub id a choice writes, the model the recipe in the editor names, and the memory pre-flight
would estimate for that recipe against this machine's cards, as Markdown in either language.
Choices and numbers come from lorastudio (models.picking, checks.fit); nothing imports torch."""

from __future__ import annotations

from dataclasses import dataclass

from lorastudio.checks.fit import RecipeFit, recipe_fit
from lorastudio.errors import RecipeError
from lorastudio.launch.launcher import plan_target
from lorastudio.llamafactory.compiler import Target
from lorastudio.machine.hardware import label
from lorastudio.messages import Msg, msg
from lorastudio.models import picking
from lorastudio.models.catalogue import ModelEntry, catalogue
from lorastudio.models.memory import gib, model_shape
from lorastudio.models.shape import ModelShape
from lorastudio.recipe.loader import load_mapping
from lorastudio.recipe.schema import Recipe, parse_recipe_text
from ui.config import StudioConfig
from ui.locale import t

CATALOGUE, LOCAL = "catalogue", "local"
HUBS = [("Hugging Face", "huggingface"), ("ModelScope", "modelscope")]

# ---------------------------------------------------------------- what the picker offers


def family_choices() -> list[tuple[str, str]]:
    return [(f.name, f.key) for f in picking.families()]


def size_choices(family: str | None) -> list[str]:
    return picking.sizes(family) if family in dict(family_choices()).values() else []


def variant_choices(family: str | None, size: str | None, lang: str) -> list[tuple[str, str]]:
    """A size's variants, each said in ``lang`` ("instruct (hybrid)", "基础")."""
    offered = picking.variants(family, size) if size in size_choices(family) else []
    return [(variant_label(v, lang), v) for v in offered]


def variant_label(variant: str, lang: str) -> str:
    return msg(f"models.variant.{variant.replace('-', '_')}").text(lang)


def chosen_id(family: str | None, size: str | None, variant: str | None, hub: str | None) -> str:
    """The hub id a choice writes into model.id: the nearest catalogued model's, on that hub."""
    entry = picking.nearest(family, size, variant)
    return entry.hub_id("modelscope" if hub == "modelscope" else "huggingface")


def source_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("picker.from_catalogue", lang), CATALOGUE), (t("picker.from_caches", lang), LOCAL)]


def local_choices(found: list[picking.LocalModel], lang: str) -> list[tuple[str, str]]:
    """One choice per cached model: "Qwen/Qwen3-8B · Qwen3 · Hugging Face cache", its folder."""
    choices = []
    for model in found:
        family = model.family.name if model.family else msg("models.unknown_family").text(lang)
        cache = msg(f"models.cache.{model.cached.hub}").text(lang)
        choices.append((f"{model.cached.model_id} · {family} · {cache}", str(model.cached.path)))
    return choices


# ---------------------------------------------------------------- what the recipe names


@dataclass(frozen=True)
class Named:
    """The model the recipe in the editor names, as the picker shows it."""

    model_id: str
    hub: str
    entry: ModelEntry | None  # a catalogued hub id
    local: bool  # a folder on this machine


def named(text: str, config: StudioConfig) -> Named | None:
    """What model.id and model.hub say (None while the text is not a mapping with a model)."""
    raw = load_mapping(text or "")  # hostile text (too deep, too big) is no mapping either
    model = raw.get("model") if raw is not None else None
    model_id = model.get("id") if isinstance(model, dict) else None
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    hub = "modelscope" if model.get("hub") == "modelscope" else "huggingface"
    if config.workspace.resolve_model(model_id) is not None:
        return Named(model_id, hub, None, True)
    return Named(model_id, hub, catalogue().find(model_id), False)


# ---------------------------------------------------------------- the estimate


def _target(recipe: Recipe, config: StudioConfig) -> tuple[Target, list]:
    """Where the recipe would train here and its cards; cards it asks for and this machine
    lacks give no cards (nothing to compare with)."""
    try:
        target = plan_target(recipe, config.hardware)
    except RecipeError:
        device = recipe.hardware.device if recipe.hardware.device != "auto" else "cpu"
        return Target(device, len(recipe.hardware.devices or []) or 1), []
    ids = recipe.hardware.devices
    cards = [c for c in config.hardware.devices(target.device) if not ids or c.index in ids]
    return target, cards


def _model_line(recipe: Recipe, shape: ModelShape | None, lang: str) -> str:
    entry = catalogue().find(recipe.model.id)
    parts = [f"**{entry.name if entry else recipe.model.id}**"]
    if shape is not None:
        total = f"{shape.params / 1e9:.2f}B"
        active = f"{shape.active_params / 1e9:.2f}B"
        key = "models.params_moe" if shape.is_moe else "models.params"
        parts.append(msg(key, total=total, active=active).text(lang))
    if entry is not None:
        parts.append(entry.note.bilingual().text(lang))
    return " · ".join(parts)


def _fit_line(fitted: RecipeFit, recipe: Recipe, lang: str) -> str:
    setup = fitted.setup
    if setup.quantization in (4, 8):
        method = t("picker.method_qlora", lang, bits=setup.quantization)
    else:
        method = t("picker.method_lora", lang, precision=setup.precision)
    said = {"total": gib(fitted.memory.total), "method": method, "rank": setup.lora_rank}
    said |= {"batch": setup.batch_size, "cutoff": setup.cutoff_len}
    if fitted.budget is None or fitted.verdict is None:
        missing = label(recipe.hardware.device).text(lang)
        return t("picker.estimate_no_cards", lang, label=missing, **said)
    budget = fitted.budget
    verdict = msg(f"models.{fitted.verdict}").text(lang)
    here = {"budget": gib(budget.bytes), "where": budget.where.text(lang), "verdict": verdict}
    line = t("picker.estimate", lang, **said, **here)
    if fitted.fix is not None:
        line += "  \n" + t("error.fix", lang, fix=fitted.fix.text(lang))
    return line


def estimate_text(text: str, config: StudioConfig, lang: str) -> str:
    """Markdown: the recipe's model (parameters, the catalogue's note) and its memory as
    pre-flight estimates it against this machine, with the fix when it does not fit."""
    try:
        recipe = parse_recipe_text(text or "")
    except RecipeError:
        return t("picker.no_estimate", lang)
    target, cards = _target(recipe, config)
    local = config.workspace.resolve_model(recipe.model.id)
    fitted = recipe_fit(recipe, config.workspace, target, cards)
    if fitted is None:
        skipped: Msg = msg("note.memory_skipped", model=recipe.model.id)
        return f"**{recipe.model.id}**  \n{skipped.text(lang)}"
    shape = model_shape(recipe.model.id, local)
    return f"{_model_line(recipe, shape, lang)}  \n{_fit_line(fitted, recipe, lang)}"
