"""The live view of one run: progress bar (step/total, elapsed, ETA), loss curve, throughput and
log tail. Each page holds one long event (`follow`) that polls the watched run on the server —
each poll one `RunMonitor.poll`, which reads only appended bytes — and sends the page only what
changed: nothing at all while nothing changes, a trainer line within one poll while a run is
live. The loop also serves the queue now and then (`queue_keeper`), so queued runs start while a
page is open even when no supervisor handed over."""

from __future__ import annotations

import asyncio
import functools
import html
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import gradio as gr

from lorastudio.runs import queue as run_queue
from lorastudio.runs.monitor import Change, Progress, RunMonitor, newer_live_run
from lorastudio.runs.monitor import run_to_watch as newest_run
from lorastudio.runs.status import RunState, state_name
from ui import plots
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import explain, reason_text

SCAN_SECONDS = 2.0  # how often an idle view looks for a run started elsewhere
IDLE_SECONDS = 1.0  # how often a view whose run is not live polls it (a live one: poll_seconds)
KEEPALIVE_SECONDS = 10.0  # a quiet view still answers this often, so a closed page ends its loop
KICK_SECONDS = 5.0  # how often this studio serves the queue, however many pages are open


@functools.cache
def queue_keeper(adapters_dir: Path) -> run_queue.Keeper:
    """This studio process's one keeper of the queue of ``adapters_dir``."""
    return run_queue.Keeper(adapters_dir, KICK_SECONDS)


@dataclass
class Watch:
    """One browser tab's view of a run, kept in a gr.State and changed in place (gradio hands
    callbacks the stored object), so a tick and a Start click never overwrite each other."""

    monitor: RunMonitor | None = None
    scanned_at: float = 0.0
    shown: dict[str, object] = field(default_factory=dict)  # last value sent, per output
    lang: str | None = None  # the page's language, as its language switch last set it

    @property
    def busy(self) -> bool:
        """Whether the watched run is (or may be) live: it is polled at full speed then."""
        state = self.monitor.last_state if self.monitor is not None else None
        return self.monitor is not None and (state is None or state.live)

    def attach(self, run_dir: Path) -> None:
        """Follow ``run_dir`` from its first line (its whole curve is sent on the next tick)."""
        notice = self.shown.get("notice", "")  # the page still shows it
        self.monitor, self.scanned_at = RunMonitor(run_dir), time.time()
        self.shown = {"notice": notice}


@dataclass
class LivePanel:
    start: gr.Button
    stop: gr.Button
    header: gr.Markdown
    progress: gr.HTML
    stats: gr.Markdown
    plot: gr.LinePlot
    lr_plot: gr.LinePlot
    log: gr.Textbox
    notice: gr.Markdown  # what went wrong in a refresh, if anything
    timer: gr.Timer
    watch: gr.State


def build(config: StudioConfig, labels: Labels) -> LivePanel:
    """Lay out the live view inside the current Blocks context."""
    with gr.Row(equal_height=True):
        start = labels.make(
            gr.Button, {"value": "train.start"}, variant="primary", scale=2, elem_id="start"
        )
        stop = labels.make(
            gr.Button,
            {"value": "train.stop"},
            variant="stop",
            interactive=False,
            scale=1,
            elem_id="stop-button",
        )
    header = gr.Markdown(elem_id="live-header")
    progress = gr.HTML(elem_id="live-progress", padding=False)
    stats = gr.Markdown(elem_id="live-stats")
    with gr.Row():
        plot = plots.line_plot(labels, "live.curve", "live-plot")
        lr_plot = plots.line_plot(labels, "live.lr_curve", "live-lr-plot")
    log = labels.make(
        gr.Textbox,
        {"label": "live.log"},
        lines=14,
        max_lines=14,
        autoscroll=True,
        interactive=False,
        elem_id="live-log",
    )
    timer = gr.Timer(config.poll_seconds)
    notice = gr.Markdown(elem_id="live-notice")
    watch = gr.State(Watch())
    return LivePanel(start, stop, header, progress, stats, plot, lr_plot, log, notice, timer, watch)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_html(progress: Progress, lang: str) -> str:
    """The progress bar; ``data-run``, ``data-step`` and ``data-state`` let tests and scripts
    read which run it shows and where that run is."""
    if progress.total_steps == 0 and progress.live:
        text = t("live.loading", lang, elapsed=_clock(progress.since_start))
    else:
        text = " · ".join(
            [
                t("live.step", lang, step=progress.step, total=progress.total_steps),
                f"{progress.fraction:.0%}",
                t("live.elapsed", lang, value=progress.elapsed or _clock(progress.since_start)),
                t("live.eta", lang, value=progress.remaining or "–"),
            ]
        )
    return (
        f'<div class="ls-progress" data-run="{html.escape(progress.run_id)}" '
        f'data-step="{progress.step}" '
        f'data-total="{progress.total_steps}" data-state="{progress.state}">'
        f'<div class="ls-bar"><div class="ls-fill" style="width:{progress.fraction:.1%}">'
        f'</div></div><div class="ls-progress-text">{html.escape(text)}</div></div>'
    )


