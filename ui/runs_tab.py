"""The Runs tab: every run, live, queued or finished, and the queue in its order; open one to see
its recipe, curve and log; cancel a queued run or move it up; resume a stopped or failed one
from its checkpoint; run any one again (its exact recipe, started at
once) or edit a copy of its recipe in the Train tab; delete one after a confirmation (never a
live one); overlay two runs' curves and see their recipes' differences. An opened run shows its
export too (state, step, where the merge is or why it ended), kept fresh with the list.
Callbacks are thin calls into lorastudio."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import yaml

from lorastudio.checks.validation import check_recipe_text
from lorastudio.launch import launcher
from lorastudio.recipe.schema import diff_recipes, parse_recipe_text
from lorastudio.runs import queue as run_queue
from lorastudio.runs.datasets import shown as run_data_line
from lorastudio.runs.export_status import reconcile_export
from lorastudio.runs.index import RunIndex, check_deletable, delete_run
from lorastudio.runs.layout import LOG_FILE, RECIPE_FILE, TRAINER_LOG, checkpoints
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.metrics import TrainerLogReader, summarize_trainer_log, tail_text
from lorastudio.runs.status import RunState, read_status
from ui import export_view, live, plots, recipe_source, runs_view, train_tab
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import guarded, reason_text


@dataclass
class RunsTab:
    queue: gr.Markdown  # the queued runs, first in line first (hidden when none waits)
    table: gr.Dataframe
    refresh: gr.Button
    pick: gr.Dropdown
    dequeue: gr.Button  # cancel the opened run, when it is queued
    move_up: gr.Button
    resume: gr.Button
    again: gr.Button
    clone: gr.Button
    delete: gr.Button
    confirm_row: gr.Row
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    message: gr.Markdown
    reason: gr.Markdown
    data: gr.Markdown  # the datasets the opened run trained on (name@hash)
    export: gr.Markdown  # the opened run's export: its state, or how it ended
    recipe: gr.Code
    curve: gr.LinePlot
    log: gr.Textbox
    run_a: gr.Dropdown
    run_b: gr.Dropdown
    overlay: gr.LinePlot
    diff: gr.Dataframe
    timer: gr.Timer

    def list_outputs(self) -> list:
        return [self.queue, self.table, self.pick, self.run_a, self.run_b, *self.actions()]

    def actions(self) -> list:
        """The buttons that act on the opened run."""
        return [self.dequeue, self.move_up, self.resume, self.again, self.clone, self.delete]

    def detail_outputs(self) -> list:
        return [
            self.recipe,
            self.curve,
            self.log,
            self.reason,
            self.data,
            self.export,
            self.confirm_row,
        ]


def _button(labels: Labels, key: str, elem_id: str, **kwargs) -> gr.Button:
    return labels.make(gr.Button, {"value": key}, elem_id=elem_id, **kwargs)


def _list_section(labels: Labels) -> tuple:
    """The run list, the picker that opens a run, its actions and the delete confirmation."""
    with gr.Row(equal_height=True):
        labels.make(gr.Markdown, {"value": lambda lang: f"### {t('runs.list', lang)}"})
        refresh = _button(labels, "runs.refresh", "runs-refresh", scale=0)
    queue = gr.Markdown(visible=False, elem_id="runs-queue")
    table = gr.Dataframe(
        runs_view.table([], labels.lang),
        interactive=False,
        wrap=True,
        column_widths=runs_view.column_widths(),
        elem_id="runs-table",
    )
    with gr.Row(equal_height=True):
        pick = labels.make(
            gr.Dropdown, {"label": "runs.open"}, choices=[], scale=3, elem_id="runs-pick"
        )
        dequeue = _button(labels, "runs.dequeue", "runs-dequeue", interactive=False)
        move_up = _button(labels, "runs.move_up", "runs-move-up", interactive=False)
        resume = _button(labels, "runs.resume", "runs-resume", interactive=False)
        again = _button(labels, "runs.again", "runs-again", interactive=False)
        clone = _button(labels, "runs.clone", "runs-clone", interactive=False)
        delete = _button(labels, "runs.delete", "runs-delete", variant="stop", interactive=False)
    with gr.Row(visible=False, elem_id="runs-confirm") as confirm_row:
        confirm_text = gr.Markdown()
        confirm = _button(labels, "runs.confirm", "runs-confirm-yes", variant="stop", scale=0)
        cancel = _button(labels, "runs.cancel", "runs-confirm-no", scale=0)
    actions = (dequeue, move_up, resume, again, clone, delete)
    return queue, table, refresh, pick, *actions, confirm_row, confirm_text, confirm, cancel


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
    export = gr.Markdown(elem_id="runs-export")
    opened = _detail_section(labels)
    compared = _compare_section(labels)
    timer = gr.Timer(5.0, active=False)  # refreshes the list while the tab is open (app.py)
    return RunsTab(*listed, message, reason, data, export, *opened, *compared, timer)


@dataclass
class RunsActions:
    """The tab's callbacks; each reads or changes runs through lorastudio and returns updates."""

    tab: RunsTab
    config: StudioConfig
    editor: train_tab.TrainActions  # the Train tab, where a run's recipe is edited or watched
    tabs: gr.Tabs  # to show the Train tab after Run again or Edit a copy
    models: dict[str, str] = field(default_factory=dict)  # run id -> its recipe's model.id
    earlier: dict[tuple[str, int], float] = field(default_factory=dict)  # (run, attempt) -> s

    def _run_dir(self, run_id: str) -> Path:
        return RunIndex(self.config.workspace.adapters_dir).find(run_id)

    def _extras(self, infos: list, places: dict[str, int]) -> dict[str, runs_view.RunExtras]:
        """Each row's model (a run's recipe never changes), a queued run's place in line and,
        for a resumed run, how long its earlier attempts trained (read from its trainer log
        once per attempt)."""
        extras = {}
        for info in infos:
            run_dir = self.config.workspace.adapters_dir / info.id
            if info.id not in self.models:
                self.models[info.id] = _recipe_model(run_dir)
            attempt = read_status(run_dir).attempt
            if attempt > 1 and (info.id, attempt) not in self.earlier:
                summary = summarize_trainer_log(run_dir / TRAINER_LOG)
                if summary.attempts > 1:  # the resumed trainer has logged its first line
                    self.earlier[(info.id, attempt)] = summary.earlier_seconds
            earlier = self.earlier.get((info.id, attempt), 0.0)
            extras[info.id] = runs_view.RunExtras(
                self.models[info.id], earlier, places.get(info.id)
            )
        return extras

    def listing(self, lang: str, run_id: str | None = None) -> dict:
        """The queue, the run list, the run pickers, and what may be done with the opened run
        (the queue is served first: a run whose turn has come starts)."""
        adapters = self.config.workspace.adapters_dir
        live.queue_keeper(adapters).maybe_kick()
        infos = RunIndex(adapters).sync()
        waiting = run_queue.waiting_runs(adapters)
        places = run_queue.positions(waiting)
        ids = [info.id for info in infos]
        tab = self.tab
        queue_text = runs_view.queue_text(waiting, places, lang)
        out = {tab.queue: gr.update(value=queue_text, visible=bool(waiting))}
        out[tab.table] = runs_view.table(infos, lang, self._extras(infos, places))
        out |= {picker: gr.update(choices=ids) for picker in (tab.pick, tab.run_a, tab.run_b)}
        state = next((i.state for i in infos if i.id == run_id), None)
        run_dir = self.config.workspace.adapters_dir / run_id if run_id else None
        resumable = state in (RunState.STOPPED, RunState.FAILED) and bool(checkpoints(run_dir))
        has_recipe = run_dir is not None and (run_dir / RECIPE_FILE).is_file()
        out[tab.dequeue] = gr.update(interactive=state is RunState.QUEUED)
        out[tab.move_up] = gr.update(interactive=places.get(run_id or "", 0) > 1)
        out[tab.resume] = gr.update(interactive=resumable)  # only from a checkpoint
        out[tab.again] = gr.update(interactive=state is not None and has_recipe)
        out[tab.clone] = gr.update(interactive=state is not None and has_recipe)
        out[tab.delete] = gr.update(interactive=state is not None and not state.live)
        if run_dir is not None and state is not None:  # its export, as fresh as the list
            out[tab.export] = _export_line(run_dir, lang)
        return out

    def detail(self, lang: str, run_id: str | None) -> dict:
        """One run opened: its recipe, curve, log and why it ended."""
        if not run_id:
            return {}
        run_dir = self._run_dir(run_id)
        reader = TrainerLogReader(run_dir / TRAINER_LOG)
        reader.poll()
        status = reconcile(run_dir)
        reason = reason_text(status.reason, lang)
        if status.fell_back is not None:  # the speed plan's safer settings after an early OOM
            reason = " · ".join(filter(None, [status.fell_back.text(lang), reason]))
        used = run_data_line(run_dir)
        return {
            self.tab.recipe: (run_dir / RECIPE_FILE).read_text(encoding="utf-8"),
            self.tab.curve: plots.update(plots.run_rows(reader.points, lang)),
            self.tab.log: tail_text(run_dir / LOG_FILE),
            self.tab.reason: t("runs.reason", lang, reason=reason) if reason else "",
            self.tab.data: t("runs.data", lang, data=used) if used else "",
            self.tab.export: _export_line(run_dir, lang),
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

    def dequeue(self, lang: str, run_id: str | None) -> dict:
        """Cancel the opened run, which waits in the queue (one that started meanwhile is
        stopped as Stop does: it saves the adapter trained so far)."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        status = launcher.stop(self._run_dir(run_id), wait=False)
        said = "runs.dequeued" if status.state is RunState.CANCELLED else "runs.stopping_instead"
        return self.open(lang, run_id) | {self.tab.message: t(said, lang, run=run_id)}

    def move_up(self, lang: str, run_id: str | None) -> dict:
        """Move the opened queued run one place up in line for its devices."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        run_dir = self._run_dir(run_id)
        run_queue.move_up(run_dir)
        place = run_queue.queued_note(run_dir)
        note = (
            t("runs.moved_up", lang, run=run_id, place=place.text(lang))
            if place is not None
            else t("runs.started_now", lang, run=run_id)
        )
        return self.open(lang, run_id) | {self.tab.message: note}

    def run_again(self, lang: str, run_id: str | None, watch: live.Watch) -> dict:
        """Start the run's exact recipe as a new run; the Train tab shows it, in its editor and
        live (a busy device or a recipe this machine cannot run is refused, as Start is)."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        text = recipe_source.run_recipe(self.config, run_id)
        recipe = check_recipe_text(text, self.config.workspace, source=f"{run_id}/{RECIPE_FILE}")
        new_dir = launcher.launch(recipe, self.config.workspace, self.config.hardware)
        place = run_queue.queued_note(new_dir)
        if place is None:
            watch.attach(new_dir)
            note = t("runs.again_started", lang, run=new_dir.name, source=run_id)
        else:  # the live view shows the run ahead until this one starts
            said = place.text(lang)
            note = t("runs.again_queued", lang, run=new_dir.name, source=run_id, place=said)
        shown = self.editor.show_run(lang, new_dir.name, note)
        return (
            shown
            | self.open(lang, run_id)
            | {self.tab.message: note, self.tabs: gr.update(selected="train")}
        )

    def clone(self, lang: str, run_id: str | None) -> dict:
        """The run's exact recipe into the Train tab's editor, to change and start (or save)."""
        if not run_id:
            return {self.tab.message: t("runs.pick_first", lang)}
        note = t("runs.cloned", lang, run=run_id)
        return self.editor.show_run(lang, run_id, note) | {self.tabs: gr.update(selected="train")}

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
        cleared[tab.export] = ""
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


def _export_line(run_dir: Path, lang: str) -> str:
    """The run's export in one line ("" for a run never exported)."""
    said = export_view.summary(run_dir, reconcile_export(run_dir), lang)
    return t("runs.export", lang, export=said) if said else ""


def _recipe_model(run_dir: Path) -> str:
    """The run's base model, as its recipe names it ("" if the recipe cannot be read)."""
    try:
        recipe = yaml.safe_load((run_dir / RECIPE_FILE).read_text(encoding="utf-8"))
        return str(recipe["model"]["id"])
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return ""


def wire(
    tab: RunsTab,
    config: StudioConfig,
    lang: gr.State,
    editor: train_tab.TrainActions,
    tabs: gr.Tabs,
) -> RunsActions:
    """Connect the tab's events; a resumed or re-run run is handed to the Train tab's live view,
    a run's recipe to its editor."""
    act = RunsActions(tab, config, editor, tabs)
    panel = editor.tab.live
    shown = [*tab.list_outputs(), *tab.detail_outputs(), tab.message]
    edited = [*editor.tab.shown_outputs(), tabs]
    tab.again.click(
        guarded(tab.message, act.run_again),
        [lang, tab.pick, panel.watch],
        list(dict.fromkeys([*shown, *edited])),
        concurrency_limit=1,  # as Start: one launch at a time
    )
    tab.clone.click(guarded(tab.message, act.clone), [lang, tab.pick], [*edited, tab.message])
    quiet = {"show_progress": "hidden"}
    tab.refresh.click(guarded(tab.message, act.listing), [lang, tab.pick], shown)
    tab.timer.tick(guarded(tab.message, act.listing), [lang, tab.pick], shown, **quiet)
    tab.pick.input(guarded(tab.message, act.open), [lang, tab.pick], shown)
    tab.table.select(guarded(tab.message, act.select), [lang], shown)
    tab.resume.click(guarded(tab.message, act.resume), [lang, tab.pick, panel.watch], shown)
    tab.dequeue.click(guarded(tab.message, act.dequeue), [lang, tab.pick], shown)
    tab.move_up.click(guarded(tab.message, act.move_up), [lang, tab.pick], shown)
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
