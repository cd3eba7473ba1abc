"""Runs as tables for the Runs tab: the run list (status, recipe, started, duration, steps, final
loss, adapter folder) and two recipes' differences, with headers in the user's language."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from lorastudio.runs.index import RunInfo
from lorastudio.runs.status import state_name
from ui.locale import t

COLUMNS = ("id", "state", "recipe", "started", "duration", "steps", "loss", "adapter")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _started(info: RunInfo) -> str:
    moment = info.started_at or info.created_at
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment)) if moment else "–"


def row(info: RunInfo, lang: str) -> list[str]:
    return [
        info.id,
        state_name(info.state).text(lang),
        info.name,
        _started(info),
        _duration(info.duration),
        f"{info.step}/{info.total_steps}" if info.total_steps else "–",
        f"{info.final_loss:.4f}" if info.final_loss is not None else "–",
        info.adapter or "–",
    ]


def table(infos: list[RunInfo], lang: str) -> pd.DataFrame:
    """The run list, newest first, with localized headers (empty: a one-line note)."""
    headers = [t(f"runs.col.{column}", lang) for column in COLUMNS]
    return pd.DataFrame([row(info, lang) for info in infos], columns=headers)


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
