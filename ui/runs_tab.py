"""The Runs tab: every run, live or finished; open one to see its recipe, curve and log; resume
a stopped or failed one; delete one after a confirmation (never a live one); overlay two runs'
curves and see their recipes' differences. Callbacks are thin calls into lorastudio."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from lorastudio import launcher
from lorastudio.metrics import TrainerLogReader, tail_text
from lorastudio.recipe import diff_recipes, parse_recipe_text
from lorastudio.runs import (
    LIVE_STATES,
    LOG_FILE,
    RECIPE_FILE,
    TRAINER_LOG,
    RunIndex,
    check_deletable,
    delete_run,
    read_status,
)
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
    reason: gr.Markdown
    resume: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    message: gr.Markdown
    recipe: gr.Code
    curve: gr.LinePlot
    log: gr.Textbox
    run_a: gr.Dropdown
    run_b: gr.Dropdown
    overlay: gr.LinePlot
    diff: gr.Dataframe
    timer: gr.Timer


def build(config: StudioConfig, labels: Labels) -> RunsTab:
    """Lay out the Runs tab inside the current Blocks context."""
    with gr.Row(equal_height=True):
        labels.make(gr.Markdown, {"value": lambda lang: f"### {t('runs.list', lang)}"})
        refresh = labels.make(gr.Button, {"value": "runs.refresh"}, scale=0, elem_id="runs-refresh")
    table = gr.Dataframe(
        value=runs_view.table([], labels.lang), interactive=False, wrap=True, elem_id="runs-table"
    )
    with gr.Row(equal_height=True):
        pick = labels.make(
            gr.Dropdown, {"label": "runs.open"}, choices=[], scale=3, elem_id="runs-pick"
        )
        resume = labels.make(
            gr.Button, {"value": "runs.resume"}, interactive=False, scale=1, elem_id="runs-resume"
        )
        delete = labels.make(
            gr.Button,
            {"value": "runs.delete"},
            variant="stop",
            interactive=False,
            scale=1,
            elem_id="runs-delete",
        )
    with gr.Row(visible=False, elem_id="runs-confirm") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = labels.make(
            gr.Button,
            {"value": "runs.confirm"},
            variant="stop",
            scale=0,
            elem_id="runs-confirm-yes",
        )
        cancel = labels.make(gr.Button, {"value": "runs.cancel"}, scale=0)
    message = gr.Markdown(elem_id="runs-message")
    reason = gr.Markdown(elem_id="runs-reason")
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
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('runs.compare', lang)}"})
    with gr.Row(equal_height=True):
        run_a = labels.make(gr.Dropdown, {"label": "runs.run_a"}, choices=[], elem_id="runs-a")
        run_b = labels.make(gr.Dropdown, {"label": "runs.run_b"}, choices=[], elem_id="runs-b")
    overlay = plots.line_plot(labels, "runs.overlay", "runs-overlay")
    diff = labels.make(
        gr.Dataframe, {"label": "runs.diff"}, interactive=False, wrap=True, elem_id="runs-diff"
    )
    return RunsTab(
        table,
        refresh,
        pick,
        reason,
        resume,
        delete,
        confirm_row,
        confirm_text,
        confirm,
        cancel,
        message,
        recipe,
        curve,
        log,
        run_a,
        run_b,
        overlay,
        diff,
        gr.Timer(5.0),
    )


def listing(tab: RunsTab, config: StudioConfig, lang: str) -> dict:
    """The run list and the run pickers, fresh from the run index."""
    infos = RunIndex(config.workspace.adapters_dir).sync()
    ids = [info.id for info in infos]
    return {
        tab.table: runs_view.table(infos, lang),
        tab.pick: gr.update(choices=ids),
        tab.run_a: gr.update(choices=ids),
        tab.run_b: gr.update(choices=ids),
    }


def _run_dir(config: StudioConfig, run_id: str):
    return RunIndex(config.workspace.adapters_dir).find(run_id)


def detail(tab: RunsTab, config: StudioConfig, lang: str, run_id: str | None) -> dict:
    """One run opened: its recipe, curve, log and why it ended; what may be done with it."""
    if not run_id:
        return {}
    run_dir = _run_dir(config, run_id)
    status = read_status(run_dir)
    reader = TrainerLogReader(run_dir / TRAINER_LOG)
    reader.poll()
    state = status.get("state", "unknown")
    reason = reason_text(status, lang)
    return {
        tab.recipe: (run_dir / RECIPE_FILE).read_text(encoding="utf-8"),
        tab.curve: plots.update(plots.run_rows(reader.points, lang)),
        tab.log: tail_text(run_dir / LOG_FILE),
        tab.reason: t("runs.reason", lang, reason=reason) if reason else "",
        tab.resume: gr.update(interactive=state in ("stopped", "failed")),
        tab.delete: gr.update(interactive=state not in LIVE_STATES),
        tab.confirm_row: gr.update(visible=False),
    }


def compare(tab: RunsTab, config: StudioConfig, lang: str, a: str | None, b: str | None) -> dict:
    """Two runs' curves on one plot and the fields where their recipes differ."""
    if not a or not b:
        return {}
    rows, recipes = [], []
    for run_id in (a, b):
        run_dir = _run_dir(config, run_id)
        reader = TrainerLogReader(run_dir / TRAINER_LOG)
        reader.poll()
        rows += plots.run_rows(reader.points, lang, prefix=f"{run_id} · ")
        recipes.append(parse_recipe_text((run_dir / RECIPE_FILE).read_text(encoding="utf-8")))
    return {
        tab.overlay: plots.update(rows),
        tab.diff: runs_view.diff_table(diff_recipes(*recipes), a, b, lang),
    }


