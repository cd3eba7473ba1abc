"""What the studio shows of a run's export, read from its files (export.json, export.log), never
from its process: one line for its state (step and phase while it runs, where the merge is once
it succeeded, why it ended otherwise) in the Chat tab and the Runs tab alike, the end of its log,
and a page's following of it (`ExportWatch`, `follow`), which ends with the export or the page,
never with the export itself."""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import gradio as gr

from lorastudio.runs.export_status import (
    ExportPhase,
    ExportState,
    ExportStatus,
    export_phase,
    export_state_name,
    reconcile_export,
)
from lorastudio.runs.layout import EXPORT_LOG, MERGED_DIR
from lorastudio.runs.metrics import tail_text
from ui.locale import t
from ui.messages import reason_text

POLL_SECONDS = 0.5  # how often a page following a live export reads its files
KEEPALIVE_SECONDS = 10.0  # a quiet follow still answers this often, so a closed page ends it
LOG_LINES = 200  # export log lines kept on screen (all of them are in export.log)


def _clock(seconds: float | None) -> str:
    seconds = int(seconds or 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def summary(run_dir: Path, status: ExportStatus, lang: str) -> str:
    """The export's state as one Markdown line ("" for a run never exported)."""
    state = export_state_name(status.state).text(lang)
    if status.state is ExportState.NONE:
        return ""
    if status.live:
        phase = export_phase(run_dir)
        return t(
            "chat.export_live",
            lang,
            run=run_dir.name,
            path=run_dir / MERGED_DIR,
            state=state,
            number=phase.number,
            total=len(ExportPhase),
            phase=t(f"export.phase.{phase.value}", lang),
            elapsed=_clock(status.seconds),
        )
    if status.state is ExportState.SUCCEEDED:
        return t(
            "chat.exported",
            lang,
            path=run_dir / MERGED_DIR,
            files=len(status.files or []),
            seconds=f"{status.seconds or 0:.0f}",
        )
    reason = reason_text(status.reason or status.damaged, lang)
    return t("chat.export_ended", lang, run=run_dir.name, state=state, reason=html.escape(reason))


def log_text(run_dir: Path) -> str:
    """The end of export.log as a terminal shows it."""
    return "\n".join(tail_text(run_dir / EXPORT_LOG).split("\n")[-LOG_LINES:])


@dataclass
class ExportWatch:
    """One page's following of an export, kept in a gr.State and changed in place: a newer
    follow (another run picked, Merge clicked again) ends the older one, and a language switch
    is followed from the next read on."""

    generation: int = 0
    lang: str | None = None


def shown(run_dir: Path | None, lang: str) -> tuple[ExportStatus, dict[str, object]]:
    """The export's status and what the page shows of it: the state line, the log, and whether
    Merge (not while it runs) and Stop (only while it runs) can be clicked."""
    if run_dir is None:
        status = ExportStatus()
        return status, {"result": "", "log": "", "merge": True, "stop": False}
    status = reconcile_export(run_dir)
    return status, {
        "result": summary(run_dir, status, lang),
        "log": log_text(run_dir) if status.state is not ExportState.NONE else "",
        "merge": not status.live,
        "stop": status.live,
    }


async def follow(
    watch: ExportWatch,
    run_dir: Path | None,
    lang: str,
    render: Callable[[dict[str, object]], dict],
) -> AsyncIterator[dict]:
    """Show the export of ``run_dir`` until it ends: its files read every POLL_SECONDS and
    only what changed sent (through ``render``). It ends when the export does, when a newer
    follow of the page begins, or when the page has gone (gradio ends it at the next
    keepalive)."""
    watch.generation += 1
    watch.lang = lang
    mine = watch.generation
    sent: dict[str, object] = {}
    spoke_at = time.monotonic()
    while watch.generation == mine:
        status, now = await anyio.to_thread.run_sync(shown, run_dir, watch.lang or lang)
        changed = {key: value for key, value in now.items() if sent.get(key) != value}
        if changed:
            sent |= changed
            yield render(changed)
            spoke_at = time.monotonic()
        if not status.live:
            return
        if time.monotonic() - spoke_at >= KEEPALIVE_SECONDS:
            yield gr.skip()
            spoke_at = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
