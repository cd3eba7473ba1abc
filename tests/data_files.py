"""Data files in every layout the Data tab and `data add` take, written from LLaMA-Factory's own
demo records (the shared fixtures), so each test reads real text: ShareGPT and OpenAI-messages
JSON Lines, a CSV with its own column names, Parquet, and plain text for pre-training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from conftest import LF_DATA

NAME, AUTHOR = "Zephyr", "Lumen Labs"


def identity(count: int = 12) -> list[dict[str, str]]:
    """LLaMA-Factory's identity records, names filled in."""
    records = json.loads((LF_DATA / "identity.json").read_text(encoding="utf-8"))[:count]
    return [
        {k: v.replace("{{name}}", NAME).replace("{{author}}", AUTHOR) for k, v in r.items()}
        for r in records
    ]


def alpaca_zh(count: int = 12) -> list[dict[str, str]]:
    return json.loads((LF_DATA / "alpaca_zh_demo.json").read_text(encoding="utf-8"))[:count]


def write_sharegpt(path: Path, count: int = 12) -> Path:
    lines = [
        {
            "conversations": [
                {"from": "human", "value": r["instruction"]},
                {"from": "gpt", "value": r["output"]},
            ]
        }
        for r in identity(count)
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


def write_openai(path: Path, count: int = 12, system: str = "You are Zephyr.") -> Path:
    lines = [
        {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": r["instruction"]},
                {"role": "assistant", "content": r["output"]},
            ]
        }
        for r in identity(count)
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


def write_csv(path: Path, count: int = 12, persona: str = "You answer as Zephyr.") -> Path:
    """Columns a spreadsheet would have: question, answer, persona (LoRA Studio maps the first
    two by itself; persona, the system prompt, is the one a user maps)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "answer", "persona"])
        for r in identity(count):
            writer.writerow([r["instruction"], r["output"], persona])
    return path


def write_parquet(path: Path, count: int = 12) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = alpaca_zh(count)
    table = pa.table({k: [r[k] for r in records] for k in ("instruction", "input", "output")})
    pq.write_table(table, path)
    return path


def write_text(path: Path, count: int = 12) -> Path:
    """Plain text, one document a line (continued pre-training)."""
    lines = [r["output"].replace("\n", " ") for r in alpaca_zh(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_all(folder: Path) -> dict[str, Path]:
    """One file per layout beside the fixtures' own alpaca files, by the format each is."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "alpaca_en": LF_DATA / "alpaca_en_demo.json",
        "alpaca_zh": LF_DATA / "alpaca_zh_demo.json",
        "identity": LF_DATA / "identity.json",
        "sharegpt": write_sharegpt(folder / "chats_sharegpt.jsonl"),
        "openai": write_openai(folder / "chats_openai.jsonl"),
        "csv": write_csv(folder / "faq.csv"),
        "parquet": write_parquet(folder / "zh.parquet"),
        "text": write_text(folder / "corpus.txt"),
    }