def wire(tab: RunsTab, config: StudioConfig, lang: gr.State, panel: live.LivePanel) -> None:
    """Connect the tab's events; a resumed run is handed to the Train tab's live view."""
    outputs_list = [tab.table, tab.pick, tab.run_a, tab.run_b, tab.message]
    outputs_detail = [
        tab.recipe,
        tab.curve,
        tab.log,
        tab.reason,
        tab.resume,
        tab.delete,
        tab.confirm_row,
        tab.message,
    ]

    def guard(fn):
        return guarded(tab.message, fn)

    def on_list(lang_: str) -> dict:
        return listing(tab, config, lang_)

    def on_pick(lang_: str, run_id: str | None) -> dict:
        return detail(tab, config, lang_, run_id) | {tab.message: ""}

    def on_select(lang_: str, evt: gr.SelectData) -> dict:
        run_id = evt.row_value[0] if evt.row_value else None
        return on_pick(lang_, run_id) | {tab.pick: run_id}

    def on_resume(lang_: str, run_id: str | None, watch: live.Watch) -> dict:
        if not run_id:
            return {tab.message: t("runs.pick_first", lang_)}
        run_dir = _run_dir(config, run_id)
        launcher.resume(run_dir)
        watch.attach(run_dir)
        out = detail(tab, config, lang_, run_id) | listing(tab, config, lang_)
        return out | {tab.message: t("runs.resumed", lang_, run=run_id)}

    def on_delete(lang_: str, run_id: str | None) -> dict:
        if not run_id:
            return {tab.message: t("runs.pick_first", lang_)}
        check_deletable(_run_dir(config, run_id))
        return {
            tab.confirm_row: gr.update(visible=True),
            tab.confirm_text: t("runs.confirm_delete", lang_, run=run_id),
        }

    def on_confirm(lang_: str, run_id: str | None) -> dict:
        delete_run(_run_dir(config, run_id or ""))
        out = listing(tab, config, lang_) | {tab.message: t("runs.deleted", lang_, run=run_id)}
        return out | {
            tab.pick: None,
            tab.confirm_row: gr.update(visible=False),
            tab.recipe: "",
            tab.log: "",
            tab.reason: "",
            tab.curve: plots.update([]),
            tab.resume: gr.update(interactive=False),
            tab.delete: gr.update(interactive=False),
        }

    def on_compare(lang_: str, a: str | None, b: str | None) -> dict:
        return compare(tab, config, lang_, a, b)

    hidden = {"show_progress": "hidden"}
    tab.refresh.click(guard(on_list), [lang], outputs_list)
    tab.timer.tick(guard(on_list), [lang], outputs_list, **hidden)
    tab.pick.input(guard(on_pick), [lang, tab.pick], outputs_detail)
    tab.table.select(guard(on_select), [lang], [*outputs_detail, tab.pick])
    tab.resume.click(
        guard(on_resume), [lang, tab.pick, panel.watch], [*outputs_detail, *outputs_list]
    )
    tab.delete.click(
        guard(on_delete), [lang, tab.pick], [tab.confirm_row, tab.confirm_text, tab.message]
    )
    tab.cancel.click(lambda: gr.update(visible=False), None, [tab.confirm_row])
    tab.confirm.click(
        guard(on_confirm), [lang, tab.pick], [*outputs_detail, *outputs_list, tab.confirm_row]
    )
    for picker in (tab.run_a, tab.run_b):
        picker.input(
            guard(on_compare), [lang, tab.run_a, tab.run_b], [tab.overlay, tab.diff, tab.message]
        )