def stats_text(progress: Progress, points: list, lang: str) -> str:
    """Loss, eval loss (when there is an eval split), tokens/s and how many points are drawn."""

    def number(value: float | None, digits: int) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    drawn = sum(1 for p in points if p.loss is not None or p.eval_loss is not None)
    parts = [t("live.loss", lang, value=number(progress.loss, 4))]
    if progress.eval_loss is not None:
        parts.append(t("live.eval_loss", lang, value=number(progress.eval_loss, 4)))
    parts.append(t("live.throughput", lang, value=number(progress.throughput, 0)))
    if progress.mfu is not None:
        parts.append(t("live.mfu", lang, value=f"{progress.mfu:.0%}"))
    cards = progress.cards
    if cards is not None:
        used, total = cards.memory_used_mib / 1024, cards.memory_total_mib / 1024
        parts.append(t("live.card_memory", lang, used=f"{used:.1f}", total=f"{total:.0f}"))
        if cards.utilization is not None:
            parts.append(t("live.card_busy", lang, value=cards.utilization))
    if progress.lr is not None:
        parts.append(t("live.lr", lang, value=f"{progress.lr:.2e}"))
    parts.append(t("live.points", lang, count=drawn))
    return " · ".join(parts)


def header_text(progress: Progress, lang: str) -> str:
    """Which run, its state and why; while it stops, what stopping does (so the line goes
    when the run has stopped)."""
    state = state_name(progress.state).text(lang)
    head = t("live.header", lang, run=f"`{progress.run_id}`", state=f"**{state}**")
    reason = reason_text(progress.reason, lang)
    if progress.state is RunState.STOPPING:
        reason = t("live.stopping", lang)
    return f"{head}  \n{html.escape(reason)}" if reason else head


def _find_run(watch: Watch, config: StudioConfig, now: float) -> bool:
    """Attach to the newest run (or a newer live one); True when the run changed."""
    current = watch.monitor
    if current is not None and current.last_state is not None and current.last_state.live:
        return False
    if now - watch.scanned_at < SCAN_SECONDS and current is not None:
        return False
    watch.scanned_at = now
    adapters = config.workspace.adapters_dir
    found = newest_run(adapters) if current is None else newer_live_run(adapters, current.run_dir)
    if found is None or (current is not None and found == current.run_dir):
        return False
    watch.attach(found)
    watch.scanned_at = now
    return True


def _send(shown: dict, out: dict, component: gr.components.Component, key: str, value) -> None:
    """Queue ``value`` for ``component`` unless it is what the page already shows."""
    if shown.get(key) != value:
        shown[key] = value
        out[component] = value


def tick(panel: LivePanel, config: StudioConfig, lang: str, watch: Watch) -> dict:
    """One refresh: poll the watched run and return only the components that changed. A
    failure shows on the panel's notice line until a refresh succeeds again."""
    try:
        out = _refresh(panel, config, lang, watch)
    except Exception as exc:
        out, note = {}, explain(exc, lang)
    else:
        note = ""
    if watch.shown.get("notice", "") != note:  # the page starts with no notice
        _send(watch.shown, out, panel.notice, "notice", note)
    return out


def _refresh(panel: LivePanel, config: StudioConfig, lang: str, watch: Watch) -> dict:
    attached = _find_run(watch, config, time.time())
    monitor, shown = watch.monitor, watch.shown  # a Start click may attach another meanwhile
    out: dict = {}
    if monitor is None:
        _send(shown, out, panel.header, "header", t("live.none", lang))
        return out
    change: Change = monitor.poll()
    progress = change.progress
    fresh = attached or shown.get("lang") != lang
    shown["lang"] = lang
    _send(shown, out, panel.progress, "progress", progress_html(progress, lang))
    if fresh or change.state_changed:
        _send(shown, out, panel.header, "header", header_text(progress, lang))
        out[panel.stop] = gr.update(interactive=progress.live)
    _send(shown, out, panel.stats, "stats", stats_text(progress, monitor.points, lang))
    if fresh:
        shown["curves"], shown["lr_curves"] = [], []  # the charts are redrawn for this run
    if fresh or change.new_points:
        drawn = shown.setdefault("curves", [])
        out[panel.plot] = plots.update(plots.run_rows(monitor.points, lang), drawn)
        rates = plots.lr_rows(monitor.points, lang)
        if fresh or len(rates) != shown.get("lr_count"):
            shown["lr_count"] = len(rates)
            out[panel.lr_plot] = plots.update(rates, shown.setdefault("lr_curves", []))
    if fresh or change.log_changed:
        out[panel.log] = monitor.log.text
    return out


async def follow(
    panel: LivePanel, config: StudioConfig, lang: str, watch: Watch
) -> AsyncIterator[dict]:
    """One page's live view, for as long as the page is open: poll the watched run (every
    ``config.poll_seconds`` while it is live or just attached, every IDLE_SECONDS otherwise)
    and yield only what changed. A quiet view yields an empty update every KEEPALIVE_SECONDS:
    gradio ends the loop there once the page has gone."""
    watch.lang = watch.lang or lang
    polled_at = spoke_at = time.monotonic()
    polled: RunMonitor | None = None
    first = True
    keeper = queue_keeper(config.workspace.adapters_dir)
    while True:
        await anyio.to_thread.run_sync(keeper.maybe_kick)  # a look at the folders every 5 s
        now = time.monotonic()
        if first or watch.busy or watch.monitor is not polled or now - polled_at >= IDLE_SECONDS:
            polled, polled_at, first = watch.monitor, now, False
            out = await anyio.to_thread.run_sync(tick, panel, config, watch.lang, watch)
            if out:
                yield out
                spoke_at = time.monotonic()
        if time.monotonic() - spoke_at >= KEEPALIVE_SECONDS:
            yield gr.skip()
            spoke_at = time.monotonic()
        await asyncio.sleep(config.poll_seconds)


def outputs(panel: LivePanel) -> list:
    return [
        panel.header, panel.progress, panel.stats, panel.plot, panel.lr_plot, panel.log, panel.stop
    ]  # fmt: skip
