"""The preview's child process (`python -m lorastudio.data.render`, a JSON request on stdin, a
JSON answer on stdout): rows rendered exactly as the model will see them, by LLaMA-Factory's own
code — its dataset_info parser, its converter for the layout, its chat template and its dataset
processor for the stage — with the trained tokens marked, and every row's token count against
the cutoff. LLaMA-Factory, transformers and torch are imported here, never in the studio."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lorastudio.data import reader

IGNORE_INDEX = -100  # LLaMA-Factory's label for a token that is not trained
NO_CUTOFF = 10**9


def _example(value: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """A row as LLaMA-Factory's loader hands it to the converter: every mapped column present
    (None where the row lacks it), a plain text line under the text loader's one column."""
    if isinstance(value, str):
        return {"text": value}
    return {name: None for name in entry.get("columns", {}).values()} | value


class Renderer:
    """LLaMA-Factory's converter, template and processor, built once for a request."""

    def __init__(self, request: dict[str, Any]):
        from llamafactory.data.converter import get_dataset_converter
        from llamafactory.data.parser import get_dataset_list
        from llamafactory.data.processor import (
            PretrainDatasetProcessor,
            SupervisedDatasetProcessor,
        )
        from llamafactory.data.template import get_template_and_fix_tokenizer
        from llamafactory.hparams import DataArguments
        from transformers import AutoTokenizer

        self.entry = request["entry"]
        self.tokenizer = AutoTokenizer.from_pretrained(
            request["tokenizer"], trust_remote_code=request.get("trust_remote_code", False)
        )
        cut = DataArguments(template=request["template"], cutoff_len=request["cutoff_len"])
        full = DataArguments(template=request["template"], cutoff_len=NO_CUTOFF)
        self.template = get_template_and_fix_tokenizer(self.tokenizer, cut)
        (attr,) = get_dataset_list(["preview"], {"preview": self.entry})
        self.converter = get_dataset_converter(attr.formatting, attr, cut)
        kind = PretrainDatasetProcessor if request["stage"] == "pt" else SupervisedDatasetProcessor
        self.pretrain = request["stage"] == "pt"
        parts = {"template": self.template, "tokenizer": self.tokenizer, "processor": None}
        self.cut, self.full = kind(**parts, data_args=cut), kind(**parts, data_args=full)

    def encode(self, value: Any, truncated: bool) -> tuple[list[int], list[int]] | None:
        """input_ids and labels for one row (None: LLaMA-Factory would drop it)."""
        aligned = self.converter(_example(value, self.entry))
        processor = self.cut if truncated else self.full
        if self.pretrain:
            ids = processor.preprocess_dataset({"_prompt": [aligned["_prompt"]]})["input_ids"][0]
            return ids, list(ids)
        if len(aligned["_prompt"]) % 2 != 1 or len(aligned["_response"]) != 1:
            return None  # what LLaMA-Factory's supervised processor drops
        return processor._encode_data_example(
            prompt=aligned["_prompt"],
            response=aligned["_response"],
            system=aligned["_system"],
            tools=aligned["_tools"],
            images=[],
            videos=[],
            audios=[],
        )

    def segments(self, ids: list[int], labels: list[int]) -> list[tuple[str, bool]]:
        """The tokens as text, in runs of trained and untrained tokens."""
        runs: list[tuple[list[int], bool]] = []
        for token, label in zip(ids, labels, strict=True):
            trained = label != IGNORE_INDEX
            if runs and runs[-1][1] == trained:
                runs[-1][0].append(token)
            else:
                runs.append(([token], trained))
        return [(self.tokenizer.decode(run, skip_special_tokens=False), on) for run, on in runs]


def render(request: dict[str, Any]) -> dict[str, Any]:
    """Render the first ``show`` rows and count every row's tokens (at most ``count`` rows)."""
    renderer = Renderer(request)
    cutoff, shown, lengths = request["cutoff_len"], [], []
    truncated = lost = dropped = 0
    for row in reader.rows(Path(request["file"])):
        if row.number > request["count"]:
            break
        encoded = renderer.encode(row.value, truncated=False)
        if encoded is None:
            dropped += 1
            continue
        length = len(encoded[0])
        lengths.append(length)
        kept = encoded
        if length > cutoff:
            kept = renderer.encode(row.value, truncated=True) or ([], [])
            truncated += 1
            lost += length - len(kept[0])
        if len(shown) < request["show"]:
            shown.append(
                {
                    "number": row.number,
                    "tokens": length,
                    "kept": len(kept[0]),
                    "segments": renderer.segments(*kept),
                }
            )
    return {
        "rows": shown,
        "lengths": lengths,
        "truncated": truncated,
        "lost": lost,
        "dropped": dropped,
    }


def main() -> int:
    request = json.loads(sys.stdin.read())
    try:
        answer = render(request)
    except Exception as exc:  # reported to the parent as data, with its type
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write("\n" + json.dumps(answer, ensure_ascii=False))
    return 0 if "error" not in answer else 1


if __name__ == "__main__":
    sys.exit(main())
