"""Every layout a user can add really trains: files added with `data add` (the fixtures' alpaca
EN/ZH and identity, ShareGPT, OpenAI messages, CSV and Parquet written by the tests) are trained
on by the tiny model on CPU through a recipe that names them as name@hash, and plain text
through a `train.stage: pt` recipe; the run records which data it used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Studio, tiny_recipe
from data_files import write_all

pytestmark = pytest.mark.slow


def add(studio: Studio, path: Path, name: str, *flags: str) -> str:
    result = studio.cli("data", "add", str(path), "--name", name, *flags)
    assert result.returncode == 0, result.stdout + result.stderr
    return re.search(r"^added (\S+): ", result.stdout, re.MULTILINE).group(1)


def train(studio: Studio, model: Path, refs: list[str], **settings) -> Path:
    text = tiny_recipe(model, max_steps=4, logging_steps=1, save_steps=100, **settings)
    text = text.replace("[identity]", "[" + ", ".join(refs) + "]")
    text = text.replace("max_samples: 64", "max_samples: 6")
    recipe = studio.write_recipe(f"r{len(studio.run_dirs())}.yaml", text)
    result = studio.cli("train", str(recipe), timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return studio.run_dirs()[-1]


def test_every_layout_trains_through_a_recipe_that_names_it(tmp_path: Path, tiny_model: Path):
    studio = Studio(tmp_path, tmp_path / "data")
    studio.env["LORASTUDIO_DATA_DIR"] = str(studio.data_dir)
    files = write_all(tmp_path / "files")
    refs = [
        add(studio, path, kind, *(["--map", "system=persona"] if kind == "csv" else []))
        for kind, path in files.items()
        if kind != "text"
    ]
    run_dir = train(studio, tiny_model, refs)
    log = (run_dir / "train.log").read_text(encoding="utf-8")
    registry = json.loads((studio.data_dir / "dataset_info.json").read_text())
    for ref in refs:  # LLaMA-Factory loaded each file and kept its examples
        file_name = registry[ref.split("@")[0]]["file_name"]
        assert f"Loading dataset {studio.data_dir / file_name}" in log, ref
    assert "Dropped invalid example" not in log and "Invalid role tag" not in log
    runs = json.loads(studio.cli("runs", "--json").stdout)
    assert [entry["ref"] for entry in runs[0]["data"]] == refs

    corpus = add(studio, files["text"], "corpus")
    run_dir = train(studio, tiny_model, [corpus], stage="pt")
    assert "stage: pt" in (run_dir / "llamafactory.yaml").read_text()
    assert "train metrics" in (run_dir / "train.log").read_text(encoding="utf-8")
    (used,) = json.loads((run_dir / "data.json").read_text())
    assert used["ref"] == corpus and used["format"] == "text"
