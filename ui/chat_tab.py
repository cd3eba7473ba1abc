"""The Chat tab: talk to a trained run, base model and base + adapter side by side, with the
run's own template and the same sampling and seed; run its recipe's test prompts as a table
(saved in the run folder); merge and export it, as a job of its own that the page follows from
the run's files (closing the page or the studio never stops it; a reopened page shows it).
Every callback is a thin call into lorastudio (chat, chat_setup, prompt_sets, export_job); the
model lives in the chat worker process, one per studio, never in this one. Chat events queue on
their own (``CHAT``), so a streaming reply never holds up the Train tab's live view."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import gradio as gr

from lorastudio.chat.client import ChatClient
from lorastudio.chat.export_job import start_export, stop_export
from lorastudio.chat.params import ChatParams, check_messages, make_params
from lorastudio.chat.prompt_sets import (
    check_prompts,
    iter_prompt_set,
    read_prompt_table,
    recipe_prompts,
    save_prompt_table,
)
from lorastudio.chat.setup import ChatSetup, resolve_setup
from lorastudio.errors import TemplateMismatchError
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import PROMPTS_FILE
from ui import chat_view, export_view
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import explain, guarded, streamed

CHAT = {"concurrency_id": "chat", "concurrency_limit": 1}  # one worker: one request at a time
STREAM_SECONDS = 0.1  # a streaming reply updates the page at most this often


@dataclass
class ChatTab:
    run: gr.Dropdown
    load: gr.Button
    unload: gr.Button
    status: gr.Markdown
    template: gr.Dropdown
    force: gr.Checkbox
    template_note: gr.Markdown
    params: dict[str, gr.components.Component]  # ChatParams field -> widget, schema order
    base: gr.Chatbot
    adapter: gr.Chatbot
    prompt: gr.Textbox
    send: gr.Button
    clear: gr.Button
    message: gr.Markdown
    run_prompts: gr.Button
    table: gr.Dataframe
    table_note: gr.Markdown
    export: gr.Button
    stop_export: gr.Button
    export_log: gr.Textbox
    export_result: gr.Markdown
    export_watch: gr.State  # the page's following of the picked run's export

    def export_outputs(self) -> list:
        return [self.export_log, self.export_result, self.export, self.stop_export]

    def setup_inputs(self) -> list:
        """What decides how a run is loaded: the run, the template and the override."""
        return [self.run, self.template, self.force]


def build(config: StudioConfig, labels: Labels) -> ChatTab:
    """Lay out the Chat tab inside the current Blocks context."""
    with gr.Row(equal_height=True):
        run = labels.make(
            gr.Dropdown,
            {"label": "chat.run", "info": "chat.run_info"},
            choices=[],
            scale=3,
            elem_id="chat-run",
        )
        load = chat_view.button(labels, "chat.load", "chat-load", variant="primary", scale=0)
        unload = chat_view.button(labels, "chat.unload", "chat-unload", scale=0)
    status = gr.Markdown(t("chat.none_loaded", labels.lang), elem_id="chat-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            template, force, template_note, params = chat_view.settings(labels)
        with gr.Column(scale=3):
            base, adapter, prompt, send, clear, message = chat_view.conversation(labels)
    return ChatTab(
        run,
        load,
        unload,
        status,
        template,
        force,
        template_note,
        params,
        base,
        adapter,
        prompt,
        send,
        clear,
        message,
        *chat_view.prompt_set(labels),
        *chat_view.export(labels),
    )


@dataclass
class ChatActions:
    """The tab's callbacks; each talks to the studio's one ChatClient or reads the run folder."""

    tab: ChatTab
    config: StudioConfig
    client: ChatClient

    # ---------------------------------------------------------------- runs and templates

    def _run_dir(self, run_id: str | None) -> Path:
        if not run_id:
            raise LookupError("no run picked")  # callers check first; never shown
        return RunIndex(self.config.workspace.adapters_dir).find(run_id)

    def _setup(self, run_id: str, template: str | None, force: bool) -> ChatSetup:
        """How to load the run; the template guard refuses a template it was not trained with."""
        return resolve_setup(
            self._run_dir(run_id),
            template=template or None,
            force_template=bool(force),
            hardware=self.config.hardware,
        )

    def listing(self, lang: str, run_id: str | None = None) -> dict:
        """The runs one can chat with and the worker's status, shown when the tab opens; a page
        opened anew shows the run the worker holds, picked, with its template, so that what
        the status line says and what Send uses are the same run."""
        ids = chat_view.chat_runs(RunIndex(self.config.workspace.adapters_dir).sync())
        out = {self.tab.status: chat_view.status_text(self.client, lang)}
        held = self.client.setup
        if not run_id and held is not None and held.run_id in ids:
            out |= self._restored(lang, held)
            run_id = held.run_id
        return out | {self.tab.run: gr.update(choices=ids, value=run_id if run_id in ids else None)}

    def _restored(self, lang: str, held: ChatSetup) -> dict:
        """The loaded run's settings back on a page that did not pick them (a reopened one)."""
        tab = self.tab
        choices = sorted(llamafactory_spec.known_templates() | {held.trained_template})
        forced = held.template != held.trained_template
        return {
            tab.template: gr.update(choices=choices, value=held.template),
            tab.force: forced,
            tab.template_note: self.template_note(lang, held.run_id, held.template, forced),
        }

    def template_note(self, lang: str, run_id: str | None, template: str | None, force) -> str:
        """The training template, or the guard's refusal when another one is picked."""
        if not run_id:
            return ""
        try:
            setup = self._setup(run_id, template, force)
        except TemplateMismatchError as exc:
            return explain(exc, lang)
        if setup.template != setup.trained_template:
            return "⚠️ " + t(
                "chat.forced", lang, asked=setup.template, trained=setup.trained_template
            )
        return t("chat.trained_with", lang, template=setup.trained_template)

    def check_template(self, lang: str, run_id: str | None, template: str | None, force) -> dict:
        return {self.tab.template_note: self.template_note(lang, run_id, template, force)}

    def pick(self, lang: str, run_id: str | None) -> dict:
        """A run picked: its training template, and its saved prompt-set table if any."""
        tab = self.tab
        cleared = {tab.message: "", tab.export_log: "", tab.export_result: ""}
        if not run_id:
            return cleared | {tab.template_note: ""}
        run_dir = self._run_dir(run_id)
        saved = read_prompt_table(run_dir)
        table_note = ""
        if saved:
            when = saved[0].get("created_at", "")
            table_note = t("chat.saved_before", lang, when=when, path=run_dir / PROMPTS_FILE)
        shown = {
            tab.table: chat_view.prompt_table(chat_view.saved_rows(saved), lang),
            tab.table_note: table_note,
            tab.force: False,
        }
        setup = self._setup(run_id, None, False)  # a damaged run is reported as it is picked
        choices = sorted(llamafactory_spec.known_templates() | {setup.trained_template})
        template = gr.update(choices=choices, value=setup.trained_template)
        note = t("chat.trained_with", lang, template=setup.trained_template)
        thinking = self._thinking_toggle(setup)
        return cleared | shown | {tab.template: template, tab.template_note: note} | thinking

    def _thinking_toggle(self, setup: ChatSetup) -> dict:
        """The thinking switch, shown where the run's template thinks or not (auto: as it
        trained, on or off)."""
        widget = self.tab.params["thinking"]
        return {widget: gr.update(visible=setup.trained_thinking is not None, value="auto")}

    def relabel(
        self,
        lang: str,
        run_id: str | None,
        template: str | None,
        force,
        watch: export_view.ExportWatch | None = None,
    ) -> dict:
        """The tab's own texts in a new language (the language switch calls this); the page's
        following of an export goes on in it."""
        out = {self.tab.status: chat_view.status_text(self.client, lang)}
        if watch is not None:
            watch.lang = lang
        with contextlib.suppress(Exception):  # the labels change even if the run is unreadable
            out[self.tab.template_note] = self.template_note(lang, run_id, template, force)
            run_dir = self._run_dir(run_id) if run_id else None
            out[self.tab.export_result] = export_view.shown(run_dir, lang)[1]["result"]
        return out

    # ---------------------------------------------------------------- the worker

    def _loaded(self, lang: str, setup: ChatSetup) -> Iterator[dict]:
        """Load ``setup`` into the worker unless it holds exactly that already."""
        if self.client.setup == setup and self.client.info is not None:
            return
        yield {self.tab.status: t("chat.loading", lang, run=setup.run_id)}
        try:
            self.client.load(setup)
        except Exception:  # refused or crashed: the status says what the worker holds now
            yield {self.tab.status: chat_view.status_text(self.client, lang)}
            raise
        yield {self.tab.status: chat_view.status_text(self.client, lang)}

    def _guarded_setup(
        self, lang: str, run_id: str, template: str | None, force
    ) -> ChatSetup | dict:
        """The setup, or — when the template guard refuses — the updates that say so once, on
        the template's own note (where picking the template already said it)."""
        try:
            return self._setup(run_id, template, force)
        except TemplateMismatchError as exc:
            return {self.tab.template_note: explain(exc, lang), self.tab.message: ""}

    def load(self, lang: str, run_id: str | None, template: str | None, force) -> Iterator[dict]:
        if not run_id:
            yield {self.tab.message: t("chat.pick_first", lang)}
            return
        setup = self._guarded_setup(lang, run_id, template, force)
        if isinstance(setup, dict):
            yield setup
            return
        yield {self.tab.message: ""}
        if self.client.setup != setup or self.client.info is None:
            emptied = {self.tab.base: [], self.tab.adapter: []}  # another model: a new talk
            yield emptied
        yield from self._loaded(lang, setup)

    def unload(self, lang: str) -> dict:
        self.client.unload()
        return {self.tab.status: chat_view.status_text(self.client, lang), self.tab.message: ""}

    def _params(self, values: tuple) -> ChatParams:
        """The sampling settings as typed, checked by the schema (refused with every problem)."""
        return make_params(**dict(zip(chat_view.PARAMS, values, strict=True)))

    # ---------------------------------------------------------------- replies

    def send(
        self,
        lang: str,
        run_id: str | None,
        template: str | None,
        force: bool,
        prompt: str | None,
        base: list | None,
        adapter: list | None,
        *values: Any,
    ) -> Iterator[dict]:
        """Stream one reply into each column: base + adapter, then the base alone, each with
        its own conversation so far, the same settings and seed. Checked before anything
        loads; the picked run is loaded first if the worker does not hold it."""
        tab = self.tab
        params = self._params(values)
        user = {"role": "user", "content": prompt or ""}
        talks = {tab.adapter: [*chat_view.plain(adapter), user]}
        talks[tab.base] = [*chat_view.plain(base), user]
        for talk in talks.values():
            check_messages(talk)
        if not run_id:
            yield {tab.message: t("chat.pick_first", lang)}
            return
        setup = self._guarded_setup(lang, run_id, template, force)
        if isinstance(setup, dict):
            yield setup
            return
        yield {tab.message: ""}
        yield from self._loaded(lang, setup)
        history = {tab.adapter: adapter or [], tab.base: base or []}
        shown = {
            column: [*history[column], user, {"role": "assistant", "content": ""}]
            for column in talks
        }
        yield {tab.prompt: "", tab.send: gr.update(interactive=False), **shown}  # until done
        for column, talk in talks.items():
            earlier = history[column]
            for reply in self._reply(talk, params, adapter=column is tab.adapter):
                yield {column: [*earlier, user, *chat_view.reply_messages(reply, lang)]}
        yield {tab.status: chat_view.status_text(self.client, lang)}

    def _reply(self, talk: list, params: ChatParams, adapter: bool) -> Iterator[str]:
        """The reply so far, at most every STREAM_SECONDS (the first piece at once, the whole
        reply at the end): a page update per token made the page, not the model, the slow part."""
        reply, shown_at, shown = "", 0.0, ""
        with contextlib.closing(self.client.stream(talk, params, adapter=adapter)) as pieces:
            for piece in pieces:
                reply += piece
                if time.monotonic() - shown_at >= STREAM_SECONDS:
                    yield reply
                    shown_at, shown = time.monotonic(), reply
        if reply != shown or not reply:
            yield reply

    def clear(self) -> dict:
        return {self.tab.base: [], self.tab.adapter: [], self.tab.message: ""}

    def prompt_set(
        self, lang: str, run_id: str | None, template: str | None, force: bool, *values: Any
    ) -> Iterator[dict]:
        """The recipe's test prompts answered by both, row by row; saved as prompts.jsonl."""
        tab = self.tab
        if not run_id:
            yield {tab.table_note: t("chat.pick_first", lang)}
            return
        params = self._params(values)
        run_dir = self._run_dir(run_id)
        prompts = check_prompts(recipe_prompts(run_dir))
        setup = self._guarded_setup(lang, run_id, template, force)
        if isinstance(setup, dict):  # the template's note says why, once
            yield {tab.template_note: setup[tab.template_note], tab.table_note: ""}
            return
        yield {tab.table_note: t("chat.running_prompts", lang, count=len(prompts))}
        yield from self._loaded(lang, setup)
        rows = []
        yield {tab.table: chat_view.prompt_table(rows, lang, pending=prompts[0])}
        for row in iter_prompt_set(self.client, prompts, params):
            rows.append(row)
            pending = prompts[len(rows)] if len(rows) < len(prompts) else None
            yield {tab.table: chat_view.prompt_table(rows, lang, pending)}
        path = save_prompt_table(run_dir, rows, params, setup.template)
        yield {tab.table_note: t("chat.saved", lang, path=path)}

    # ---------------------------------------------------------------- export

    async def export(
        self, lang: str, run_id: str | None, watch: export_view.ExportWatch
    ) -> AsyncIterator[dict]:
        """Start the run's export as a job of its own, then follow it from its files."""
        tab = self.tab
        if not run_id:
            yield {tab.export_result: t("chat.pick_first", lang)}
            return
        try:
            run_dir = self._run_dir(run_id)
            await anyio.to_thread.run_sync(start_export, run_dir)
        except Exception as exc:  # refused (already running, no adapter…): said, not raised
            yield {tab.export_result: explain(exc, lang)}
            return
        async for out in self._follow(lang, run_dir, watch):
            yield out

    async def follow_export(
        self, lang: str, run_id: str | None, watch: export_view.ExportWatch
    ) -> AsyncIterator[dict]:
        """Show the picked run's export: followed while it runs, its end once it has ended (a
        page opened anew, or another run picked)."""
        try:
            run_dir = self._run_dir(run_id) if run_id else None
        except Exception:  # a run that is gone shows no export; picking it says why
            run_dir = None
        async for out in self._follow(lang, run_dir, watch):
            yield out

    async def _follow(
        self, lang: str, run_dir: Path | None, watch: export_view.ExportWatch
    ) -> AsyncIterator[dict]:
        try:
            async for out in export_view.follow(watch, run_dir, lang, self._export_updates):
                yield out
        except Exception as exc:
            yield {self.tab.export_result: explain(exc, lang)}

    def _export_updates(self, changed: dict[str, object]) -> dict:
        tab = self.tab
        widgets = {"log": tab.export_log, "result": tab.export_result}
        buttons = {"merge": tab.export, "stop": tab.stop_export}
        out: dict = {widgets[k]: v for k, v in changed.items() if k in widgets}
        for key, value in changed.items():
            if key in buttons:
                out[buttons[key]] = gr.update(interactive=value)
        return out

    def stop_export(self, lang: str, run_id: str | None) -> dict:
        """Ask the picked run's export to stop; the page's following shows it stopping."""
        if not run_id:
            return {self.tab.export_result: t("chat.pick_first", lang)}
        stop_export(self._run_dir(run_id), wait=False)
        return {self.tab.stop_export: gr.update(interactive=False)}


