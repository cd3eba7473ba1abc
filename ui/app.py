"""The studio app: one gr.Blocks made of the tab modules, a language switch that relabels every
component, and `serve`, which starts it with the studio's one chat worker client."""

from __future__ import annotations

import atexit
import logging
import time

import gradio as gr

from lorastudio.chat.client import ChatClient
from lorastudio.data.ingest import upload_limit
from ui import chat_tab, data_tab, editor, live, model_picker, runs_tab, runs_view, train_tab
from ui.config import StudioConfig
from ui.event_records import release_finished_events
from ui.labels import Labels, merge_updates
from ui.locale import LANGUAGES, t
from ui.messages import guarded

log = logging.getLogger("lorastudio.studio")

CSS = (
    """
.field-error, .field-error p { color: #b42318 !important; font-size: 0.9em; margin: 0; }
.ls-progress { margin: 4px 0 8px; }
.ls-bar { height: 16px; background: var(--neutral-200); border-radius: 8px; overflow: hidden; }
.ls-fill { height: 100%; background: var(--color-accent); transition: width 0.15s linear; }
.ls-progress-text { margin-top: 6px; font-variant-numeric: tabular-nums; }
.ls-sticky { position: sticky; top: 8px; align-self: flex-start; }
.ls-form textarea { field-sizing: content; height: auto !important; max-height: 20em; }
"""
    + data_tab.CSS
)
FONTS = ["ui-sans-serif", "system-ui", "Noto Sans CJK SC", "sans-serif"]  # nothing downloaded
MONO = ["ui-monospace", "Noto Sans Mono CJK SC", "monospace"]


def build_app(config: StudioConfig, chat: ChatClient | None = None) -> gr.Blocks:
    """The whole studio, labelled in ``config.lang``; a browser's own choice is kept.

    Args:
        chat: the studio's client of its one chat worker (a new one, closed at exit, if None).
    """
    if chat is None:
        chat = ChatClient()  # the worker starts on the first Load, not here
        atexit.register(chat.close)
    labels = Labels(config.lang)
    theme = gr.themes.Default(font=FONTS, font_mono=MONO)
    css = CSS + runs_view.table_css("runs-table")
    with gr.Blocks(title="LoRA Studio", css=css, theme=theme, analytics_enabled=False) as demo:
        lang = gr.BrowserState(config.lang, storage_key="lorastudio-lang")
        with gr.Row(equal_height=True):
            labels.make(
                gr.Markdown,
                {"value": lambda lang_: f"## {t('app.title', lang_)} · {t('app.subtitle', lang_)}"},
            )
            switch = labels.make(
                gr.Radio,
                {"label": "app.language"},
                choices=[(name, code) for code, name in LANGUAGES.items()],
                value=config.lang,
                scale=0,
                min_width=240,
                elem_id="lang-switch",
            )
        with gr.Tabs() as tabs:
            with _tab(labels, "train") as train_item:
                train = train_tab.build(config, labels)
            with _tab(labels, "data") as data_item:
                data = data_tab.build(config, labels)
            with _tab(labels, "runs") as runs_item:
                runs = runs_tab.build(config, labels)
            with _tab(labels, "chat") as chat_item:
                chat_parts = chat_tab.build(config, labels)
        train_actions = train_tab.wire(train, config, lang)
        data_tab.wire(data, config, lang, train_actions, data_item)
        runs_actions = runs_tab.wire(runs, config, lang, train_actions, tabs)
        chat_actions = chat_tab.wire(chat_parts, config, lang, chat, chat_item)
        _wire_language(
            demo, config, labels, lang, switch, train_actions, runs_actions, runs_item, chat_actions
        )
        _refresh_runs_while_shown(runs.timer, runs_item, [train_item, data_item, chat_item])
    return demo


def _tab(labels: Labels, name: str) -> gr.Tab:
    """A tab labelled ``tab.<name>``, with id ``name`` (an update can show it) and elem_id
    ``tab-<name>``."""
    return labels.make(gr.Tab, {"label": f"tab.{name}"}, id=name, elem_id=f"tab-{name}")


def _refresh_runs_while_shown(timer: gr.Timer, runs_item: gr.Tab, others: list[gr.Tab]) -> None:
    """The Runs tab's list refreshes itself only while that tab is the one shown: an open page
    costs the studio nothing while it shows another tab."""
    quiet = {"show_progress": "hidden"}
    runs_item.select(lambda: gr.Timer(active=True), None, [timer], **quiet)
    for item in others:
        item.select(lambda: gr.Timer(active=False), None, [timer], **quiet)


