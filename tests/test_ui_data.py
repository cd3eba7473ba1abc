"""The Data tab's callbacks, called as gradio calls them, beside a real Train tab: an upload
shows its recognised layout and mapping, a mapping the rows do not fit is said beside the upload
before anything renders, a broken file is refused in the page's language with nothing
registered, an added dataset goes into the recipe as name@hash with its cutoff and validation
split, and a dataset a live run uses is not deleted."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pytest
from conftest import tiny_recipe
from data_files import write_csv
from test_data_registry import live_run

from lorastudio.machine.hardware import Hardware
from lorastudio.workspace import Workspace
from ui import data_tab, data_view, train_tab
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import TEXT


class Tabs:
    """The Train and Data tabs built and wired in one Blocks."""

    def __init__(self, tmp_path: Path, model: Path):
        recipes = tmp_path / "recipes"
        recipes.mkdir()
        (recipes / "tiny.yaml").write_text(tiny_recipe(model))
        ws = Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")
        self.config = StudioConfig(ws, (recipes,), Hardware((), (), 2), "en", tmp_path / "dl")
        with gr.Blocks():
            lang = gr.State("en")
            with gr.Tab("Train"):
                train = train_tab.build(self.config, Labels("en"))
            with gr.Tab("Data") as item:
                self.tab = data_tab.build(self.config, Labels("en"))
            self.train = train_tab.wire(train, self.config, lang)
            self.act = data_tab.wire(self.tab, self.config, lang, self.train, item)
        self.recipe = tiny_recipe(model)

    def form(self, out: dict) -> list:
        """The mapping form's values as an upload left them (layout first)."""
        values = [out[self.tab.fmt]["value"]]
        return values + [out[w]["value"] for w in self.tab.fields.values()]


@pytest.fixture
def tabs(tmp_path: Path, tiny_model: Path) -> Tabs:
    return Tabs(tmp_path, tiny_model)


def test_an_upload_shows_its_layout_and_the_proposed_mapping(tabs, tmp_path):
    out = tabs.act.uploaded("en", str(write_csv(tmp_path / "faq.csv")), tabs.recipe)
    tab = tabs.tab
    assert out[tab.fmt]["value"] == "alpaca"
    assert out[tab.fields["prompt"]]["value"] == "question"
    assert out[tab.fields["response"]]["value"] == "answer"
    system = out[tab.fields["system"]]
    assert system["value"] == "" and system["visible"] is True
    assert system["choices"] == ["", "question", "answer", "persona"]
    assert out[tab.fields["messages"]]["visible"] is False
    assert out[tab.name] == "faq" and out[tab.cutoff] == 128  # the recipe's data.cutoff_len
    assert "Recognised **alpaca** in faq.csv" in out[tab.recognised]


def test_a_mapping_the_rows_do_not_fit_is_said_beside_the_upload_before_rendering(tabs, tmp_path):
    path = str(write_csv(tmp_path / "faq.csv"))
    form = tabs.form(tabs.act.uploaded("en", path, tabs.recipe))
    form[0] = "openai"
    form[1 + list(tabs.tab.fields).index("messages")] = "messages"
    out = tabs.act.render("en", path, 128, tabs.recipe, *form)
    assert (
        "row 1 (line 2) has no messages (it has: question, answer, persona)" in out[tabs.tab.error]
    )
    assert out[tabs.tab.rows] == ""


def test_a_broken_file_is_refused_in_chinese_beside_the_upload_and_nothing_is_registered(
    tabs, tmp_path
):
    path = tmp_path / "broken.jsonl"
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    path.write_text(json.dumps(good) + "\n{oops\n")
    form = tabs.form(tabs.act.uploaded("zh", str(path), tabs.recipe))
    out = tabs.act.add("zh", str(path), "broken", *form)
    assert "broken.jsonl 有 1 个问题，未添加任何内容" in out[tabs.tab.error]
    assert "第 2 行不是 JSON" in out[tabs.tab.error] and "修正：" in out[tabs.tab.error]
    assert tabs.config.workspace.dataset_registry() == {}


