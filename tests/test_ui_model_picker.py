"""The Train tab's model picker, through its handlers: what each step offers (a family's sizes, a
size's variants, in either language), the hub id a choice writes into the recipe (as a form edit
does: the YAML follows, its comments kept), the estimate it shows — pre-flight's number against
this machine's cards or RAM, with the fix when it does not fit — how it follows a loaded recipe,
and the models of this machine's caches, read when the picker turns to them."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from conftest import LF_DATA, REPO, TOKENIZER

import lorastudio.checks.fit as fit
from lorastudio.checks.preflight import run_preflight
from lorastudio.launch.launcher import plan_target
from lorastudio.machine.hardware import Accelerator, Hardware
from lorastudio.models.memory import gib
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace
from ui import model_choice, model_picker, train_tab
from ui.config import StudioConfig
from ui.labels import Labels

SMOKE = (REPO / "recipes" / "cpu-smoke.yaml").read_text()  # Qwen/Qwen2.5-0.5B-Instruct, CPU
H100 = Hardware((Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 0),), (), 32)
LAPTOP = Hardware((), (), 8)


def config_for(tmp_path: Path, hardware: Hardware) -> StudioConfig:
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    return StudioConfig(workspace, (REPO / "recipes",), hardware, "en", tmp_path / "downloads")


@pytest.fixture
def ram_24_gib(monkeypatch):
    class Memory:
        available = 24 << 30

    monkeypatch.setattr(fit.psutil, "virtual_memory", lambda: Memory())


class Picker:
    """The Train tab built once, its actions and the picker's."""

    def __init__(self, config: StudioConfig):
        with gr.Blocks():
            self.tab = train_tab.build(config, Labels("en"))
        self.train = train_tab.TrainActions(self.tab, config)
        self.act = model_picker.PickerActions(self.tab.models, config, self.train.set_fields)
        self.view = self.tab.models

    def form_value(self, out: dict, path: str):
        widget = next(f.widget for f in self.tab.form.fields if f.spec.path == path)
        return out[widget]


@pytest.fixture
def picker(tmp_path, ram_24_gib) -> Picker:
    return Picker(config_for(tmp_path, LAPTOP))


def values(update) -> list:
    return [choice[1] if isinstance(choice, tuple) else choice for choice in update["choices"]]


def test_a_familys_sizes_come_smallest_first_and_a_sizes_variants_chat_models_first():
    assert model_choice.size_choices("qwen3") == [
        "0.6B", "1.7B", "4B", "8B", "14B", "30B-A3B", "32B", "235B-A22B"
    ]  # fmt: skip
    four_b = model_choice.variant_choices("qwen3", "4B", "en")
    assert [v for _, v in four_b] == ["hybrid", "instruct-2507", "thinking-2507", "base"]
    assert [v for _, v in model_choice.variant_choices("qwen3", "32B", "en")] == ["hybrid"]
    assert [name for name, _ in model_choice.family_choices()] == [
        "Qwen2.5",
        "Qwen2.5-Coder",
        "Qwen3",
    ]  # fmt: skip: families LoRA Studio does not train are not offered


def test_the_variants_are_said_in_english_and_chinese():
    said = dict(model_choice.variant_choices("qwen3", "8B", "zh"))
    assert said == {"指令（混合思考）": "hybrid", "基础": "base"}
    assert dict(model_choice.variant_choices("qwen2.5", "7B", "en")) == {
        "instruct": "instruct",
        "base": "base",
    }


def test_a_choice_writes_the_id_of_the_nearest_catalogued_model_on_its_hub():
    assert model_choice.chosen_id("qwen3", "8B", "hybrid", "modelscope") == "Qwen/Qwen3-8B"
    assert model_choice.chosen_id("qwen3", "4B", "base", "huggingface") == "Qwen/Qwen3-4B-Base"
    # a family without that size or variant: the closest size, its first variant
    assert model_choice.chosen_id("qwen2.5", "8B", "hybrid", None) == "Qwen/Qwen2.5-7B-Instruct"
    assert model_choice.chosen_id("qwen3", "72B", "instruct", None) == "Qwen/Qwen3-32B"
    assert model_choice.chosen_id("qwen3", None, None, None) == "Qwen/Qwen3-0.6B"


def test_picking_qwen3_8b_on_modelscope_writes_model_id_and_hub_keeping_the_comments(picker):
    out = picker.act.choose("en", "qwen3", "8B", "hybrid", "modelscope", SMOKE)
    text = out[picker.tab.yaml]
    assert "  id: Qwen/Qwen3-8B\n" in text and "hub: modelscope" in text
    assert "template: auto          # the model's own" in text  # the line's comment is kept
    assert text.replace("Qwen/Qwen3-8B", "Qwen/Qwen2.5-0.5B-Instruct").startswith(
        SMOKE.split("model:")[0]
    )  # the header comment too
    assert picker.form_value(out, "model.id") == "Qwen/Qwen3-8B"
    assert picker.form_value(out, "model.hub") == "modelscope"
    assert out[picker.view.size]["value"] == "8B" and out[picker.view.variant]["value"] == "hybrid"
    assert "**Qwen3-8B** · 8.19B parameters" in out[picker.view.estimate]


