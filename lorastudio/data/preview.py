"""A dataset's preview: its first rows as the model will see them (rendered with the recipe's
chat template by LLaMA-Factory, in a child process: `lorastudio.data.render`), the trained part
marked, and every row's token count against `data.cutoff_len` — how many samples would be cut and
how many tokens lost — as numbers and a histogram. It needs the model's tokenizer on this
machine (a local folder, or the Hugging Face or ModelScope cache); without it the rows are shown
as turns."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorastudio import processes
from lorastudio.data import reader
from lorastudio.data.formats import Mapping
from lorastudio.data.problems import DataError
from lorastudio.messages import Msg, msg
from lorastudio.workspace import Workspace

SHOW_ROWS = 5
COUNT_ROWS = 20_000  # rows counted for the histogram; beyond, the first ones stand for all
TIMEOUT_S = 600.0
BINS = 12


@dataclass(frozen=True)
class Segment:
    """A run of text the model sees, trained on (the answer) or not (the prompt)."""

    text: str
    trained: bool


@dataclass(frozen=True)
class ShownRow:
    number: int
    segments: list[Segment]
    tokens: int | None = None  # before the cutoff
    kept: int | None = None  # after it


@dataclass(frozen=True)
class Preview:
    """What the preview shows: rows, whether they are rendered by the template (else turns),
    token lengths and what the cutoff does to them."""

    rows: list[ShownRow]
    rendered: bool
    cutoff: int
    template: str
    lengths: list[int] = field(default_factory=list)
    truncated: int = 0
    lost: int = 0
    dropped: int = 0
    counted_all: bool = True
    note: Msg | None = None

    def histogram(self, bins: int = BINS) -> list[tuple[int, int, int]]:
        """(low, high, samples): about ``bins`` even-width bins [low, high) over the lengths
        found, taking in the cutoff, with an edge just past it so a bin is wholly kept or
        wholly cut."""
        if not self.lengths:
            return []
        low = min(min(self.lengths), self.cutoff)
        top = max(max(self.lengths), self.cutoff) + 1
        width = max(1, -(-(top - low) // bins))
        edge = self.cutoff + 1  # lengths up to the cutoff are kept whole
        bottom = max(0, edge - width * -(-(edge - low) // width))
        count = -(-(top - bottom) // width)
        counts = [0] * count
        for length in self.lengths:
            counts[(length - bottom) // width] += 1
        return [(bottom + i * width, bottom + (i + 1) * width, counts[i]) for i in range(count)]

    def stats(self) -> dict[str, Any]:
        lengths = sorted(self.lengths)
        return {
            "samples": len(lengths),
            "tokens": sum(lengths),
            "mean": round(sum(lengths) / len(lengths), 1) if lengths else None,
            "max": lengths[-1] if lengths else None,
            "p95": lengths[int(0.95 * (len(lengths) - 1))] if lengths else None,
            "truncated": self.truncated,
            "lost": self.lost,
            "dropped": self.dropped,
            "cutoff": self.cutoff,
            "counted_all": self.counted_all,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "rendered": self.rendered,
            "template": self.template,
            "rows": [
                {
                    "number": r.number,
                    "tokens": r.tokens,
                    "kept": r.kept,
                    "segments": [[s.text, s.trained] for s in r.segments],
                }
                for r in self.rows
            ],
            "stats": self.stats(),
            "histogram": self.histogram(),
            "note": self.note.text() if self.note else None,
        }


def find_tokenizer(model_id: str, ws: Workspace) -> Path | None:
    """The folder that holds the model's tokenizer on this machine: the model's own folder, or
    its snapshot in the Hugging Face cache, or its folder in the ModelScope cache."""
    local = ws.resolve_model(model_id)
    candidates = [local] if local is not None else [*_hf_snapshots(model_id), *_ms_dirs(model_id)]
    return next((c for c in candidates if c and (c / "tokenizer.json").is_file()), None)


def _hf_snapshots(model_id: str) -> list[Path]:
    hf_home = Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")
    cache = Path(os.environ.get("HF_HUB_CACHE") or hf_home / "hub")
    snapshots = cache / f"models--{model_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return []
    return sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)


def _ms_dirs(model_id: str) -> list[Path]:
    default = Path.home() / ".cache" / "modelscope" / "hub"
    cache = Path(os.environ.get("MODELSCOPE_CACHE") or default)
    return [cache / "models" / model_id, cache / model_id]


def preview(
    file: Path,
    mapping: Mapping,
    ws: Workspace,
    *,
    model_id: str,
    template: str,
    cutoff: int,
    stage: str = "sft",
    trust_remote_code: bool = False,
) -> Preview:
    """The preview of ``file`` read under ``mapping`` for a model, template and cutoff.

    Raises:
        DataError: the file cannot be read (it is checked before it is added; this reads it).
    """
    if mapping.format == "text":
        stage = "pt"  # plain text trains only in continued pre-training (validation says so)
    tokenizer = find_tokenizer(model_id, ws)
    if tokenizer is None:
        return Preview(
            turn_rows(file, mapping),
            rendered=False,
            cutoff=cutoff,
            template=template,
            note=msg("data.no_tokenizer", model=model_id),
        )
    request = {
        "file": str(file),
        "entry": mapping.entry(str(file)),
        "tokenizer": str(tokenizer),
        "trust_remote_code": trust_remote_code,
        "template": template,
        "cutoff_len": cutoff,
        "stage": stage,
        "show": SHOW_ROWS,
        "count": COUNT_ROWS,
    }
    return _rendered(_ask_renderer(request), cutoff, template)


def _rendered(answer: dict[str, Any], cutoff: int, template: str) -> Preview:
    """The render child's answer as a Preview."""
    rows = [
        ShownRow(r["number"], [Segment(t, on) for t, on in r["segments"]], r["tokens"], r["kept"])
        for r in answer["rows"]
    ]
    counted = len(answer["lengths"]) + answer["dropped"]
    return Preview(
        rows,
        rendered=True,
        cutoff=cutoff,
        template=template,
        lengths=answer["lengths"],
        truncated=answer["truncated"],
        lost=answer["lost"],
        dropped=answer["dropped"],
        counted_all=counted < COUNT_ROWS,
    )


