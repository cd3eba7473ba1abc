"""The recipe as a form: one widget per schema field (kind, default, range and help from the
schema, labels from the locale table), grouped by recipe section, each with its error line."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from lorastudio.llamafactory import spec as llamafactory_spec
from ui.fields import FieldSpec, form_fields, to_widget
from ui.labels import Labels
from ui.locale import field_help, field_label, t

OPEN_SECTIONS = ("recipe", "model", "data", "lora", "train", "hardware")
PER_ROW = 3


@dataclass
class FormField:
    """A field's widget and the line under it that shows its problems."""

    spec: FieldSpec
    widget: gr.components.Component
    error: gr.Markdown


@dataclass
class RecipeForm:
    """Every field of the form, and an error line per section for cross-field problems."""

    fields: list[FormField]
    section_errors: dict[str, gr.Markdown]

    @property
    def widgets(self) -> list[gr.components.Component]:
        return [f.widget for f in self.fields]

    @property
    def errors(self) -> list[gr.Markdown]:
        return [f.error for f in self.fields] + list(self.section_errors.values())


def _info(spec: FieldSpec):
    def text(lang: str) -> str:
        parts = [field_help(spec.path, lang)]
        if spec.range_text():
            parts.append(t("field.range", lang, range=spec.range_text()))
        if spec.kind in ("list", "int_list", "target"):
            parts.append(t("field.list", lang))
        if spec.kind == "lines":
            parts.append(t("field.lines", lang))
        if spec.nullable:
            parts.append(t("field.optional", lang))
        return " ".join(parts)

    return text


PROSE = {"description"}  # free text: a box of several lines, not one cut-off line


def _widget(spec: FieldSpec, labels: Labels) -> gr.components.Component:
    texts = {"label": lambda lang: field_label(spec.path, lang), "info": _info(spec)}
    value = to_widget(spec, spec.default)
    elem_id = "field-" + spec.path.replace(".", "-")
    if spec.kind == "bool":
        return labels.make(gr.Checkbox, texts, value=value, elem_id=elem_id)
    if spec.kind == "choice":
        choices = [str(c) for c in spec.choices]
        return labels.make(gr.Dropdown, texts, choices=choices, value=value, elem_id=elem_id)
    if spec.kind in ("int", "float"):
        precision = 0 if spec.kind == "int" else None
        return labels.make(gr.Number, texts, value=value, precision=precision, elem_id=elem_id)
    if spec.path == "model.template":  # auto, the names this LLaMA-Factory knows, and any other
        templates = ["auto", *sorted(llamafactory_spec.known_templates())]
        return labels.make(
            gr.Dropdown,
            texts,
            choices=templates,
            value=value,
            allow_custom_value=True,
            elem_id=elem_id,
        )
    if spec.kind in ("mapping", "lines") or spec.path in PROSE:  # grows with its text
        return labels.make(gr.Textbox, texts, value=value, lines=3, max_lines=12, elem_id=elem_id)
    return labels.make(gr.Textbox, texts, value=value, lines=1, elem_id=elem_id)


def _section(name: str, specs: list[FieldSpec], labels: Labels, form: RecipeForm) -> None:
    with labels.make(gr.Accordion, {"label": f"section.{name}"}, open=name in OPEN_SECTIONS):
        form.section_errors[name] = gr.Markdown(visible=False, elem_classes=["field-error"])
        for start in range(0, len(specs), PER_ROW):
            with gr.Row(equal_height=False):
                for spec in specs[start : start + PER_ROW]:
                    with gr.Column(min_width=220):
                        widget = _widget(spec, labels)
                        error = gr.Markdown(
                            visible=False,
                            elem_classes=["field-error"],
                            elem_id="error-" + spec.path.replace(".", "-"),
                        )
                        form.fields.append(FormField(spec, widget, error))


def build(labels: Labels) -> RecipeForm:
    """Lay out the form inside the current Blocks context."""
    form = RecipeForm(fields=[], section_errors={})
    sections: dict[str, list[FieldSpec]] = {}
    for spec in form_fields():
        sections.setdefault(spec.section, []).append(spec)
    for name, specs in sections.items():
        _section(name, specs, labels, form)
    return form