def test_the_estimate_is_pre_flights_number_against_the_tightest_card(tmp_path):
    config = config_for(tmp_path, H100)
    text = SMOKE.replace("device: cpu", "device: cuda")
    recipe = parse_recipe_text(text)
    report = run_preflight(
        recipe, config.workspace, plan_target(recipe, H100), H100, {}, probe=dict
    )
    said = model_choice.estimate_text(text, config, "en")
    assert (
        f"≈ {gib(report.memory.total)} for LoRA in bf16 (rank 8, batch 2, cutoff 256) · "
        "this machine: 79.6 GiB free on cuda 0 (NVIDIA H100 80GB HBM3) — **fits**"
    ) in said


def test_a_model_too_big_for_this_cpu_says_so_and_the_fix_in_either_language(tmp_path, ram_24_gib):
    config = config_for(tmp_path, LAPTOP)
    text = SMOKE.replace("Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-8B")
    english = model_choice.estimate_text(text, config, "en")
    assert "for LoRA in fp32" in english and "24.0 GiB RAM available — **does not fit**" in english
    assert "Fix: train it on a GPU or NPU machine, or pick a smaller model" in english
    chinese = model_choice.estimate_text(text, config, "zh")
    assert "本机：可用内存 24.0 GiB — **放不下**" in chinese and "修正：" in chinese
    for line in chinese.splitlines():
        assert any("\u4e00" <= c <= "\u9fff" for c in line), line


def test_a_gpu_recipe_on_a_machine_without_one_has_nothing_to_compare_with(tmp_path):
    text = SMOKE.replace("device: cpu", "device: cuda")
    said = model_choice.estimate_text(text, config_for(tmp_path, LAPTOP), "en")
    assert "per card for LoRA in bf16" in said and "this machine has no NVIDIA GPU" in said


def test_a_recipe_with_wrong_fields_gets_no_estimate_until_they_are_fixed(tmp_path):
    text = SMOKE.replace("rank: 8 ", "rank: 0 ")
    said = model_choice.estimate_text(text, config_for(tmp_path, LAPTOP), "en")
    assert said == "The memory estimate shows once the recipe's fields are valid."


def test_the_picker_follows_a_loaded_recipe_to_its_family_size_variant_and_hub(picker):
    text = SMOKE.replace("Qwen2.5-0.5B-Instruct", "Qwen2.5-7B").replace(
        "template: auto", "hub: modelscope\n  template: auto"
    )
    out = picker.act.follow("en", text, "local", None, None, None, None, None)
    view = picker.view
    assert out[view.source] == "catalogue" and out[view.hub] == "modelscope"
    assert out[view.family] == "qwen2.5"
    assert (out[view.size]["value"], out[view.variant]["value"]) == ("7B", "base")
    assert out[view.catalogue_row]["visible"] and not out[view.local_row]["visible"]


def test_a_recipe_naming_a_folder_turns_the_picker_to_this_machines_models(picker, tmp_path):
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text((TOKENIZER / "config.json").read_text())
    text = SMOKE.replace("Qwen/Qwen2.5-0.5B-Instruct", str(folder))
    out = picker.act.follow("en", text, "catalogue", None, None, None, None, None)
    assert out[picker.view.source] == "local" and out[picker.view.local] == str(folder)
    assert f"**{folder}** · 0.49B parameters" in out[picker.view.estimate]


def test_an_edit_of_another_field_leaves_the_picker_where_the_user_turned_it(picker):
    state = ("qwen2.5", "0.5B", "instruct", "huggingface", None)
    out = picker.act.follow("en", SMOKE.replace("rank: 8", "rank: 16"), "local", *state)
    assert picker.view.source not in out and picker.view.catalogue_row not in out
    assert "rank 16" in out[picker.view.estimate]


def test_the_caches_are_read_when_the_picker_turns_to_them(picker, tmp_path, monkeypatch):
    hf = tmp_path / "hf"
    snapshot = hf / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "7ae5576"
    monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    assert values(picker.act.turn("en", "local")[picker.view.local]) == []
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((TOKENIZER / "config.json").read_text())

    out = picker.act.turn("zh", "local")  # read again: the new model is there

    assert out[picker.view.local]["choices"] == [
        ("Qwen/Qwen2.5-0.5B-Instruct · Qwen2.5 · Hugging Face 缓存", str(snapshot))
    ]
    assert out[picker.view.local_row]["visible"] and not out[picker.view.catalogue_row]["visible"]
    chosen = picker.act.choose_local("en", str(snapshot), SMOKE)
    assert f"  id: {snapshot}\n" in chosen[picker.tab.yaml]
    assert "0.49B parameters" in chosen[picker.view.estimate]


def test_a_yaml_view_that_is_no_mapping_is_not_written_over(picker):
    out = picker.act.choose("en", "qwen3", "8B", "hybrid", "huggingface", "- a\n- b\n")
    assert picker.tab.yaml not in out
    assert out[picker.tab.message] == "Fix the YAML first; the form shows its last valid state."
    assert out[picker.view.family] == "qwen3" and out[picker.view.size]["value"] == "8B"  # kept