def _ask_renderer(request: dict[str, Any]) -> dict[str, Any]:
    """Run the render child process and read its answer (its last line)."""
    argv = processes.python_module("lorastudio.data.render")
    try:
        done = processes.run(argv, TIMEOUT_S, input=json.dumps(request))
    except OSError as exc:
        raise DataError.one(msg("data.render_failed", reason=exc)) from None
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if "rows" not in answer:
        reason = answer.get("error") or (done.stderr.strip().splitlines() or ["no answer"])[-1]
        raise DataError.one(msg("data.render_failed", reason=reason), msg("fix.tokenizer"))
    return answer


def turn_rows(file: Path, mapping: Mapping, count: int = SHOW_ROWS) -> list[ShownRow]:
    """The first rows as their turns (role: text), the answers marked as trained: what the
    preview shows when the template cannot be applied here."""
    shown = []
    for row in reader.rows(file):
        shown.append(ShownRow(row.number, _turns(row.value, mapping)))
        if len(shown) >= count:
            break
    return shown


def _turns(value: Any, mapping: Mapping) -> list[Segment]:
    columns, tags = mapping.columns, mapping.tags
    if isinstance(value, str) or mapping.format == "text":
        text = value if isinstance(value, str) else str(value.get(columns["prompt"], ""))
        return [Segment(text, True)]
    if mapping.format == "alpaca":
        parts = []
        if columns.get("system") and value.get(columns["system"]):
            parts.append(Segment(f"system: {value[columns['system']]}\n", False))
        ask = "\n".join(
            str(value[c]) for c in (columns["prompt"], columns.get("query")) if c and value.get(c)
        )
        parts.append(Segment(f"user: {ask}\nassistant: ", False))
        parts.append(Segment(f"{value.get(columns['response'], '')}\n", True))
        return parts
    answers = (tags.get("assistant_tag"), tags.get("function_tag"))
    parts = []
    for turn in value.get(columns["messages"]) or []:
        role = turn.get(tags["role_tag"], "?") if isinstance(turn, dict) else "?"
        content = turn.get(tags["content_tag"], "") if isinstance(turn, dict) else turn
        if role in answers:
            parts += [Segment(f"{role}: ", False), Segment(f"{content}\n", True)]
        else:
            parts.append(Segment(f"{role}: {content}\n", False))
    return parts


def report_text(view: Preview, lang: str = "en", width: int = 40) -> str:
    """The preview as text (the CLI's `data check`): rows with the trained part in [[ ]],
    the counts, and the histogram as bars with the cutoff marked."""
    lines = []
    if view.note is not None:
        lines.append(view.note.text(lang))
    for row in view.rows:
        head = msg("data.report_row", row=row.number, tokens=row.tokens or "–")
        lines.append(f"── {head.text(lang)}")
        lines.append("".join(f"[[{s.text}]]" if s.trained else s.text for s in row.segments))
    if view.lengths:
        lines.append(msg("data.report_counts", **view.stats()).text(lang))
        if not view.counted_all:
            lines.append(msg("data.report_first", count=COUNT_ROWS).text(lang))
        peak = max(count for _, _, count in view.histogram()) or 1
        for low, high, count in view.histogram():
            mark = msg("data.report_cutoff").text(lang) if low <= view.cutoff < high else ""
            bar = "█" * round(width * count / peak)
            lines.append(f"{low:>7}–{high:<7} {bar:<{width}} {count}{mark}")
    return "\n".join(lines)
