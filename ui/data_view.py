"""The Data tab's views, without widgets: the registered datasets as a table, a preview's rows as
HTML with the trained part marked, its token counts as a sentence and a histogram frame, the
mapping form's fields for a layout, and the recipe settings a preview is made for."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lorastudio.data import ingest
from lorastudio.data.formats import COLUMNS, REQUIRED, TAGS, Mapping
from lorastudio.data.preview import Preview
from lorastudio.data.registry import Dataset
from lorastudio.recipe.loader import load_mapping
from ui.locale import t

LIST_COLUMNS = ("ref", "format", "rows", "size", "source", "added")
COLUMN_FIELDS = ("prompt", "query", "response", "system", "history", "messages", "tools")
TAG_FIELDS = ("role_tag", "content_tag", "user_tag", "assistant_tag", "system_tag")
KEPT, CUT = "kept", "cut"  # the histogram's two series


def table(datasets: list[Dataset], lang: str) -> pd.DataFrame:
    """The registered datasets, newest first, with headers in ``lang``."""
    rows = [
        [
            d.ref,
            d.mapping.format,
            "–" if d.rows is None else str(d.rows),
            "–" if d.size is None else ingest.human_size(d.size),
            d.source or (d.file_name or "–"),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(d.added)) if d.added else "–",
        ]
        for d in datasets
    ]
    return pd.DataFrame(rows, columns=[t(f"datatab.col.{c}", lang) for c in LIST_COLUMNS])


def shown_fields(fmt: str) -> set[str]:
    """The mapping form's fields that mean something for a layout."""
    fields = set(COLUMNS.get(fmt, ()))
    if fmt in ("sharegpt", "openai"):
        fields |= set(TAG_FIELDS)
    return fields


def mapping_from_form(fmt: str, values: dict[str, str | None]) -> Mapping:
    """The mapping the form shows (an empty column is unmapped)."""
    columns = {k: (values.get(k) or "").strip() for k in COLUMNS[fmt]}
    tags = {}
    if fmt in ("sharegpt", "openai"):
        tags = {k: (values.get(k) or "").strip() for k in TAGS}
        defaults = {"observation_tag": "tool" if fmt == "openai" else "observation"}
        tags |= {k: v for k, v in defaults.items() if not tags.get(k)}
        tags["function_tag"] = tags.get("function_tag") or "function_call"
    return Mapping(fmt, columns, tags)


def required_fields(fmt: str) -> set[str]:
    return set(REQUIRED.get(fmt, ()))


def rows_html(view: Preview, lang: str) -> str:
    """The preview's rows: the text the model sees, the trained part highlighted."""
    if not view.rows:
        return ""
    parts = ['<div class="ls-preview">']
    for row in view.rows:
        head = t("datatab.row", lang, row=row.number)
        if row.tokens is not None:
            head += " · " + t("datatab.row_tokens", lang, tokens=row.tokens, kept=row.kept)
        parts.append(f'<div class="ls-row" data-row="{row.number}"><div class="ls-row-head">')
        parts.append(f"{html.escape(head)}</div><pre>")
        for segment in row.segments:
            text = html.escape(segment.text)
            parts.append(f'<mark class="ls-trained">{text}</mark>' if segment.trained else text)
        parts.append("</pre></div>")
    parts.append("</div>")
    return "".join(parts)


def stats_text(view: Preview, lang: str) -> str:
    """The counts as a sentence: samples, tokens, what the cutoff cuts."""
    lines = []
    if view.note is not None:
        lines.append("ℹ️ " + view.note.text(lang))
    if view.lengths:
        lines.append(t("datatab.stats", lang, **view.stats()))
        if not view.counted_all:
            lines.append(t("datatab.counted_first", lang))
    return "\n\n".join(lines)


def histogram_frame(view: Preview, lang: str) -> tuple[pd.DataFrame | None, list[str]]:
    """The token-length histogram as BarPlot rows (bin, samples, within or beyond the cutoff),
    and the bins in order (the plot sorts by that list)."""
    bins = view.histogram()
    if not bins:
        return None, []
    rows, order = [], []
    for low, high, count in bins:
        label = f"{low}–{high - 1}"
        order.append(label)
        series = t("datatab.cut", lang) if low > view.cutoff else t("datatab.kept", lang)
        rows.append((label, count, series))
    frame = pd.DataFrame(rows, columns=["tokens", "samples", "series"])
    return frame.astype({"tokens": "string", "samples": "int64", "series": "string"}), order


@dataclass(frozen=True)
class Settings:
    """What a preview is rendered for, read from the Train tab's recipe (defaults where the
    recipe text does not say)."""

    model: str
    template: str
    cutoff: int
    stage: str
    trust_remote_code: bool = False


DEFAULTS = Settings("Qwen/Qwen2.5-0.5B-Instruct", "qwen", 1024, "sft")


def recipe_settings(text: str | None) -> Settings:
    """The model, template, cutoff and stage of recipe text (partial or broken text gives the
    defaults for what it lacks)."""
    raw = load_mapping(text or "") or {}

    def part(name: str) -> dict[str, Any]:
        value = raw.get(name)
        return value if isinstance(value, dict) else {}

    model, data, train = part("model"), part("data"), part("train")
    cutoff = data.get("cutoff_len")
    return Settings(
        model=str(model.get("id") or DEFAULTS.model),
        template=str(model.get("template") or DEFAULTS.template),
        cutoff=cutoff if isinstance(cutoff, int) and cutoff > 0 else DEFAULTS.cutoff,
        stage="pt" if train.get("stage") == "pt" else "sft",
        trust_remote_code=model.get("trust_remote_code") is True,
    )
