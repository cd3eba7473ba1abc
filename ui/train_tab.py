"""The Train tab: pick or upload a recipe, edit it as a form or as YAML (each follows the other),
see the compiled LLaMA-Factory config and the exact command, download the recipe or save it in
the studio's recipes folder, start a run and watch it live. The picker names what the editor
holds (a file, a run's recipe, an upload; ui.recipe_source). Every callback is a thin call into
lorastudio (through ui.editor)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from lorastudio.checks.validation import check_recipe_text
from lorastudio.data import demo as demo_data
from lorastudio.errors import RecipeError, listed
from lorastudio.launch import launcher
from lorastudio.llamafactory.speed import as_comment
from lorastudio.recipe.text import list_recipes, read_recipe_upload, set_field
from lorastudio.runs import queue as run_queue
from lorastudio.runs.layout import RECIPE_FILE
from lorastudio.runs.monitor import run_to_watch
from ui import editor, live, model_picker, recipe_form, recipe_source, scale_view
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
    save_name: gr.Textbox
    save: gr.Button
    message: gr.Markdown
    fetch_data: gr.Button  # shown when a run needs LLaMA-Factory's demo data, which is missing
    form: RecipeForm
    yaml: gr.Code
    yaml_error: gr.Markdown
    compiled: gr.Code
    command: gr.Code
    scale: scale_view.ScaleView
    models: model_picker.ModelPicker
    live: live.LivePanel

    def shown_outputs(self) -> list:
        """What putting a recipe in the editor updates (the picker names where it came from)."""
        return [self.picker, self.yaml, *self.form.widgets, *self.checked_outputs()]

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
    with gr.Row(equal_height=True):
        save_name = labels.make(
            gr.Textbox,
            {"label": "train.save_as", "placeholder": "train.save_placeholder"},
            max_lines=1,
            scale=3,
            elem_id="recipe-save-name",
        )
        save = labels.make(gr.Button, {"value": "train.save"}, scale=1, elem_id="recipe-save")
    message = gr.Markdown(elem_id="train-message")
    fetch_data = labels.make(
        gr.Button, {"value": "train.fetch_demo"}, visible=False, size="sm", elem_id="fetch-demo"
    )
    scale = scale_view.build(labels)  # folded: each node's command, a Kubernetes job
    models = model_picker.build(labels)  # open: family → size → variant → hub, or the caches
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, elem_classes=["ls-form"]):
            form = recipe_form.build(labels)
        with gr.Column(scale=4, elem_classes=["ls-sticky"]):
            panel = live.build(config, labels)
            yaml_code, yaml_error, compiled, command = _recipe_views(labels)
    return TrainTab(
        picker,
        upload,
        download,
        save_name,
        save,
        message,
        fetch_data,
        form,
        yaml_code,
        yaml_error,
        compiled,
        command,
        scale,
        models,
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


def needs_demo_data(error: Exception) -> bool:
    """Whether a refused start would go once LLaMA-Factory's demo data is fetched: a problem
    whose fix is the demo-data one (decided by its key, never by its words)."""
    return isinstance(error, RecipeError) and any(
        p.fix.key == "fix.demo_data" for p in error.problems
    )


def _error_line(problems, lang: str) -> dict:
    shown, more = listed(problems)
    lines = [f"⚠️ {problem_text(p, lang, with_field=False)}" for p in shown]
    text = "\n".join(lines + ([more.text(lang)] if more else []))
    return gr.update(value=text, visible=bool(problems))


@dataclass
class TrainActions:
    """The tab's callbacks: each calls lorastudio (through ui.editor) and returns updates."""

    tab: TrainTab
    config: StudioConfig
    scale: scale_view.ScaleActions | None = None  # the Scale-out view, once wired
    models: model_picker.PickerActions | None = None  # the model picker, once wired

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
        shown, more = listed(placed.general + checked.warnings)
        general = [f"⚠️ {problem_text(p, lang)}" for p in shown]
        general += [more.text(lang)] if more else []
        if checked.error is not None:
            general.append(explain(checked.error, lang))
        out[tab.yaml_error] = "\n\n".join(general)
        plan = as_comment(checked.plan, lang) if checked.plan else ""
        out[tab.compiled] = plan + checked.compiled if checked.compiled else ""
        out[tab.command] = checked.command or t("train.preview_blocked", lang)
        download = editor.download_path(checked.text, checked.raw, self.config.downloads_dir)
        return out | {tab.download: str(download)}

    def show(
        self, lang: str, text: str, note: str = "", source: recipe_source.Source | None = None
    ) -> dict:
        """Put recipe text in the YAML view and the form; the picker names ``source``."""
        checked = editor.check(text, self.config)
        out = self.render(lang, checked, True) | {self.tab.yaml: text, self.tab.message: note}
        if source is not None:
            choices = recipe_source.choices(self.config, source)
            out[self.tab.picker] = gr.update(choices=choices, value=source.value)
        return out

    def pick(self, lang: str, value: str | None) -> dict:
        if not value:
            return {}
        text, source = recipe_source.read(self.config, value)
        return self.show(lang, text, t("train.loaded", lang, name=source.label), source)

    def show_run(self, lang: str, run_id: str, note: str = "") -> dict:
        """A run's exact recipe in the editor (Edit a copy, Run again, a reopened page)."""
        text = recipe_source.run_recipe(self.config, run_id)
        return self.show(lang, text, note, recipe_source.run_source(run_id))

    def upload(self, lang: str, file: str | None) -> dict:
        """Load an uploaded recipe; a refused upload changes nothing but the message."""
        if not file:
            return {self.tab.message: t("error.no_upload", lang)}
        text = read_recipe_upload(Path(file))
        source = recipe_source.upload_source(file, Path(file).name)
        return self.show(lang, text, t("train.uploaded", lang, name=Path(file).name), source)

    def save(self, lang: str, text: str, file_name: str | None) -> dict:
        """Save the editor's text as a new recipe in the studio's recipes folder."""
        path = recipe_source.save(self.config, text, file_name or "")
        source = recipe_source.Source(path.name, str(path))
        return {
            self.tab.picker: gr.update(
                choices=recipe_source.choices(self.config, source), value=str(path)
            ),
            self.tab.save_name: "",
            self.tab.message: t("train.saved", lang, path=path),
        }

    def edit_yaml(self, lang: str, text: str) -> dict:
        """The YAML view changed: the form follows while the text is a mapping."""
        checked = editor.check(text, self.config)
        note = "" if checked.raw is not None else t("train.yaml_first", lang)
        return self.render(lang, checked, True) | {self.tab.message: note}

    def set_fields(self, lang: str, text: str, values: dict) -> tuple[str, dict]:
        """Set recipe fields ({path: value}) in the YAML text as form edits do, each on its own
        line with its comments kept; the form, the problems and the preview follow. Returns the
        new text and the updates (only a message while the YAML view holds no mapping)."""
        try:
            for path, value in values.items():
                text = set_field(text, path, value)
        except RecipeError:
            return text, {self.tab.message: t("train.yaml_first", lang)}
        checked = editor.check(text, self.config)
        return text, self.render(lang, checked, True) | {self.tab.yaml: text, self.tab.message: ""}

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
        """Check the recipe and start a run, which the live view follows; on busy devices the
        run is queued, and the message says where it stands."""
        try:
            recipe = check_recipe_text(text, self.config.workspace, source="recipe")
            run_dir = launcher.launch(recipe, self.config.workspace, self.config.hardware)
        except Exception as exc:
            return {
                self.tab.message: f"{explain(exc, lang)}\n\n{t('train.not_started', lang)}",
                self.tab.fetch_data: gr.update(visible=needs_demo_data(exc)),
            }
        place = run_queue.queued_note(run_dir)
        if place is not None:  # the live view shows the run ahead until this one starts
            note = t("train.queued", lang, run=run_dir.name, place=place.text(lang))
        else:
            watch.attach(run_dir)
            note = t("train.started", lang, run=run_dir.name)
        return {self.tab.message: note, self.tab.fetch_data: gr.update(visible=False)}

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
        """Ask the watched run to stop; it saves the adapter trained so far. The live view's
        header says so while it stops (a line that follows the run's state, not the click)."""
        if watch.monitor is None:
            return {self.tab.message: t("train.no_live_run", lang)}
        launcher.stop(watch.monitor.run_dir, wait=False)
        return {self.tab.message: "", self.tab.live.stop: gr.update(interactive=False)}

    async def follow(self, lang: str, watch: live.Watch) -> AsyncIterator[dict]:
        """The page's live view (one long event per page; see live.follow)."""
        async for out in live.follow(self.tab.live, self.config, lang, watch):
            yield out

    def load(self, lang: str) -> dict:
        """A freshly opened page: the recipe of the run the live view shows (the live run, else
        the last one), or the first recipe file when there is no run yet."""
        run_dir = run_to_watch(self.config.workspace.adapters_dir)
        if run_dir is not None and (run_dir / RECIPE_FILE).is_file():
            return self.show_run(lang, run_dir.name)
        files = recipe_source.file_sources(self.config)  # listed again: saved ones show too
        if not files:
            return {}
        return self.pick(lang, files[0].value) | {self.tab.message: ""}