def test_an_added_dataset_goes_into_the_recipe_by_name_and_hash_with_cutoff_and_split(
    tabs, tmp_path
):
    path = str(write_csv(tmp_path / "faq.csv"))
    form = tabs.form(tabs.act.uploaded("en", path, tabs.recipe))
    form[1 + list(tabs.tab.fields).index("system")] = "persona"
    out = tabs.act.add("en", path, "faq", *form)
    ref = out[tabs.tab.added]
    assert ref.startswith("faq@") and f"Added **{ref}** (12 rows)" in out[tabs.tab.message]
    assert out[tabs.tab.table].iloc[0, 0] == ref
    registered = tabs.config.workspace.dataset_registry()["faq"]
    assert registered["columns"]["system"] == "persona"
    out = tabs.act.use("en", ref, 0.1, 64, tabs.recipe)
    recipe = out[tabs.train.tab.yaml]
    assert f"datasets: [{ref}]" in recipe and "val_size: 0.1" in recipe
    assert "cutoff_len: 64" in recipe
    assert out[tabs.tab.message] == f"The recipe in the Train tab now trains on {ref}."


def test_a_dataset_a_live_run_uses_is_not_deleted(tabs, tmp_path):
    path = str(write_csv(tmp_path / "faq.csv"))
    tabs.act.add("en", path, "faq", *tabs.form(tabs.act.uploaded("en", path, tabs.recipe)))
    run_dir = live_run(tabs.config.workspace, "busy", ["faq"])
    out = tabs.act.delete("en", "faq")
    assert f"is used by the live run {run_dir.name}" in out[tabs.tab.message]
    assert "faq" in tabs.config.workspace.dataset_registry()


def test_every_key_the_data_tab_builds_at_run_time_is_in_the_locale():
    for name in data_tab.FIELDS:
        assert f"datatab.map.{name}" in TEXT
    for column in data_view.LIST_COLUMNS:
        assert f"datatab.col.{column}" in TEXT


def test_a_preview_is_made_for_the_recipe_in_the_train_tab_or_for_defaults():
    settings = data_view.recipe_settings(
        "model: {id: /m, template: qwen3}\ndata: {cutoff_len: 256}\ntrain: {stage: pt}\n"
    )
    assert settings == data_view.Settings("/m", "qwen3", 256, "pt")
    assert data_view.recipe_settings("model: [unclosed") == data_view.DEFAULTS


def test_the_train_tab_warns_when_the_recipes_data_hash_is_not_the_files(tabs, tmp_path):
    from ui import editor

    path = str(write_csv(tmp_path / "faq.csv"))
    tabs.act.add("en", path, "faq", *tabs.form(tabs.act.uploaded("en", path, tabs.recipe)))
    text = tabs.recipe.replace("[identity]", "[faq@0123456789ab]")
    checked = editor.check(text, tabs.config)
    assert checked.command and not checked.problems
    out = tabs.train.render("en", checked, False)
    shown = out[tabs.train.tab.yaml_error]
    assert "names faq with hash 0123456789ab, but the file registered as faq has hash" in shown


@pytest.mark.parametrize(
    ("kind", "layout", "shown"),
    [
        ("alpaca_en", "alpaca", {"prompt": "instruction", "response": "output", "query": "input"}),
        ("identity", "alpaca", {"prompt": "instruction", "response": "output"}),
        (
            "sharegpt",
            "sharegpt",
            {"messages": "conversations", "role_tag": "from", "user_tag": "human"},
        ),
        (
            "openai",
            "openai",
            {"messages": "messages", "role_tag": "role", "assistant_tag": "assistant"},
        ),
        ("parquet", "alpaca", {"prompt": "instruction", "query": "input"}),
        ("text", "text", {"prompt": "text"}),
    ],
)
def test_every_layout_dropped_on_the_tab_shows_its_own_mapping(tabs, tmp_path, kind, layout, shown):
    from data_files import write_all

    path = write_all(tmp_path / "files")[kind]
    out = tabs.act.uploaded("en", str(path), tabs.recipe)
    assert out[tabs.tab.fmt]["value"] == layout
    for field, value in shown.items():
        assert (
            out[tabs.tab.fields[field]]["value"] == value and out[tabs.tab.fields[field]]["visible"]
        )
    hidden = set(data_tab.FIELDS) - data_view.shown_fields(layout)
    assert all(out[tabs.tab.fields[f]]["visible"] is False for f in hidden)
