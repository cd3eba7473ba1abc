"""The Train tab: pick or upload a recipe, edit it as a form or as YAML (each follows the other),
see the compiled LLaMA-Factory config and the exact command, download the recipe, start a run
and watch it live. Every callback is a thin call into lorastudio (through ui.editor)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from lorastudio import launcher
from lorastudio.recipe_text import list_recipes, read_recipe_upload, set_field
from lorastudio.validation import check_recipe_text
from ui import editor, live, recipe_form
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
    form: RecipeForm
    yaml: gr.Code
    yaml_error: gr.Markdown
    compiled: gr.Code
    command: gr.Code
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
        form,
        yaml_code,
        yaml_error,
        compiled,
        command,
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


def render(
    tab: TrainTab, checked: editor.Checked, config: StudioConfig, lang: str, with_fields: bool
) -> dict:
    """Component updates for a checked recipe: problems beside their fields, the preview,
    the download; with ``with_fields``, the form's values too (when the text is a mapping)."""
    fields = tab.form.fields
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
    general = [f"⚠️ {problem_text(p, lang)}" for p in placed.general]
    if checked.error is not None:
        general.append(explain(checked.error, lang))
    out[tab.yaml_error] = "\n\n".join(general)
    out[tab.compiled] = checked.compiled
    out[tab.command] = checked.command or t("train.preview_blocked", lang)
    out[tab.download] = str(editor.download_path(checked.text, checked.raw, config.downloads_dir))
    return out


def wire(tab: TrainTab, config: StudioConfig, lang: gr.State) -> None:
    """Connect the tab's events (the app calls this once every tab is built)."""
    everything = [tab.yaml, *tab.form.widgets, *tab.checked_outputs()]

    def load_text(lang_: str, text: str, note: str) -> dict:
        out = render(tab, editor.check(text, config), config, lang_, with_fields=True)
        return out | {tab.yaml: text, tab.message: note}

    def on_pick(lang_: str, path: str) -> dict:
        if not path:
            return {}
        return load_text(
            lang_,
            Path(path).read_text(encoding="utf-8"),
            t("train.loaded", lang_, name=Path(path).name),
        )

    def on_upload(lang_: str, file: str | None) -> dict:
        if not file:
            return {tab.message: t("error.no_upload", lang_)}
        text = read_recipe_upload(Path(file))  # refused uploads change nothing
        return load_text(lang_, text, t("train.uploaded", lang_, name=Path(file).name))

    def on_yaml(lang_: str, text: str) -> dict:
        checked = editor.check(text, config)
        note = "" if checked.raw is not None else t("train.yaml_first", lang_)
        return render(tab, checked, config, lang_, with_fields=True) | {tab.message: note}

    common = {"show_progress": "hidden", "trigger_mode": "always_last"}
    tab.picker.input(guarded(tab.message, on_pick), [lang, tab.picker], everything, **common)
    tab.upload.upload(guarded(tab.message, on_upload), [lang, tab.upload], everything, **common)
    tab.yaml.input(guarded(tab.message, on_yaml), [lang, tab.yaml], everything, **common)
    for item in tab.form.fields:
        handler = guarded(tab.message, _field_handler(tab, config, item.spec, item.error))
        item.widget.input(handler, [lang, item.widget, tab.yaml], everything, **common)
    _wire_run_controls(tab, config, lang)


def _field_handler(tab: TrainTab, config: StudioConfig, spec: FieldSpec, error: gr.Markdown):
    def on_field(lang: str, value, text: str) -> dict:
        try:
            new_value = from_widget(spec, value)
        except ValueError:
            return {error: gr.update(value="⚠️ " + t("form.bad_mapping", lang), visible=True)}
        try:
            text = set_field(text, spec.path, new_value)
        except Exception:  # the YAML view holds no mapping: the form waits for it
            return {tab.message: t("train.yaml_first", lang)}
        checked = editor.check(text, config)
        return render(tab, checked, config, lang, with_fields=False) | {
            tab.yaml: text,
            tab.message: "",
        }

    return on_field


def _wire_run_controls(tab: TrainTab, config: StudioConfig, lang: gr.State) -> None:
    panel = tab.live

    def on_start(lang_: str, text: str, watch: live.Watch):
        try:
            recipe = check_recipe_text(text, config.workspace, source="recipe")
            run_dir = launcher.launch(recipe, config.workspace, config.hardware)
        except Exception as exc:
            return {tab.message: f"{explain(exc, lang_)}\n\n{t('train.not_started', lang_)}"}
        watch.attach(run_dir)
        return {tab.message: t("train.started", lang_, run=run_dir.name)}

    def on_stop(lang_: str, watch: live.Watch):
        if watch.monitor is None:
            return {tab.message: t("train.no_live_run", lang_)}
        try:
            launcher.stop(watch.monitor.run_dir, wait=False)
        except Exception as exc:
            return {tab.message: explain(exc, lang_)}
        return {tab.message: t("train.stopping", lang_, run=watch.monitor.run_dir.name)}

    def on_tick(lang_: str, watch: live.Watch) -> dict:
        return live.tick(panel, config, lang_, watch)

    panel.start.click(on_start, [lang, tab.yaml, panel.watch], [tab.message], concurrency_limit=1)
    panel.stop.click(on_stop, [lang, panel.watch], [tab.message])
    panel.timer.tick(
        guarded(tab.message, on_tick),
        [lang, panel.watch],
        [*live.outputs(panel), tab.message],
        show_progress="hidden",
        concurrency_limit=None,
    )


def load(tab: TrainTab, config: StudioConfig, lang: str) -> dict:
    """What a freshly opened page shows: the picked recipe in the form."""
    path = tab.picker.value
    if not path:
        return {}
    text = Path(path).read_text(encoding="utf-8")
    out = render(tab, editor.check(text, config), config, lang, with_fields=True)
    return out | {tab.yaml: text}
