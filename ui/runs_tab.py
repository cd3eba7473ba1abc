"""The Runs tab: every run, live or finished; open one to see its recipe, curve and log; resume
a stopped or failed one; delete one after a confirmation (never a live one); overlay two runs'
curves and see their recipes' differences. Callbacks are thin calls into lorastudio."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from lorastudio.launch import launcher
from lorastudio.recipe.schema import diff_recipes, parse_recipe_text
from lorastudio.runs.datasets import shown as run_data_line
from lorastudio.runs.index import (
    LIVE_STATES,
    LOG_FILE,
    RECIPE_FILE,
    TRAINER_LOG,
    RunIndex,
    check_deletable,
    delete_run,
    reconcile,
)
from lorastudio.runs.metrics import TrainerLogReader, tail_text
from ui import live, plots, runs_view
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import guarded, reason_text


@dataclass
class RunsTab:
    table: gr.Dataframe
    refresh: gr.Button
    pick: gr.Dropdown
    resume: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    message: gr.Markdown
    reason: gr.Markdown
    data: gr.Markdown  # the datasets the opened run trained on (name@hash)
    recipe: gr.Code
    curve: gr.LinePlot
    log: gr.Textbox
    run_a: gr.Dropdown
    run_b: gr.Dropdown
    overlay: gr.LinePlot
    diff: gr.Dataframe
    timer: gr.Timer

    def list_outputs(self) -> list:
        return [self.table, self.pick, self.run_a, self.run_b, self.resume, self.delete]

    def detail_outputs(self) -> list:
        return [self.recipe, self.curve, self.log, self.reason, self.data, self.confirm_row]


def _button(labels: Labels, key: str, elem_id: str, **kwargs) -> gr.Button:
    return labels.make(gr.Button, {"value": key}, elem_id=elem_id, **kwargs)


def _list_section(labels: Labels) -> tuple:
    """The run list, the picker that opens a run, its actions and the delete confirmation."""
    with gr.Row(equal_height=True):
        labels.make(gr.Markdown, {"value": lambda lang: f"### {t('runs.list', lang)}"})
        refresh = _button(labels, "runs.refresh", "runs-refresh", scale=0)
    table = gr.Dataframe(
        runs_view.table([], labels.lang), interactive=False, wrap=True, elem_id="runs-table"
    )
    with gr.Row(equal_height=True):
        pick = labels.make(
            gr.Dropdown, {"label": "runs.open"}, choices=[], scale=3, elem_id="runs-pick"
        )
        resume = _button(labels, "runs.resume", "runs-resume", interactive=False)
        delete = _button(labels, "runs.delete", "runs-delete", variant="stop", interactive=False)
    with gr.Row(visible=False, elem_id="runs-confirm") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = _button(labels, "runs.confirm", "runs-confirm-yes", variant="stop", scale=0)
        cancel = _button(labels, "runs.cancel", "runs-confirm-no", scale=0)
    return table, refresh, pick, resume, delete, confirm_row, confirm_text, confirm, cancel


def _detail_section(labels: Labels) -> tuple:
    """The opened run: its recipe beside its curve and log."""
    with gr.Row(equal_height=False):
        recipe = labels.make(
            gr.Code,
            {"label": "runs.recipe"},
            language="yaml",
            interactive=False,
            elem_id="runs-recipe",
        )
        with gr.Column():
            curve = plots.line_plot(labels, "runs.curve", "runs-curve")
            log = labels.make(
                gr.Textbox,
                {"label": "runs.log"},
                lines=10,
                max_lines=10,
                interactive=False,
                autoscroll=True,
                elem_id="runs-log",
            )
    return recipe, curve, log


def _compare_section(labels: Labels) -> tuple:
    """Two runs picked to overlay their curves and diff their recipes."""
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('runs.compare', lang)}"})
    with gr.Row(equal_height=True):
        run_a = labels.make(gr.Dropdown, {"label": "runs.run_a"}, choices=[], elem_id="runs-a")
        run_b = labels.make(gr.Dropdown, {"label": "runs.run_b"}, choices=[], elem_id="runs-b")
    overlay = plots.line_plot(labels, "runs.overlay", "runs-overlay")
    texts = {"label": "runs.diff", "value": runs_view.empty_diff}  # until two runs are picked
    diff = labels.make(gr.Dataframe, texts, interactive=False, wrap=True, elem_id="runs-diff")
    return run_a, run_b, overlay, diff


def build(config: StudioConfig, labels: Labels) -> RunsTab:
    """Lay out the Runs tab inside the current Blocks context."""
    listed = _list_section(labels)
    message = gr.Markdown(elem_id="runs-message")
    reason = gr.Markdown(elem_id="runs-reason")
    data = gr.Markdown(elem_id="runs-data")
    opened = _detail_section(labels)
    compared = _compare_section(labels)
    return RunsTab(*listed, message, reason, data, *opened, *compared, gr.Timer(5.0))


@dataclass
class RunsActions:
    """The tab's callbacks; each reads or changes runs through lorastudio and returns updates."""

    tab: RunsTab
    config: StudioConfig

    def _run_dir(self, run_id: str) -> Path:
        return RunIndex(self.config.workspace.adapters_dir).find(run_id)

    def listing(self, lang: str, run_id: str | None = None) -> dict:
        """The run list, the run pickers, and what may be done with the opened run."""
        infos = RunIndex(self.config.workspace.adapters_dir).sync()
        ids = [info.id for info in infos]
        tab = self.tab
        out = {tab.table: runs_view.table(infos, lang)}
        out |= {picker: gr.update(choices=ids) for picker in (tab.pick, tab.run_a, tab.run_b)}
        state = next((i.state for i in infos if i.id == run_id), None)
        out[tab.resume] = gr.update(interactive=state in ("stopped", "failed"))
        out[tab.delete] = gr.update(interactive=state is not None and state not in LIVE_STATES)
        return out

    def detail(self, lang: str, run_id: str | None) -> dict:
        """One run opened: its recipe, curve, log and why it ended."""
        if not run_id:
            return {}
        run_dir = self._run_dir(run_id)
        reader = TrainerLogReader(run_dir / TRAINER_LOG)
        reader.poll()
        reason = reason_text(reconcile(run_dir), lang)
        used = run_data_line(run_dir)
        return {
            self.tab.recipe: (run_dir / RECIPE_FILE).read_text(encoding="utf-8"),
            self.tab.curve: plots.update(plots.run_rows(reader.points, lang)),
            self.tab.log: tail_text(run_dir / LOG_FILE),
            self.tab.reason: t("runs.reason", lang, reason=reason) if reason else "",
            self.tab.data: t("runs.data", lang, data=used) if used else "",
            self.tab.confirm_row: gr.update(visible=False),
        }

    def open(self, lang: str, run_id: str | None) -> dict:
        return self.listing(lang, run_id) | self.detail(lang, run_id) | {self.tab.message: ""}

    def select(self, lang: str, evt: gr.SelectData) -> dict:
        """A click in the run list opens that row's run."""
        run_id = evt.row_value[0] if evt.row_value else None
        return self.open(lang, run_id) | {self.tab.pick: run_id}

    def resume(self, lang: str, run_id: str | None, watch: live.Watch) -> dict:
        """Resume from the last checkpoint; the Train tab's live view follows it."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        run_dir = self._run_dir(run_id)
        launcher.resume(run_dir)
        watch.attach(run_dir)
        return self.open(lang, run_id) | {self.tab.message: t("runs.resumed", lang, run=run_id)}

    def ask_delete(self, lang: str, run_id: str | None) -> dict:
        """Ask before deleting; a live run is refused before anything is asked."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        check_deletable(self._run_dir(run_id))
        text = t("runs.confirm_delete", lang, run=run_id)
        return {self.tab.confirm_row: gr.update(visible=True), self.tab.confirm_text: text}

    def delete(self, lang: str, run_id: str | None) -> dict:
        delete_run(self._run_dir(run_id or ""))
        tab = self.tab
        cleared = {tab.pick: None, tab.recipe: "", tab.log: "", tab.reason: "", tab.data: ""}
        cleared |= {tab.curve: plots.update([]), tab.confirm_row: gr.update(visible=False)}
        done = {tab.message: t("runs.deleted", lang, run=run_id)}
        return self.listing(lang) | cleared | done

    def compare(self, lang: str, a: str | None, b: str | None) -> dict:
        """Two runs' curves on one plot and the fields where their recipes differ."""
        if not a or not b:
            return {}
        rows, recipes = [], []
        for run_id in (a, b):
            run_dir = self._run_dir(run_id)
            reader = TrainerLogReader(run_dir / TRAINER_LOG)
            reader.poll()
            rows += plots.run_rows(reader.points, lang, prefix=f"{run_id} · ")
            recipes.append(parse_recipe_text((run_dir / RECIPE_FILE).read_text(encoding="utf-8")))
        diffs = runs_view.diff_table(diff_recipes(*recipes), a, b, lang)
        return {self.tab.overlay: plots.update(rows), self.tab.diff: diffs}


