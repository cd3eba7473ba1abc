"""The studio's recipe form is generated from the recipe schema: one widget per field, with the
schema's default, range, choices and help, and values that go into a recipe and back unchanged."""

from __future__ import annotations

import gradio as gr
import pytest

from lorastudio.recipe.schema import recipe_fields
from ui import recipe_form
from ui.fields import HIDDEN, form_fields, from_widget, to_widget
from ui.labels import Labels
from ui.locale import field_label

SPECS = {spec.path: spec for spec in form_fields()}


def test_every_schema_field_but_the_version_gets_a_form_field_in_schema_order():
    schema = [f.path for f in recipe_fields() if f.path not in HIDDEN]
    assert list(SPECS) == schema
    assert "schema_version" not in SPECS


def test_ranges_choices_and_defaults_come_from_the_schema():
    rank = SPECS["lora.rank"]
    assert (rank.kind, rank.default, rank.low, rank.high) == ("int", 8, 1, 1024)
    assert rank.range_text() == "1 ≤ x ≤ 1024"
    assert SPECS["lora.dropout"].range_text() == "0 ≤ x < 1"
    assert SPECS["train.learning_rate"].range_text() == "0 < x ≤ 1"
    assert SPECS["train.warmup_steps"].range_text() == "x ≥ 0"
    assert SPECS["model.template"].range_text() == ""
    assert SPECS["train.scheduler"].choices[:2] == ("linear", "cosine")
    assert SPECS["lora.quantization"].choices == ("none", 4, 8)
    assert SPECS["data.max_samples"].nullable and not SPECS["lora.rank"].nullable
    assert SPECS["model.id"].required and SPECS["hardware.nodes.count"].section == "hardware.nodes"


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("lora.rank", 16, 16),
        ("lora.quantization", 4, "4"),
        ("lora.quantization", "none", "none"),
        ("lora.target", "all", "all"),
        ("lora.target", ["q_proj", "v_proj"], "q_proj, v_proj"),
        ("data.datasets", ["identity", "alpaca_zh_demo"], "identity, alpaca_zh_demo"),
        ("hardware.devices", [0, 1], "0, 1"),
        ("hardware.devices", None, ""),
        ("data.max_samples", None, None),
        ("model.trust_remote_code", True, True),
        ("extra", {"gradient_checkpointing": True}, "gradient_checkpointing: true"),
        ("extra", {}, ""),
        (
            "eval.prompts",
            ["Who are you?", "Hello, what can you do?"],
            "Who are you?\nHello, what can you do?",
        ),
        ("eval.prompts", [], ""),
    ],
)
def test_a_value_goes_into_its_widget_and_back_unchanged(path, value, shown):
    spec = SPECS[path]
    assert to_widget(spec, value) == shown
    assert from_widget(spec, shown) == value


def test_a_value_of_the_wrong_type_shows_as_empty_and_bad_input_reaches_validation():
    assert to_widget(SPECS["lora.rank"], "eight") is None
    assert from_widget(SPECS["hardware.devices"], "0, x") == [0, "x"]  # pydantic names it
    with pytest.raises(ValueError):
        from_widget(SPECS["extra"], "- not\n- a mapping")


def test_the_built_form_shows_schema_defaults_help_and_range_in_either_language():
    with gr.Blocks():
        labels = Labels("en")
        form = recipe_form.build(labels)
    widgets = {f.spec.path: f.widget for f in form.fields}
    assert len(widgets) == len(SPECS)
    rank = widgets["lora.rank"]
    assert isinstance(rank, gr.Number) and rank.value == 8 and rank.label == "Rank"
    assert "higher learns more" in rank.info and "1 ≤ x ≤ 1024" in rank.info
    assert isinstance(widgets["train.scheduler"], gr.Dropdown)
    assert widgets["train.scheduler"].value == "cosine"
    assert isinstance(widgets["model.trust_remote_code"], gr.Checkbox)
    assert set(form.section_errors) == {s.section for s in SPECS.values()}
    chinese = labels.updates("zh")[rank]
    assert chinese["label"] == field_label("lora.rank", "zh") == "秩"
    assert "范围：1 ≤ x ≤ 1024" in chinese["info"]