def _wire_language(
    demo: gr.Blocks,
    config: StudioConfig,
    labels: Labels,
    lang: gr.BrowserState,
    switch: gr.Radio,
    train: train_tab.TrainActions,
    runs: runs_tab.RunsActions,
    runs_item: gr.Tab,
    chat: chat_tab.ChatActions,
) -> None:
    """The language switch and the page load: relabel everything, re-render what is shown."""
    train_outputs = train.tab.shown_outputs()
    runs_outputs = [*runs.tab.list_outputs(), *runs.tab.detail_outputs(), runs.tab.message]

    def on_switch(
        lang_: str,
        watch: live.Watch,
        text: str,
        run_id: str | None,
        a: str | None,
        b: str | None,
        *chat_setup,
    ):
        watch.lang = lang_  # the live view's loop renders in it from its next poll
        shown: list[dict] = [chat.relabel(lang_, *chat_setup)]
        try:  # the texts on show, in the new language
            checked = editor.check(text, config)
            shown += [train.render(lang_, checked, False), runs.open(lang_, run_id)]
            shown.append(runs.compare(lang_, a, b))
        except Exception:  # the labels change even if a panel cannot be re-rendered
            log.exception("re-rendering after a language switch")
        return merge_updates(labels.updates(lang_), *shown, {lang: lang_})

    def on_load(lang_: str | None, watch: live.Watch) -> dict:
        """A page opens in its browser's last language (kept in localStorage)."""
        lang_ = lang_ if lang_ in LANGUAGES else config.lang
        watch.lang = lang_
        opened = merge_updates(train.load(lang_), runs.listing(lang_))
        if lang_ == config.lang:  # the page was built in it: the switch already shows it, and
            return opened  # setting it again would undo a click made while the page loaded
        return merge_updates(labels.updates(lang_), opened, {switch: gr.update(value=lang_)})

    compared = [runs.tab.overlay, runs.tab.diff]
    chatted = [chat.tab.status, chat.tab.template_note, chat.tab.export_result]
    everything = [lang, *labels.components, *train_outputs, *runs_outputs, *compared, *chatted]
    everything = list(dict.fromkeys(everything))
    on_open = list(dict.fromkeys([switch, *labels.components, *train_outputs, *runs_outputs]))
    quiet = {"show_progress": "hidden"}
    picked = [runs.tab.pick, runs.tab.run_a, runs.tab.run_b]
    chat_setup = [*chat.tab.setup_inputs(), chat.tab.export_watch]
    watch = train.tab.live.watch
    everything_in = [switch, watch, train.tab.yaml, *picked, *chat_setup]
    switched = switch.input(on_switch, everything_in, everything, **quiet)
    train.scale.follow(switched)  # its texts are rendered per recipe, not relabelled
    model_picker.follow_switch(train.models, switched, lang, train.tab.yaml)
    opened = demo.load(on_load, [lang, watch], on_open, **quiet)
    drawn = "() => { document.body.dataset.studioReady = '1'; }"  # as opened (tests wait)
    opened.then(None, js=drawn)
    runs_item.select(
        guarded(runs.tab.message, runs.open), [lang, runs.tab.pick], runs_outputs, **quiet
    )


def queue_events(demo: gr.Blocks) -> gr.Blocks:
    """Events through gradio's queue (four at a time unless an event says otherwise), which
    forgets each event once it is done (ui.event_records)."""
    demo.queue(default_concurrency_limit=4)
    release_finished_events(demo._queue)
    return demo


def serve(
    config: StudioConfig, host: str, port: int, auth: tuple[str, str] | None, started: float
) -> int:
    """Build the studio and serve it until interrupted; runs it started go on without it.

    Args:
        started: ``time.monotonic()`` when the process began, for the start-up time it prints.
    """
    live.queue_keeper(config.workspace.adapters_dir).maybe_kick()  # a queue left by a reboot
    chat = ChatClient()  # one chat worker per studio, stopped when the studio stops
    atexit.register(chat.close)  # also on an exit that skips the line after block_thread
    demo = queue_events(build_app(config, chat))
    demo.launch(
        prevent_thread_lock=True,
        server_name=host,
        server_port=port,
        auth=auth,
        show_api=False,
        inbrowser=False,
        allowed_paths=[str(config.downloads_dir)],
        max_file_size=max(64 * 1024 * 1024, upload_limit()),  # data files; recipes: 1 MiB
        quiet=True,
    )
    print(
        f"LoRA Studio is up at http://{host}:{port} (started in "
        f"{time.monotonic() - started:.1f} s; Ctrl-C closes it, runs go on)",
        flush=True,
    )
    demo.block_thread()  # returns on Ctrl-C, after closing the server
    chat.close()
    return 0
