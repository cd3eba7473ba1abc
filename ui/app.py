"""The studio app: one gr.Blocks made of the tab modules, a language switch that relabels every
component, and `serve`, which starts it. Chat is its own issue; its tab is left out until then."""

from __future__ import annotations

import time

import gradio as gr

from ui import editor, runs_tab, train_tab
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import LANGUAGES, t

CSS = """
.field-error, .field-error p { color: #b42318 !important; font-size: 0.9em; margin: 0; }
.ls-progress { margin: 4px 0 8px; }
.ls-bar { height: 16px; background: var(--neutral-200); border-radius: 8px; overflow: hidden; }
.ls-fill { height: 100%; background: var(--color-accent); transition: width 0.15s linear; }
.ls-progress-text { margin-top: 6px; font-variant-numeric: tabular-nums; }
.ls-sticky { position: sticky; top: 8px; align-self: flex-start; }
"""
FONTS = ["ui-sans-serif", "system-ui", "Noto Sans CJK SC", "sans-serif"]  # nothing downloaded
MONO = ["ui-monospace", "Noto Sans Mono CJK SC", "monospace"]


def build_app(config: StudioConfig) -> gr.Blocks:
    """The whole studio, labelled in ``config.lang``; a browser's own choice is kept."""
    labels = Labels(config.lang)
    theme = gr.themes.Default(font=FONTS, font_mono=MONO)
    with gr.Blocks(title="LoRA Studio", css=CSS, theme=theme, analytics_enabled=False) as demo:
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
        with gr.Tabs():
            with labels.make(gr.Tab, {"label": "tab.train"}, elem_id="tab-train"):
                train = train_tab.build(config, labels)
            with labels.make(gr.Tab, {"label": "tab.runs"}, elem_id="tab-runs") as runs_item:
                runs = runs_tab.build(config, labels)
        train_tab.wire(train, config, lang)
        runs_tab.wire(runs, config, lang, train.live)
        _wire_language(demo, config, labels, lang, switch, train, runs, runs_item)
    return demo


def _wire_language(demo, config, labels, lang, switch, train, runs, runs_item) -> None:
    """The language switch and the page load: relabel everything, re-render what is shown."""
    train_outputs = [train.yaml, *train.form.widgets, *train.checked_outputs()]
    runs_outputs = [runs.table, runs.pick, runs.run_a, runs.run_b, runs.message]
    detail_outputs = [
        runs.recipe,
        runs.curve,
        runs.log,
        runs.reason,
        runs.resume,
        runs.delete,
        runs.confirm_row,
    ]

    def shown_in(lang_: str, text: str, run_id: str | None) -> dict:
        checked = editor.check(text, config)
        out = train_tab.render(train, checked, config, lang_, with_fields=False)
        out |= runs_tab.listing(runs, config, lang_) | runs_tab.detail(runs, config, lang_, run_id)
        return out | labels.updates(lang_)

    def on_switch(lang_: str, text: str, run_id: str | None) -> dict:
        try:
            out = shown_in(lang_, text, run_id)
        except Exception:  # keep the switch working even if a panel cannot be re-rendered
            out = labels.updates(lang_)
        return out | {lang: lang_}

    def on_load(lang_: str | None) -> dict:
        lang_ = lang_ if lang_ in LANGUAGES else config.lang
        out = train_tab.load(train, config, lang_) | runs_tab.listing(runs, config, lang_)
        if lang_ != config.lang:
            out |= labels.updates(lang_)
        return out | {switch: lang_}

    everything = [lang, *labels.components, *train_outputs, *runs_outputs, *detail_outputs]
    switch.input(on_switch, [switch, train.yaml, runs.pick], everything, show_progress="hidden")
    demo.load(
        on_load,
        [lang],
        [switch, *labels.components, *train_outputs, *runs_outputs],
        show_progress="hidden",
    )
    runs_item.select(
        lambda lang_: runs_tab.listing(runs, config, lang_),
        [lang],
        runs_outputs[:-1],
        show_progress="hidden",
    )


def serve(
    config: StudioConfig, host: str, port: int, auth: tuple[str, str] | None, started: float
) -> int:
    """Build the studio and serve it until interrupted; runs it started go on without it.

    Args:
        started: ``time.monotonic()`` when the process began, for the start-up time it prints.
    """
    demo = build_app(config)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        prevent_thread_lock=True,
        server_name=host,
        server_port=port,
        auth=auth,
        show_api=False,
        inbrowser=False,
        allowed_paths=[str(config.downloads_dir)],
        max_file_size=64 * 1024 * 1024,
        quiet=True,
    )
    print(
        f"LoRA Studio is up at http://{host}:{port} (started in "
        f"{time.monotonic() - started:.1f} s; Ctrl-C closes it, runs go on)",
        flush=True,
    )
    demo.block_thread()  # returns on Ctrl-C, after closing the server
    return 0
