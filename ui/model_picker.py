"""The Train tab's model picker, open above the form: a model from the catalogue one step at a time
(family → size → variant → hub), or one found in this machine's Hugging Face and ModelScope
caches. Choosing one writes model.id and model.hub into the recipe as a form edit does (the YAML
follows, its comments kept); below, the memory pre-flight would estimate for the recipe against
this machine's cards. It follows the recipe in the editor, whoever changed it. The caches are
read when the picker turns to them or Refresh is pressed, never on a timer. What it offers and
says is ui.model_choice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from lorastudio.models.local import hf_hub_cache, modelscope_cache
from lorastudio.models.picking import local_models
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import guarded
from ui.model_choice import (
    CATALOGUE,
    HUBS,
    LOCAL,
    chosen_id,
    estimate_text,
    family_choices,
    local_choices,
    named,
    size_choices,
    source_choices,
    variant_choices,
)

# Sets recipe fields in the editor's text as a form edit does: (lang, text, {path: value}) ->
# (the new text, the Train tab's updates). TrainActions.set_fields.
SetFields = Callable[[str, str, dict[str, Any]], tuple[str, dict]]


@dataclass
class ModelPicker:
    source: gr.Radio  # the catalogue, or this machine's caches
    catalogue_row: gr.Row
    family: gr.Dropdown
    size: gr.Dropdown
    variant: gr.Dropdown
    hub: gr.Dropdown
    local_row: gr.Row
    local: gr.Dropdown  # a cached model's folder
    refresh: gr.Button
    estimate: gr.Markdown

    def steps(self) -> list:
        return [self.family, self.size, self.variant, self.hub]

    def state(self) -> list:
        """What the picker shows now (inputs of a follow): where from, the steps, the folder."""
        return [self.source, *self.steps(), self.local]

    def outputs(self) -> list:
        return [self.catalogue_row, self.local_row, self.estimate, *self.state()]


def _cache_info(lang: str) -> str:
    return t("picker.local_info", lang, hf=hf_hub_cache(), ms=modelscope_cache())


def build(labels: Labels) -> ModelPicker:
    """Lay out the picker, open, inside the current Blocks context."""
    with labels.make(gr.Accordion, {"label": "picker.title"}, open=True, elem_id="model-picker"):
        source = labels.make(
            gr.Radio,
            {"label": "picker.source", "choices": source_choices},
            value=CATALOGUE,
            elem_id="picker-source",
        )
        with gr.Row(equal_height=True) as catalogue_row:
            family = labels.make(
                gr.Dropdown,
                {"label": "picker.family"},
                choices=family_choices(),
                value=None,
                elem_id="picker-family",
            )
            size = labels.make(gr.Dropdown, {"label": "picker.size"}, elem_id="picker-size")
            variant = labels.make(
                gr.Dropdown, {"label": "picker.variant"}, elem_id="picker-variant"
            )
            hub = labels.make(
                gr.Dropdown,
                {"label": "picker.hub"},
                choices=HUBS,
                value="huggingface",
                elem_id="picker-hub",
            )
        with gr.Row(equal_height=True, visible=False) as local_row:
            local = labels.make(
                gr.Dropdown,
                {"label": "picker.local", "info": _cache_info},
                allow_custom_value=True,  # a folder the recipe names, in no cache
                scale=4,
                elem_id="picker-local",
            )
            refresh = labels.make(
                gr.Button, {"value": "picker.refresh"}, scale=1, elem_id="picker-refresh"
            )
        estimate = gr.Markdown(elem_id="model-estimate")
    return ModelPicker(
        source, catalogue_row, family, size, variant, hub, local_row, local, refresh, estimate
    )


@dataclass
class PickerActions:
    """The picker's callbacks; ``set_fields`` writes into the recipe as the form does."""

    picker: ModelPicker
    config: StudioConfig
    set_fields: SetFields

    def _rows(self, source: str) -> dict:
        picker = self.picker
        return {
            picker.source: source,
            picker.catalogue_row: gr.update(visible=source == CATALOGUE),
            picker.local_row: gr.update(visible=source == LOCAL),
        }

    def _steps(self, lang: str, family, size, variant) -> dict:
        """The steps with the choices each offers after the one before, said in ``lang``."""
        picker, sizes = self.picker, size_choices(family)
        kinds = variant_choices(family, size, lang)
        return {
            picker.family: family if sizes else None,
            picker.size: gr.update(choices=sizes, value=size if size in sizes else None),
            picker.variant: gr.update(
                choices=kinds, value=variant if variant in [v for _, v in kinds] else None
            ),
        }

    def follow(self, lang: str, text: str, source: str, family, size, variant, hub, local) -> dict:
        """Follow the recipe: the estimate, and the model it names where that is not what the
        picker holds already (so a look at the other source survives edits of other fields)."""
        picker, name = self.picker, named(text, self.config)
        out: dict = {picker.estimate: estimate_text(text, self.config, lang)}
        if name is not None and name.local and name.model_id != local:
            out |= self._rows(LOCAL) | {picker.local: name.model_id}
        entry = name.entry if name is not None else None
        if entry is not None and entry.family.supported:
            shown = (entry.family.key, entry.size, entry.variant, name.hub)
            if shown != (family, size, variant, hub):
                out |= self._rows(CATALOGUE) | {picker.hub: name.hub}
                family, size, variant = shown[:3]
        return out | self._steps(lang, family, size, variant)

    def choose(self, lang: str, family, size, variant, hub, text: str) -> dict:
        """A step changed: the nearest catalogued model goes into model.id, the hub into
        model.hub."""
        hub = hub or "huggingface"
        values = {"model.id": chosen_id(family, size, variant, hub), "model.hub": hub}
        text, out = self.set_fields(lang, text, values)
        return out | self.follow(lang, text, CATALOGUE, family, size, variant, hub, None)

    def choose_local(self, lang: str, folder: str | None, text: str) -> dict:
        """A cached model was picked: its folder goes into model.id."""
        if not folder:
            return {}
        text, out = self.set_fields(lang, text, {"model.id": folder})
        return out | {self.picker.estimate: estimate_text(text, self.config, lang)}

    def cached(self, lang: str) -> dict:
        """This machine's caches, read now."""
        return {self.picker.local: gr.update(choices=local_choices(local_models(), lang))}

    def turn(self, lang: str, source: str) -> dict:
        """The source changed: show its steps; the caches are read when turned to."""
        return self._rows(source) | (self.cached(lang) if source == LOCAL else {})

    def relabel(self, lang: str, text: str, source: str, *state) -> dict:
        """After a language switch: the choices and the estimate in the new language."""
        out = self.follow(lang, text, source, *state)
        return out | (self.cached(lang) if source == LOCAL else {})


