"""The Train tab: pick or upload a recipe, edit it as a form or as YAML (each follows the other),
see the compiled LLaMA-Factory config and the exact command, download the recipe, start a run
and watch it live. Every callback is a thin call into lorastudio (through ui.editor)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from lorastudio.checks.validation import check_recipe_text
from lorastudio.data import demo as demo_data
from lorastudio.errors import RecipeError
from lorastudio.launch import launcher
from lorastudio.recipe.text import list_recipes, read_recipe_upload, set_field
from ui import editor, live, recipe_form, scale_view
from ui.config import StudioConfig
from ui.fields import FieldSpec, from_widget, to_widget, value_at
from ui.labels import Labels
from ui.locale import t
from ui.messages import explain, guarded, problem_text
from ui.recipe_form import RecipeForm


@dataclass
class TrainTab:
    picker: gr.Dropdown
    upload: gr.UploadButton
    download: gr.DownloadButton
    message: gr.Markdown
    fetch_data: gr.Button  # shown when a run needs LLaMA-Factory's demo data, which is missing
    form: RecipeForm
    yaml: gr.Code
    yaml_error: gr.Markdown
    compiled: gr.Code
    command: gr.Code
    scale: scale_view.ScaleView
    live: live.LivePanel

    def checked_outputs(self) -> list:
        """What a check of the recipe text updates (the form's values excluded)."""
        return [
            *self.form.errors,
            self.yaml_error,
            self.compiled,
            self.command,
            self.download,
            self.message,
        ]


def build(config: StudioConfig, labels: Labels) -> TrainTab:
    """Lay out the Train tab inside the current Blocks context."""
    recipes = list_recipes(config.recipe_dirs)
    with gr.Row(equal_height=True):
        picker = labels.make(
            gr.Dropdown,
            {"label": "train.recipe", "info": "train.recipe_info"},
            choices=[(p.name, str(p)) for p in recipes],
            value=str(recipes[0]) if recipes else None,
            scale=3,
            elem_id="recipe-picker",
        )
        upload = labels.make(
            gr.UploadButton,
            {"label": "train.upload"},
            file_count="single",
            type="filepath",
            scale=1,
            elem_id="recipe-upload",
        )
        download = labels.make(
            gr.DownloadButton, {"label": "train.download"}, scale=1, elem_id="recipe-download"
        )
    message = gr.Markdown(elem_id="train-message")
    fetch_data = labels.make(
        gr.Button, {"value": "train.fetch_demo"}, visible=False, size="sm", elem_id="fetch-demo"
    )
    scale = scale_view.build(labels)  # folded: each node's command, a Kubernetes job
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            form = recipe_form.build(labels)
        with gr.Column(scale=4, elem_classes=["ls-sticky"]):
            panel = live.build(config, labels)
            yaml_code, yaml_error, compiled, command = _recipe_views(labels)
    return TrainTab(
        picker,
        upload,
        download,
        message,
        fetch_data,
        form,
        yaml_code,
        yaml_error,
        compiled,
        command,
        scale,
        panel,
    )


def _recipe_views(labels: Labels):
    """The recipe as YAML (editable), and what it compiles to: LLaMA-Factory's config and the
    exact command, side by side with the form and next to the Start button."""
    with gr.Tabs():
        with labels.make(gr.Tab, {"label": "train.yaml_tab"}):
            yaml_code = labels.make(
                gr.Code,
                {"label": "train.yaml"},
                language="yaml",
                interactive=True,
                lines=16,
                max_lines=16,
                elem_id="recipe-yaml",
            )
            yaml_error = gr.Markdown(elem_classes=["field-error"], elem_id="yaml-error")
        with labels.make(gr.Tab, {"label": "train.compiled_tab"}, elem_id="compiled-tab"):
            compiled = labels.make(
                gr.Code,
                {"label": "train.compiled"},
                language="yaml",
                interactive=False,
                lines=16,
                max_lines=16,
                elem_id="compiled-yaml",
            )
        with labels.make(gr.Tab, {"label": "train.command_tab"}, elem_id="command-tab"):
            command = labels.make(
                gr.Code,
                {"label": "train.command"},
                language="shell",
                interactive=False,
                lines=16,
                max_lines=16,
                elem_id="compiled-command",
            )
    return yaml_code, yaml_error, compiled, command


def _error_line(problems, lang: str) -> dict:
    text = "\n".join(f"⚠️ {problem_text(p, lang, with_field=False)}" for p in problems)
    return gr.update(value=text, visible=bool(problems))


@dataclass
class TrainActions:
    """The tab's callbacks: each calls lorastudio (through ui.editor) and returns updates."""

    tab: TrainTab
    config: StudioConfig
    scale: scale_view.ScaleActions | None = None  # the Scale-out view, once wired

    def render(self, lang: str, checked: editor.Checked, with_fields: bool) -> dict:
        """Updates for a checked recipe: problems beside their fields, the preview, the
        download; with ``with_fields``, the form's values too (when the text is a mapping)."""
        tab, fields = self.tab, self.tab.form.fields
        placed = editor.place(
            checked.problems, {f.spec.path for f in fields}, set(tab.form.section_errors)
        )
        out: dict = {}
        for item in fields:
            out[item.error] = _error_line(placed.fields.get(item.spec.path, []), lang)
            if with_fields and checked.raw is not None:
                value = value_at(checked.raw, item.spec.path, item.spec.default)
                out[item.widget] = to_widget(item.spec, value)
        for name, markdown in tab.form.section_errors.items():
            out[markdown] = _error_line(placed.sections.get(name, []), lang)
        general = [f"⚠️ {problem_text(p, lang)}" for p in placed.general + checked.warnings]
        if checked.error is not None:
            general.append(explain(checked.error, lang))
        out[tab.yaml_error] = "\n\n".join(general)
        out[tab.compiled] = checked.compiled
        out[tab.command] = checked.command or t("train.preview_blocked", lang)
        download = editor.download_path(checked.text, checked.raw, self.config.downloads_dir)
        return out | {tab.download: str(download)}

    def show(self, lang: str, text: str, note: str = "") -> dict:
        """Put recipe text in the YAML view and the form."""
        checked = editor.check(text, self.config)
        return self.render(lang, checked, True) | {self.tab.yaml: text, self.tab.message: note}

    def pick(self, lang: str, path: str | None) -> dict:
        if not path:
            return {}
        note = t("train.loaded", lang, name=Path(path).name)
        return self.show(lang, Path(path).read_text(encoding="utf-8"), note)

    def upload(self, lang: str, file: str | None) -> dict:
        """Load an uploaded recipe; a refused upload changes nothing but the message."""
        if not file:
            return {self.tab.message: t("error.no_upload", lang)}
        text = read_recipe_upload(Path(file))
        return self.show(lang, text, t("train.uploaded", lang, name=Path(file).name))

    def edit_yaml(self, lang: str, text: str) -> dict:
        """The YAML view changed: the form follows while the text is a mapping."""
        checked = editor.check(text, self.config)
        note = "" if checked.raw is not None else t("train.yaml_first", lang)
        return self.render(lang, checked, True) | {self.tab.message: note}

    def field_handler(self, spec: FieldSpec, error: gr.Markdown):
        """The callback for one form field: set it in the YAML text, keeping its comments."""

        def edit_field(lang: str, value, text: str) -> dict:
            try:
                new_value = from_widget(spec, value)
            except ValueError:
                bad = "⚠️ " + t("form.bad_mapping", lang)
                return {error: gr.update(value=bad, visible=True)}
            try:
                text = set_field(text, spec.path, new_value)
            except RecipeError:  # the YAML view holds no mapping: the form waits for it
                return {self.tab.message: t("train.yaml_first", lang)}
            checked = editor.check(text, self.config)
            return self.render(lang, checked, False) | {self.tab.yaml: text, self.tab.message: ""}

        return edit_field

    def start(self, lang: str, text: str, watch: live.Watch) -> dict:
        """Check the recipe and start a run; the live view follows it."""
        try:
            recipe = check_recipe_text(text, self.config.workspace, source="recipe")
            run_dir = launcher.launch(recipe, self.config.workspace, self.config.hardware)
        except Exception as exc:
            needs_data = isinstance(exc, RecipeError) and any(
                "demo-data" in p.fix for p in exc.problems
            )
            return {
                self.tab.message: f"{explain(exc, lang)}\n\n{t('train.not_started', lang)}",
                self.tab.fetch_data: gr.update(visible=needs_data),
            }
        watch.attach(run_dir)
        return {
            self.tab.message: t("train.started", lang, run=run_dir.name),
            self.tab.fetch_data: gr.update(visible=False),
        }

    def fetch_demo_data(self, lang: str) -> dict:
        """What `python launch.py demo-data` does: LLaMA-Factory's demo files, SHA-256 checked."""
        data_dir = self.config.workspace.data_dir
        results = demo_data.fetch_demo_data(data_dir)
        names = ", ".join(r.dataset for r in results)
        return {
            self.tab.message: t("train.demo_fetched", lang, names=names, path=data_dir),
            self.tab.fetch_data: gr.update(visible=False),
        }

    def stop(self, lang: str, watch: live.Watch) -> dict:
        """Ask the watched run to stop; it saves the adapter trained so far."""
        if watch.monitor is None:
            return {self.tab.message: t("train.no_live_run", lang)}
        launcher.stop(watch.monitor.run_dir, wait=False)
        return {self.tab.message: t("train.stopping", lang, run=watch.monitor.run_dir.name)}

    def tick(self, lang: str, watch: live.Watch) -> dict:
        return live.tick(self.tab.live, self.config, lang, watch)

    def load(self, lang: str) -> dict:
        """A freshly opened page: the picked recipe in the form and the YAML view."""
        path = self.tab.picker.value
        return self.show(lang, Path(path).read_text(encoding="utf-8")) if path else {}


def wire(tab: TrainTab, config: StudioConfig, lang: gr.State) -> TrainActions:
    """Connect the tab's events (the app calls this once every tab is built)."""
    act = TrainActions(tab, config)
    act.scale = scale_view.wire(tab.scale, config, lang, tab.yaml)
    shown = [tab.yaml, *tab.form.widgets, *tab.checked_outputs()]
    edits = {"show_progress": "hidden", "trigger_mode": "always_last"}
    tab.picker.input(guarded(tab.message, act.pick), [lang, tab.picker], shown, **edits)
    tab.upload.upload(guarded(tab.message, act.upload), [lang, tab.upload], shown, **edits)
    tab.yaml.input(guarded(tab.message, act.edit_yaml), [lang, tab.yaml], shown, **edits)
    for item in tab.form.fields:
        handler = guarded(tab.message, act.field_handler(item.spec, item.error))
        item.widget.input(handler, [lang, item.widget, tab.yaml], shown, **edits)
    panel = tab.live
    panel.start.click(
        guarded(tab.message, act.start),
        [lang, tab.yaml, panel.watch],
        [tab.message, tab.fetch_data],
        concurrency_limit=1,
    )
    tab.fetch_data.click(
        guarded(tab.message, act.fetch_demo_data), [lang], [tab.message, tab.fetch_data]
    )
    panel.stop.click(guarded(tab.message, act.stop), [lang, panel.watch], [tab.message])
    panel.timer.tick(
        guarded(panel.notice, act.tick),  # its own line: a refresh never covers the message
        [lang, panel.watch],
        [*live.outputs(panel), panel.notice],
        show_progress="hidden",
        concurrency_limit=None,
    )
    return act
