"""The Runs tab's list and actions and the Train tab's recipe picker, without a browser: each row
says why a run ended and on which model; a resumed run's duration counts every attempt; Resume is
offered only with a checkpoint; a run's recipe goes into the editor with the picker naming it; a
recipe is saved into the studio's recipes folder, never over another one."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import gradio as gr
import pytest
from conftest import LF_DATA, tiny_recipe

from lorastudio.errors import RecipeError
from lorastudio.machine.hardware import Hardware
from lorastudio.messages import msg
from lorastudio.recipe.text import save_recipe_text
from lorastudio.runs.layout import create_run_dir
from lorastudio.runs.status import update_status
from lorastudio.workspace import Workspace
from ui import recipe_source, runs_tab, runs_view, train_tab
from ui.config import StudioConfig
from ui.labels import Labels


class Tabs:
    """The Train and Runs tabs built and wired in a Blocks, over a studio folder of their own."""

    def __init__(self, home: Path):
        shipped = home / "shipped"
        shipped.mkdir()
        (shipped / "cpu-smoke.yaml").write_text(tiny_recipe(home / "model", name="cpu-smoke"))
        self.config = StudioConfig(
            Workspace(home, LF_DATA, home / "adapters"),
            (shipped, home / "recipes"),
            Hardware((), (), 2),
            "en",
            home / "downloads",
        )
        labels = Labels("en")
        with gr.Blocks():
            lang = gr.State("en")
            with gr.Tabs() as self.tabs:
                with gr.Tab("Train", id="train"):
                    train = train_tab.build(self.config, labels)
                with gr.Tab("Runs", id="runs"):
                    runs = runs_tab.build(self.config, labels)
            self.train = train_tab.wire(train, self.config, lang)
            self.runs = runs_tab.wire(runs, self.config, lang, self.train, self.tabs)

    def run(self, name: str, state: str, **status) -> Path:
        """A finished run folder: its recipe, status and a two-step trainer log."""
        run_dir = create_run_dir(self.config.workspace.adapters_dir, name)
        (run_dir / "recipe.yaml").write_text(tiny_recipe(Path("/models/tiny-qwen2"), name=name))
        now = time.time()
        fields = {"created_at": now - 100, "started_at": now - 100, "ended_at": now - 40}
        update_status(run_dir, state=state, **(fields | status))
        lines = [{"current_steps": s, "total_steps": 30, "loss": 1.0 / s} for s in (1, 2)]
        (run_dir / "trainer_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        return run_dir


@pytest.fixture
def tabs(tmp_path: Path) -> Tabs:
    return Tabs(tmp_path)


def row_of(tabs: Tabs, run_id: str) -> dict[str, str]:
    table = tabs.runs.listing("en")[tabs.runs.tab.table]
    rows = [dict(zip(table.columns, values, strict=True)) for values in table.values.tolist()]
    return next(r for r in rows if r["Run"] == run_id)


def test_a_failed_runs_reason_and_model_are_in_its_row(tabs: Tabs):
    oom = msg("failure.out_of_memory")
    run_dir = tabs.run("oom", "failed", reason=oom)
    row = row_of(tabs, run_dir.name)
    assert row["Status"] == "failed" and row["Model"] == "tiny-qwen2"
    assert row["Why it ended"].startswith("the accelerator ran out of memory")
    table = tabs.runs.listing("zh")[tabs.runs.tab.table]
    assert "加速卡显存不足" in str(table.values.tolist()) and "结束原因" in table.columns


def test_a_resumed_runs_duration_counts_its_earlier_attempt_and_it_started_first(tabs: Tabs):
    created = time.time() - 3600
    run_dir = tabs.run("resumed", "succeeded", attempt=2, created_at=created)
    first = [{"current_steps": s, "total_steps": 4, "elapsed_time": f"0:05:0{s}"} for s in (1, 2)]
    second = [{"current_steps": s, "total_steps": 4, "elapsed_time": "0:00:30"} for s in (3, 4)]
    lines = [json.dumps(x) + "\n" for x in first + second]
    (run_dir / "trainer_log.jsonl").write_text("".join(lines))
    row = row_of(tabs, run_dir.name)
    assert row["Duration"] == "0:06:02"  # 302 s before the resume, then 60 s
    assert row["Started"] == time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created))


def test_resume_is_offered_only_for_a_stopped_or_failed_run_with_a_checkpoint(tabs: Tabs):
    bare = tabs.run("bare", "failed")
    kept = tabs.run("kept", "stopped")
    (kept / "checkpoint-10").mkdir()
    done = tabs.run("done", "succeeded")
    (done / "checkpoint-10").mkdir()
    act = tabs.runs
    assert act.listing("en", bare.name)[act.tab.resume]["interactive"] is False
    assert act.listing("en", kept.name)[act.tab.resume]["interactive"] is True
    assert act.listing("en", done.name)[act.tab.resume]["interactive"] is False
    opened = act.listing("en", bare.name)
    assert opened[act.tab.again]["interactive"] and opened[act.tab.clone]["interactive"]


def test_edit_a_copy_puts_the_runs_exact_recipe_in_the_editor_and_the_picker_names_it(
    tabs: Tabs,
):
    run_dir = tabs.run("tuned", "succeeded")
    out = tabs.runs.clone("en", run_dir.name)
    train = tabs.train.tab
    assert out[train.yaml] == (run_dir / "recipe.yaml").read_text()
    assert out[train.picker]["value"] == f"run:{run_dir.name}"
    entry = (f"adapters/{run_dir.name}/recipe.yaml", f"run:{run_dir.name}")
    assert entry in out[train.picker]["choices"]
    assert out[tabs.tabs]["selected"] == "train"
    again = tabs.train.pick("en", f"run:{run_dir.name}")  # picked again from the list
    assert again[train.yaml] == out[train.yaml]


def test_a_reopened_page_shows_the_last_runs_recipe_and_names_it(tabs: Tabs):
    assert tabs.train.load("en")[tabs.train.tab.picker] is not None  # no run: the first file
    tabs.run("a-older", "succeeded")  # folders of one second sort by name
    newest = tabs.run("b-newest", "stopped")
    out = tabs.train.load("en")
    assert out[tabs.train.tab.picker]["value"] == f"run:{newest.name}"
    assert "name: b-newest" in out[tabs.train.tab.yaml]


def test_an_uploaded_recipe_is_named_in_the_picker(tabs: Tabs, tmp_path: Path):
    upload = tmp_path / "mine.yaml"
    upload.write_text(tiny_recipe(tmp_path / "model", name="mine"))
    out = tabs.train.upload("en", str(upload))
    assert out[tabs.train.tab.picker]["value"] == str(upload)
    assert ("↑ mine.yaml", str(upload)) in out[tabs.train.tab.picker]["choices"]


def test_save_recipe_writes_the_editors_text_into_the_studio_recipes_folder(tabs: Tabs):
    text = "# my tuning\n" + tiny_recipe(Path("/models/tiny"), name="mine")
    out = tabs.train.save("en", text, "")
    saved = tabs.config.saved_recipes_dir / "mine.yaml"
    assert saved.read_text() == text  # as written, its comment kept
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o644
    assert out[tabs.train.tab.picker]["value"] == str(saved)
    assert ("mine.yaml", str(saved)) in out[tabs.train.tab.picker]["choices"]
    assert "Saved as" in out[tabs.train.tab.message]


def test_saving_over_a_recipe_is_refused_with_a_free_name_and_changes_nothing(tabs: Tabs):
    text = tiny_recipe(Path("/models/tiny"), name="mine")
    tabs.train.save("en", text, "mine.yaml")
    with pytest.raises(RecipeError) as refused:
        recipe_source.save(tabs.config, text.replace("rank: 8", "rank: 16"), "mine")
    (problem,) = refused.value.problems
    assert "exists already; nothing was overwritten" in problem.message.text("en")
    assert "mine-2.yaml" in problem.fix.text("en") and "已有同名配方" in problem.message.text("zh")
    assert "rank: 8" in (tabs.config.saved_recipes_dir / "mine.yaml").read_text()
    with pytest.raises(RecipeError):  # a shipped recipe's name would be hidden by it
        recipe_source.save(tabs.config, text, "cpu-smoke.yaml")


@pytest.mark.parametrize("name", ["../escape.yaml", "sub/dir.yaml", ".hidden.yaml", " "])
def test_a_save_name_that_is_not_a_plain_file_name_is_refused(tmp_path: Path, name: str):
    text = tiny_recipe(tmp_path, name="mine")
    with pytest.raises(RecipeError) as refused:
        save_recipe_text(text, tmp_path / "recipes", name)
    assert refused.value.problems[0].fix.key == "fix.save_name"
    assert not (tmp_path / "recipes").exists()


def test_text_that_is_not_a_recipe_is_not_saved(tmp_path: Path):
    with pytest.raises(RecipeError):
        save_recipe_text("schema_version: 1\nname: x\nlora: {rnak: 3}\n", tmp_path, "x.yaml")
    assert not (tmp_path / "x.yaml").exists()


def test_the_run_list_headers_and_rows_line_up(tabs: Tabs):
    run_dir = tabs.run("plain", "succeeded")
    table = runs_view.table([], "en")
    assert list(table.columns)[:3] == ["Run", "Status", "Model"]
    assert row_of(tabs, run_dir.name)["Why it ended"] == ""