def wire(
    picker: ModelPicker,
    config: StudioConfig,
    lang: Any,
    recipe_text: gr.Code,
    set_fields: SetFields,
    train_outputs: list,
    message: gr.Markdown,
) -> PickerActions:
    """Follow the recipe text (every change, whoever made it); write what is picked."""
    act = PickerActions(picker, config, set_fields)
    quiet = {"show_progress": "hidden", "trigger_mode": "always_last"}
    # One at a time, in the order they came: a follow of older text that ended after a newer
    # choice would put the old model's steps back beside the new model.id (seen under load).
    quiet |= {"concurrency_limit": 1, "concurrency_id": "model-picker"}
    shown = list(dict.fromkeys([*train_outputs, *picker.outputs()]))
    following = [lang, recipe_text, *picker.state()]
    recipe_text.change(guarded(message, act.follow), following, picker.outputs(), **quiet)
    choose = guarded(message, act.choose)
    for step in picker.steps():
        step.input(choose, [lang, *picker.steps(), recipe_text], shown, **quiet)
    picker.local.input(
        guarded(message, act.choose_local), [lang, picker.local, recipe_text], shown, **quiet
    )
    rows = [picker.source, picker.catalogue_row, picker.local_row, picker.local]
    picker.source.input(guarded(message, act.turn), [lang, picker.source], rows, **quiet)
    picker.refresh.click(guarded(message, act.cached), [lang], [picker.local], **quiet)
    return act


def follow_switch(act: PickerActions, event: Any, lang: Any, recipe_text: gr.Code) -> Any:
    """Re-render after ``event`` (the language switch), in the language it set."""
    picker = act.picker
    return event.then(
        guarded(picker.estimate, act.relabel),
        [lang, recipe_text, *picker.state()],
        picker.outputs(),
        show_progress="hidden",
    )
