"""Recipes name data by name and hash: `name@hash` is checked against the file on disk (a
different file is a warning naming both hashes, in validate, check and the studio), compiles to
the bare name, and a recipe bundle carries the recipe and its data to a teammate. A plain-text
dataset trains with `train.stage: pt`; a dataset a live run uses cannot be removed."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import time
from pathlib import Path

import psutil
import pytest
import yaml
from conftest import tiny_recipe
from data_files import write_openai, write_text

from lorastudio.checks.validation import check_recipe_text
from lorastudio.data import bundle, ingest, registry
from lorastudio.data.problems import DataError
from lorastudio.errors import RecipeError
from lorastudio.launch import launcher
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.runs.datasets import data_record, live_users, remove_dataset, run_data
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.status import update_status
from lorastudio.workspace import Workspace

MODEL = Path("/nonexistent-model")  # the recipe is only validated and compiled here


@pytest.fixture
def ws(tmp_path: Path, tiny_model: Path) -> Workspace:
    return Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")


@pytest.fixture
def chats(ws: Workspace, tmp_path: Path) -> registry.Dataset:
    return ingest.add_dataset(ws, write_openai(tmp_path / "chats.jsonl"), "chats").dataset


def recipe_text(model: Path, datasets: str, **train) -> str:
    return tiny_recipe(model, **train).replace("[identity]", datasets)


def test_a_recipe_names_data_by_name_and_hash_and_compiles_to_the_bare_name(
    ws, chats, tiny_model, tmp_path
):
    recipe = check_recipe_text(recipe_text(tiny_model, f"[{chats.ref}]"), ws)
    compiled = compile_recipe(
        recipe,
        target=Target("cpu"),
        run_dir=tmp_path / "run",
        workspace=ws,
        registry=ws.dataset_registry(),
    )
    assert compiled.args["dataset"] == "chats"
    assert compiled.dataset_info["chats"]["file_name"] == str(chats.path)
    assert compiled.dataset_info["chats"]["tags"]["role_tag"] == "role"
    assert registry.pin_warnings(recipe.data.datasets, ws) == []


def test_a_recipe_whose_data_changed_on_disk_is_warned_about_naming_both_hashes(
    ws, chats, tiny_model, tmp_path
):
    registry.unregister(ws, "chats")
    other = ingest.add_dataset(ws, write_openai(tmp_path / "b.jsonl", 5), "chats").dataset
    recipe = check_recipe_text(recipe_text(tiny_model, f"[{chats.ref}]"), ws)  # still valid
    (warning,) = registry.pin_warnings(recipe.data.datasets, ws)
    pinned, found = chats.sha256[:12], other.sha256[:12]
    assert warning.field == "data.datasets[0]"
    assert f"names chats with hash {pinned}, but the file registered as chats has hash {found}" in (
        warning.text("en")
    )
    assert f"配方指定的 chats 的哈希是 {pinned}，但注册为 chats 的文件哈希是 {found}" in (
        warning.text("zh")
    )
    assert f"write chats@{found} in the recipe" in warning.text("en")
    report = launcher.preflight(recipe, ws, Target("cpu"), ws.dataset_registry())
    assert warning in report.warnings and not report.problems


def test_validate_prints_the_hash_warning_and_still_passes(studio, tiny_model, tmp_path):
    path = write_openai(tmp_path / "c.jsonl")
    studio.data_dir = tmp_path / "data"
    studio.env["LORASTUDIO_DATA_DIR"] = str(studio.data_dir)
    added = studio.cli("data", "add", str(path), "--name", "chats")
    assert added.returncode == 0, added.stderr
    recipe = studio.write_recipe("r.yaml", recipe_text(tiny_model, "[chats@0123456789ab]"))
    result = studio.cli("validate", str(recipe))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning: data.datasets[0] = 'chats@0123456789ab'" in result.stdout
    assert "with hash 0123456789ab, but the file registered as chats has hash" in result.stdout


def test_a_reference_whose_hash_is_not_hex_is_a_problem(ws, chats, tiny_model):
    with pytest.raises(RecipeError) as caught:
        check_recipe_text(recipe_text(tiny_model, "[chats@latest]"), ws)
    (problem,) = caught.value.problems
    assert problem.field == "data.datasets[0]"
    assert "'chats@latest' is not a dataset name or name@hash" in problem.text("en")
    assert "不是数据集名称" in problem.text("zh")


def test_plain_text_trains_with_stage_pt_and_conversations_with_sft(ws, tiny_model, tmp_path):
    corpus = ingest.add_dataset(ws, write_text(tmp_path / "corpus.txt"), "corpus").dataset
    assert corpus.mapping.format == "text"
    with pytest.raises(RecipeError) as caught:
        check_recipe_text(recipe_text(tiny_model, "[corpus]"), ws)
    (problem,) = caught.value.problems
    assert "is plain text (for continued pre-training)" in problem.text("en")
    assert "set train.stage: pt" in problem.text("en") and "train.stage: pt" in problem.text("zh")
    recipe = check_recipe_text(recipe_text(tiny_model, "[corpus]", stage="pt"), ws)
    compiled = compile_recipe(
        recipe, target=Target("cpu"), run_dir=tmp_path, workspace=ws, registry=ws.dataset_registry()
    )
    assert compiled.args["stage"] == "pt"
    assert compiled.dataset_info["corpus"]["columns"] == {"prompt": "text"}
    ingest.add_dataset(ws, write_openai(tmp_path / "c.jsonl"), "chats")
    with pytest.raises(RecipeError) as caught:
        check_recipe_text(recipe_text(tiny_model, "[chats]", stage="pt"), ws)
    assert "is openai data, but train.stage pt trains on plain text only" in str(caught.value)


def test_stage_sft_leaves_a_recipes_hash_as_it_was():
    text = tiny_recipe(MODEL)
    before = parse_recipe_text(text).content_hash()
    assert parse_recipe_text(text.replace("train:\n", "train:\n  stage: sft\n")).content_hash() == (
        before
    )
    pt = parse_recipe_text(text.replace("train:\n", "train:\n  stage: pt\n")).content_hash()
    assert pt != before


def live_run(ws: Workspace, name: str, datasets: list[str]) -> Path:
    """A run folder that looks live (its 'supervisor' is this test process), training on
    ``datasets``."""
    run_dir = create_run_dir(ws.adapters_dir, name)
    (run_dir / "recipe.yaml").write_text(yaml.safe_dump({"data": {"datasets": datasets}}))
    (run_dir / "data.json").write_text(json.dumps([{"name": d} for d in datasets]))
    me = psutil.Process()
    update_status(
        run_dir,
        id=run_dir.name,
        name=name,
        state="running",
        created_at=time.time(),
        device="cpu",
        host=socket.gethostname(),
        supervisor_pid=me.pid,
        supervisor_create_time=me.create_time(),
    )
    return run_dir


def test_a_dataset_a_live_run_uses_cannot_be_removed_and_one_no_run_uses_can(ws, chats):
    run_dir = live_run(ws, "busy", ["chats"])
    assert live_users(ws, "chats") == [run_dir.name]
    with pytest.raises(DataError) as caught:
        remove_dataset(ws, "chats")
    assert f"dataset 'chats' is used by the live run {run_dir.name}" in caught.value.text("en")
    assert f"数据集 'chats' 正被运行中的 {run_dir.name} 使用" in caught.value.text("zh")
    assert chats.path.is_file() and "chats" in ws.dataset_registry()
    update_status(run_dir, state="succeeded")
    assert remove_dataset(ws, "chats").name == "chats"
    assert not chats.path.exists() and "chats" not in ws.dataset_registry()


def test_a_run_records_the_name_file_and_hash_of_the_data_it_trained_on(ws, chats, tiny_model):
    recipe = parse_recipe_text(recipe_text(tiny_model, "[chats]"))
    (entry,) = data_record(recipe, ws)
    assert entry["ref"] == chats.ref and entry["sha256"] == chats.sha256
    assert entry["file"] == str(chats.path) and entry["rows"] == 12 and entry["format"] == "openai"
    assert run_data(ws.adapters_dir / "no-such-run") == []


def test_a_recipe_bundle_carries_the_recipe_with_its_data_pinned_to_a_teammate(
    ws, chats, tiny_model, tmp_path
):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text("# my recipe\n" + recipe_text(tiny_model, "[chats]"))
    archive = bundle.export_recipe(ws, recipe, tmp_path / "mine.lsdata.tar")
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted(
            ["lorastudio-data.json", "recipe.yaml", f"data/{chats.sha256[:16]}.jsonl"]
        )
    teammate = Workspace(tmp_path / "mate", tmp_path / "mate" / "data", tmp_path / "mate" / "a")
    done = bundle.import_archive(teammate, archive)
    (added,) = done.added
    assert added.ref == chats.ref and added.path.read_bytes() == chats.path.read_bytes()
    text = done.recipe.read_text()
    assert text.startswith("# my recipe") and f"datasets: [{chats.ref}]" in text
    check_recipe_text(text, teammate)
    again = bundle.import_archive(teammate, archive)
    assert again.added == [] and again.present == ["chats"]


def test_an_archive_whose_file_was_altered_is_refused_and_adds_nothing(ws, chats, tmp_path):
    archive = bundle.export(ws, ["chats"], tmp_path / "chats.tar")
    forged = tmp_path / "forged.tar"
    with tarfile.open(archive) as source, tarfile.open(forged, "w") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.startswith("data/"):
                data = data.replace(b"Zephyr", b"Zorro!")
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    teammate = Workspace(tmp_path / "mate", tmp_path / "mate" / "data", tmp_path / "mate" / "a")
    with pytest.raises(DataError) as caught:
        bundle.import_archive(teammate, forged)
    assert "has hash" in caught.value.text("en") and chats.sha256[:12] in caught.value.text("en")
    assert teammate.dataset_registry() == {}
    with pytest.raises(DataError) as caught:
        bundle.import_archive(teammate, tmp_path / "chats.jsonl")
    assert "is not a LoRA Studio data archive" in caught.value.text("en")
