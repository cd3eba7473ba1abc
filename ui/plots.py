"""Loss curves as gr.LinePlot values. Gradio 5's plot fixes its colour scale to the series it
was first drawn with and only swaps the data afterwards, so an update that brings a new series
(eval joining train, another run) also sends a colour map, which makes it redraw the chart."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from lorastudio.runs.metrics import LogPoint
from lorastudio.runs.monitor import loss_series
from ui.labels import Labels
from ui.locale import t

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2")

Rows = list[tuple[str, int, float]]  # (curve name, step, loss)


def line_plot(labels: Labels, label: str, elem_id: str) -> gr.LinePlot:
    """An empty loss plot (step against loss, one line per curve), labelled in the locale.
    Its height is left to gradio: a fixed one leaves no room for the legend under a label."""
    texts = {"label": label, "x_title": "plot.step"}
    return labels.make(
        gr.LinePlot,
        texts,
        value=None,  # an empty frame would fix the colour scale to no series at all
        x="step",
        y="loss",
        color="curve",
        y_title=" ",  # the plot's label ("Loss curve") names the axis
        color_title=" ",  # a legend title would push the legend's entries out of the frame
        elem_id=elem_id,
    )


def run_rows(points: list[LogPoint], lang: str, prefix: str = "") -> Rows:
    """A run's train and eval loss as plot rows, curve names in ``lang``."""
    return [
        (f"{prefix}{t(f'series.{series}', lang)}", step, loss)
        for series, step, loss in loss_series(points)
    ]


def lr_rows(points: list[LogPoint], lang: str) -> Rows:
    """A run's learning rate at each logged step, as plot rows."""
    name = t("series.lr", lang)
    return [(name, p.step, float(p.lr)) for p in points if p.lr is not None]


def frame(rows: Rows) -> pd.DataFrame:
    """Rows as the DataFrame gr.LinePlot takes, with numeric step and loss columns."""
    data = pd.DataFrame(rows, columns=["curve", "step", "loss"])
    return data.astype({"curve": "string", "step": "int64", "loss": "float64"})


def update(rows: Rows, drawn: list[str] | None = None) -> Any:
    """The plot update for ``rows``. ``drawn`` lists the curves the chart already has (updated
    in place); when the curves differ, or it is None, the chart is redrawn with new colours."""
    names = list(dict.fromkeys(name for name, _, _ in rows))
    value = frame(rows) if rows else None
    if drawn is not None and drawn == names:
        return gr.update(value=value)
    if drawn is not None:
        drawn[:] = names
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    return gr.update(value=value, color_map=colours)
