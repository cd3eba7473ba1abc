"""A language switch relabels every registered component, and its updates combine with the
updates other callbacks send to the same components instead of replacing them."""

from __future__ import annotations

import gradio as gr

from ui.labels import Labels, merge_updates


def test_every_bound_text_is_updated_in_the_new_language():
    with gr.Blocks():
        labels = Labels("en")
        button = labels.make(gr.Button, {"value": "train.start"})
        box = labels.make(gr.Textbox, {"label": "train.yaml", "info": lambda lang: lang * 2})
    assert button.value == "Start training" and box.info == "enen"
    updates = labels.updates("zh")
    assert updates[button]["value"] == "开始训练"
    assert updates[box]["label"].startswith("配方 YAML") and updates[box]["info"] == "zhzh"


def test_updates_for_the_same_component_are_combined_not_replaced():
    with gr.Blocks():
        picker = gr.Dropdown()
        text = gr.Markdown()
    merged = merge_updates(
        {picker: gr.update(label="打开运行"), text: gr.update(visible=True)},
        {picker: gr.update(choices=["a", "b"]), text: "hello"},
    )
    assert merged[picker]["label"] == "打开运行" and merged[picker]["choices"] == ["a", "b"]
    assert merged[text]["visible"] is True and merged[text]["value"] == "hello"
