"""The Data tab's callbacks: an upload recognised and its mapping proposed, the preview rendered
for the Train tab's recipe, the file added all or nothing, put into the recipe, listed and
deleted. Each is a thin call into lorastudio.data that returns component updates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from lorastudio.data import ingest, preview, reader, records, registry
from lorastudio.data.formats import SAMPLE_ROWS, Mapping, default_mapping
from lorastudio.data.problems import DataError, DataProblem
from lorastudio.messages import msg
from lorastudio.recipe.text import set_field
from lorastudio.runs.datasets import remove_dataset
from lorastudio.workspace import Workspace
from ui import data_view
from ui.config import StudioConfig
from ui.locale import t

if TYPE_CHECKING:  # the tab module imports this one
    from ui.data_tab import DataTab


def _values(tab: DataTab, args: tuple) -> tuple[str, dict[str, str]]:
    fmt, *values = args
    return fmt, dict(zip(tab.fields, values, strict=True))


@dataclass
class DataActions:
    """The tab's callbacks: each reads or changes data through lorastudio and returns updates."""

    tab: DataTab
    config: StudioConfig
    show_recipe: Callable[..., dict] | None = None  # the Train tab's `show`: new recipe text

    @property
    def ws(self) -> Workspace:
        return self.config.workspace

    def _form(self, mapping: Mapping, keys: list[str]) -> dict:
        """The mapping form showing ``mapping``: each field's value, choices and visibility."""
        shown = data_view.shown_fields(mapping.format)
        out: dict = {self.tab.fmt: gr.update(value=mapping.format)}
        for name, widget in self.tab.fields.items():
            value = mapping.tags.get(name) if name in data_view.TAG_FIELDS else None
            if value is None:
                value = mapping.columns.get(name, "")
            update = {"value": value or "", "visible": name in shown}
            if name in data_view.COLUMN_FIELDS:
                update["choices"] = ["", *keys]
            out[widget] = gr.update(**update)
        return out

    def uploaded(self, lang: str, file: str | None, recipe: str | None) -> dict:
        """A file arrived: recognise it, propose its mapping and name."""
        tab = self.tab
        cleared = {tab.rows: "", tab.stats: "", tab.histogram: None, tab.message: ""}
        if not file:
            return cleared | {tab.error: "", tab.recognised: ""}
        path = Path(file)
        try:
            mapping = ingest.propose(path)
            keys = _keys(path)
        except DataError as exc:
            return cleared | {tab.error: "⚠️ " + exc.text(lang), tab.recognised: ""}
        settings = data_view.recipe_settings(recipe)
        note = t("datatab.recognised", lang, format=mapping.format, file=path.name)
        return (
            cleared
            | self._form(mapping, keys)
            | {
                tab.error: "",
                tab.recognised: note,
                tab.name: ingest.default_name(path),
                tab.cutoff: settings.cutoff,
            }
        )

    def reformat(self, lang: str, file: str | None, fmt: str | None) -> dict:
        """Another layout picked: its columns proposed from the file's."""
        if not file or not fmt:
            return {}
        path = Path(file)
        keys = _keys(path)
        try:
            mapping = ingest.propose(path, fmt)
        except DataError:
            mapping = default_mapping(fmt, keys)
        return self._form(mapping, keys) | {self.tab.error: ""}

    def render(self, lang: str, file: str | None, cutoff, recipe: str | None, *form) -> dict:
        """The preview of the file as mapped in the form, for the Train tab's recipe."""
        tab = self.tab
        fmt, values = _values(tab, form)
        if not file or not fmt:
            return {}
        mapping = data_view.mapping_from_form(fmt, values)
        problem = _first_problem(Path(file), mapping)
        if problem is not None:
            return {
                tab.error: "⚠️ " + problem.text(lang),
                tab.rows: "",
                tab.stats: "",
                tab.histogram: None,
            }
        settings = data_view.recipe_settings(recipe)
        view = preview.preview(
            Path(file),
            mapping,
            self.ws,
            model_id=settings.model,
            template=settings.template,
            cutoff=int(cutoff or settings.cutoff),
            stage=settings.stage,
            trust_remote_code=settings.trust_remote_code,
        )
        frame, order = data_view.histogram_frame(view, lang)
        colours = {t("datatab.kept", lang): "#2563eb", t("datatab.cut", lang): "#dc2626"}
        head = t("datatab.rendered_for", lang, model=settings.model, template=settings.template)
        return {
            tab.error: "",
            tab.rows: data_view.rows_html(view, lang),
            tab.stats: f"{head}\n\n{data_view.stats_text(view, lang)}",
            tab.histogram: gr.update(value=frame, sort=order or None, color_map=colours),
        }

    def add(self, lang: str, file: str | None, name: str, *form) -> dict:
        """Check every row and register the file; a refused file leaves nothing behind."""
        tab = self.tab
        if not file:
            return {tab.error: "⚠️ " + t("datatab.no_file", lang)}
        fmt, values = _values(tab, form)
        if not fmt:  # a file whose layout could not be told: the form is empty
            return {tab.error: "⚠️ " + msg("fix.pick_format").text(lang)}
        mapping = data_view.mapping_from_form(fmt, values)
        try:
            added = ingest.add_dataset(
                self.ws,
                Path(file),
                (name or "").strip() or None,
                mapping,
                source_name=Path(file).name,
            )
        except DataError as exc:
            return {tab.error: "⚠️ " + exc.text(lang), tab.message: ""}
        dataset = added.dataset
        notes = "".join(f"\n- {note.text(lang)}" for note in added.checked.notes)
        done = t("datatab.added", lang, ref=dataset.ref, rows=dataset.rows) + notes
        return self.listing(lang) | {
            tab.error: "",
            tab.message: done,
            tab.added: dataset.ref,
            tab.use: gr.update(interactive=True),
        }

    def use(self, lang: str, ref: str | None, val_size: float, cutoff, recipe: str) -> dict:
        """Put the added dataset in the Train tab's recipe (with the split and cutoff)."""
        if not ref:
            return {self.tab.message: t("datatab.add_first", lang)}
        dataset = registry.find(self.ws, ref)
        text = set_field(recipe, "data.datasets", [ref])
        text = set_field(text, "data.val_size", float(val_size or 0.0))
        if cutoff:
            text = set_field(text, "data.cutoff_len", int(cutoff))
        if dataset.mapping.format == "text" or data_view.recipe_settings(text).stage == "pt":
            stage = "pt" if dataset.mapping.format == "text" else "sft"
            text = set_field(text, "train.stage", stage)
        note = t("datatab.used", lang, ref=ref)
        return self.show_recipe(lang, text, note) | {self.tab.message: note}

    def listing(self, lang: str) -> dict:
        found = registry.datasets(self.ws)
        return {
            self.tab.table: data_view.table(found, lang),
            self.tab.pick: gr.update(choices=[d.name for d in found]),
        }

    def ask_delete(self, lang: str, name: str | None) -> dict:
        if not name:
            return {self.tab.message: t("datatab.pick_first", lang)}
        text = t("datatab.confirm_delete", lang, name=name)
        return {self.tab.confirm_row: gr.update(visible=True), self.tab.confirm_text: text}

    def delete(self, lang: str, name: str | None) -> dict:
        hidden = {self.tab.confirm_row: gr.update(visible=False)}
        try:
            dataset = remove_dataset(self.ws, name or "")
        except DataError as exc:
            return hidden | {self.tab.message: "⚠️ " + exc.text(lang)}
        done = t("datatab.deleted", lang, ref=dataset.ref)
        return self.listing(lang) | hidden | {self.tab.message: done, self.tab.pick: None}


def _keys(path: Path) -> list[str]:
    """The file's column names (CSV/Parquet header, or the keys of its first rows)."""
    try:
        rows, names = ingest.sample(path)
    except DataError:
        return []
    if names is not None:
        return names
    return list(dict.fromkeys(k for row in rows if isinstance(row, dict) for k in row))


def _first_problem(path: Path, mapping: Mapping) -> DataProblem | None:
    """The first problem in the file's first rows under ``mapping`` (the whole file is checked
    when it is added)."""
    try:
        for row in reader.rows(path):
            problem = records.check_row(row, mapping)
            if problem is not None or row.number >= SAMPLE_ROWS:
                return problem
    except DataError as exc:
        return exc.problems[0]
    return None