def wire(
    tab: ChatTab, config: StudioConfig, lang: gr.State, client: ChatClient, item: gr.Tab
) -> ChatActions:
    """Connect the tab's events; the run list is refreshed whenever the tab is opened."""
    act = ChatActions(tab, config, client)
    quiet = {"show_progress": "hidden"}
    setup = tab.setup_inputs()
    params = list(tab.params.values())
    opened = [tab.run, tab.status, tab.template, tab.force, tab.template_note]
    exported = tab.export_outputs()
    follow = {"concurrency_limit": None, **quiet}  # each page follows its own, for a while
    export_in = [lang, tab.run, tab.export_watch]
    item.select(guarded(tab.message, act.listing), [lang, tab.run], opened, **quiet).then(
        act.follow_export, export_in, exported, **follow
    )
    picked = [tab.template, tab.force, tab.template_note, tab.table, tab.table_note]
    picked += [tab.message, tab.export_log, tab.export_result, tab.params["thinking"]]
    tab.run.input(guarded(tab.message, act.pick), [lang, tab.run], picked).then(
        act.follow_export, export_in, exported, **follow
    )
    for widget in (tab.template, tab.force):
        checked = guarded(tab.template_note, act.check_template)
        widget.input(checked, [lang, *setup], [tab.template_note], **quiet)
    columns = [tab.base, tab.adapter]
    loaded = [tab.status, tab.message, tab.template_note, *columns]
    tab.load.click(streamed(tab.message, act.load), [lang, *setup], loaded, **CHAT)
    tab.unload.click(guarded(tab.message, act.unload), [lang], [tab.status, tab.message], **CHAT)
    sent = [tab.status, tab.message, tab.template_note, tab.prompt, tab.send, *columns]
    for event in (tab.send.click, tab.prompt.submit):
        event(
            streamed(tab.message, act.send),
            [lang, *setup, tab.prompt, *columns, *params],
            sent,
            show_progress="minimal",
            **CHAT,
        ).then(lambda: gr.update(interactive=True), None, [tab.send], **quiet)  # even after errors
    tab.clear.click(act.clear, None, [*columns, tab.message], **quiet)
    tab.run_prompts.click(
        streamed(tab.table_note, act.prompt_set),
        [lang, *setup, *params],
        [tab.table, tab.table_note, tab.status, tab.template_note],
        **CHAT,
    )
    tab.export.click(act.export, export_in, exported, **follow)
    tab.stop_export.click(
        guarded(tab.export_result, act.stop_export),
        [lang, tab.run],
        [tab.export_result, tab.stop_export],
        **quiet,
    )
    return act