def wire(tab: TrainTab, config: StudioConfig, lang: gr.State) -> TrainActions:
    """Connect the tab's events (the app calls this once every tab is built)."""
    act = TrainActions(tab, config)
    act.scale = scale_view.wire(tab.scale, config, lang, tab.yaml)
    shown = tab.shown_outputs()
    act.models = model_picker.wire(
        tab.models, config, lang, tab.yaml, act.set_fields, shown, tab.message
    )
    edits = {"show_progress": "hidden", "trigger_mode": "always_last"}
    tab.picker.input(guarded(tab.message, act.pick), [lang, tab.picker], shown, **edits)
    tab.upload.upload(guarded(tab.message, act.upload), [lang, tab.upload], shown, **edits)
    tab.yaml.input(guarded(tab.message, act.edit_yaml), [lang, tab.yaml], shown, **edits)
    saved = [tab.picker, tab.save_name, tab.message]
    for event in (tab.save.click, tab.save_name.submit):
        event(guarded(tab.message, act.save), [lang, tab.yaml, tab.save_name], saved)
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
    panel.stop.click(guarded(tab.message, act.stop), [lang, panel.watch], [tab.message, panel.stop])
    panel.timer.tick(  # starts the page's follow loop, and starts it again if it ever ends
        act.follow,  # a failed refresh shows on its own line, never over the message
        [lang, panel.watch],
        [*live.outputs(panel), panel.notice],
        show_progress="hidden",
        concurrency_limit=None,  # every open page has one
        trigger_mode="once",  # while it runs, the timer's ticks do nothing
    )
    return act
