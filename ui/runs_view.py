"""Runs as tables for the Runs tab: the queue in its order, the run list (status — a queued run's
with its place in line —, model, recipe, started, duration, steps, final loss, why it ended,
adapter folder) and two recipes' differences, with headers in the user's language."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import pandas as pd

from lorastudio.messages import say
from lorastudio.runs.index import RunInfo
from lorastudio.runs.queue import Waiting, ordinal
from lorastudio.runs.status import state_name
from ui.locale import t

COLUMNS = (
    "id",
    "state",
    "model",
    "recipe",
    "started",
    "duration",
    "steps",
    "loss",
    "reason",
    "adapter",
)

WRAPPED = ("reason", "adapter")  # long text; every other column keeps its words whole
# each column's share of the table, so that "succeeded" or "200/200" is never cut in two
WIDTHS = {"id": 13, "state": 8, "model": 9, "recipe": 7, "started": 10, "duration": 7}
WIDTHS |= {"steps": 6, "loss": 8, "reason": 19, "adapter": 13}


def column_widths() -> list[str]:
    return [f"{WIDTHS[column]}%" for column in COLUMNS]


def table_css(elem_id: str) -> str:
    """CSS that keeps each short cell of the run list on one line (a narrow column broke
    "succeeded" and "200/200" in two) and lets the long ones wrap anywhere."""
    rules = []
    for number, column in enumerate(COLUMNS, start=1):
        cell = f"#{elem_id} td:nth-child({number})"
        style = (
            "overflow-wrap: anywhere"
            if column in WRAPPED
            else "overflow-wrap: normal !important; word-break: keep-all"
        )
        rules.append(f"{cell}, {cell} * {{ {style} !important; }}")
    return "\n".join(rules)


@dataclass(frozen=True)
class RunExtras:
    """What a row shows beyond the run index: the base model (from the run's recipe), for a
    resumed run the time its attempts before the last one trained, for a queued run its place
    in line."""

    model: str = ""
    earlier_seconds: float = 0.0
    place: int | None = None


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _started(info: RunInfo) -> str:
    """When the run was first started (a resume keeps it)."""
    moment = info.created_at or info.started_at
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "–"


def model_name(model_id: str) -> str:
    """A model as the table shows it: a hub id as it is, a local folder by its name."""
    if model_id.startswith(("/", ".", "~")):
        return PurePath(model_id).name or model_id
    return model_id


def row(info: RunInfo, lang: str, extras: RunExtras | None = None) -> list[str]:
    """One run's row; its duration counts every attempt of a resumed run."""
    extras = extras or RunExtras()
    duration = info.duration
    if duration is not None:
        duration += extras.earlier_seconds
    reason = info.reason_message
    state = state_name(info.state).text(lang)
    if extras.place is not None:
        state = t("runs.state_queued", lang, state=state, nth=say(ordinal(extras.place), lang))
    return [
        info.id,
        state,
        model_name(extras.model) or "–",
        info.name,
        _started(info),
        _duration(duration),
        f"{info.step}/{info.total_steps}" if info.total_steps else "–",
        f"{info.final_loss:.4f}" if info.final_loss is not None else "–",
        reason.text(lang) if reason is not None else (info.reason or ""),
        info.adapter or "–",
    ]


def table(
    infos: list[RunInfo], lang: str, extras: dict[str, RunExtras] | None = None
) -> pd.DataFrame:
    """The run list, newest first, with localized headers (empty: a one-line note)."""
    headers = [t(f"runs.col.{column}", lang) for column in COLUMNS]
    extras = extras or {}
    return pd.DataFrame([row(info, lang, extras.get(info.id)) for info in infos], columns=headers)


def queue_text(waiting: list[Waiting], places: dict[str, int], lang: str) -> str:
    """The queue as Markdown, first in line first: each run's place in line for its devices,
    its id, the devices and when it was queued ("" when no run waits)."""
    if not waiting:
        return ""
    rows = []
    for entry in waiting:
        when = entry.queued_at
        shown = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "–"
        nth = say(ordinal(places.get(entry.run_dir.name, 0)), lang)
        devices = say(entry.claim.describe(), lang)
        row = t(
            "runs.queue_row", lang, nth=nth, run=entry.run_dir.name, devices=devices, when=shown
        )
        rows.append(f"1. {row}")
    return "\n".join([f"**{t('runs.queue', lang)}**", "", *rows])


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def empty_diff(lang: str) -> pd.DataFrame:
    """The diff table before two runs are picked: its headers only."""
    return pd.DataFrame([], columns=[t("runs.col.field", lang), "A", "B"])


def diff_table(diffs: list[tuple[str, Any, Any]], a: str, b: str, lang: str) -> pd.DataFrame:
    """Fields whose values differ, side by side (run A, run B)."""
    headers = [t("runs.col.field", lang), f"A: {a}", f"B: {b}"]
    if not diffs:
        return pd.DataFrame([[t("runs.same", lang), "", ""]], columns=headers)
    return pd.DataFrame([[f, _shown(x), _shown(y)] for f, x, y in diffs], columns=headers)