def wire(tab: RunsTab, config: StudioConfig, lang: gr.State, panel: live.LivePanel) -> RunsActions:
    """Connect the tab's events; a resumed run is handed to the Train tab's live view."""
    act = RunsActions(tab, config)
    shown = [*tab.list_outputs(), *tab.detail_outputs(), tab.message]
    quiet = {"show_progress": "hidden"}
    tab.refresh.click(guarded(tab.message, act.listing), [lang, tab.pick], shown)
    tab.timer.tick(guarded(tab.message, act.listing), [lang, tab.pick], shown, **quiet)
    tab.pick.input(guarded(tab.message, act.open), [lang, tab.pick], shown)
    tab.table.select(guarded(tab.message, act.select), [lang], shown)
    tab.resume.click(guarded(tab.message, act.resume), [lang, tab.pick, panel.watch], shown)
    tab.delete.click(
        guarded(tab.message, act.ask_delete),
        [lang, tab.pick],
        [tab.confirm_row, tab.confirm_text, tab.message],
    )
    tab.cancel.click(lambda: gr.update(visible=False), None, [tab.confirm_row])
    tab.confirm.click(guarded(tab.message, act.delete), [lang, tab.pick], shown)
    for picker in (tab.run_a, tab.run_b):
        picker.input(
            guarded(tab.message, act.compare),
            [lang, tab.run_a, tab.run_b],
            [tab.overlay, tab.diff, tab.message],
        )
    return act
