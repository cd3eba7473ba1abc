"""The template follows the model: `model.template: auto` picks the template from the catalogue or
from a model folder's config.json and chat template, `model.thinking` picks thinking on or off,
and a template or thinking that does not fit the model is refused naming both templates and the
fix, in English and Chinese, unless `model.template_override` says the expert means it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import LF_DATA, TOKENIZER

from lorastudio.checks.validation import check_recipe_text
from lorastudio.errors import RecipeError
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.models.local import cached_models, inspect_folder
from lorastudio.models.templates import resolve_template
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

HYBRID = "{% if enable_thinking is defined and enable_thinking is false %}<think>{% endif %}"
THINKING_ONLY = (
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{% endif %}"
)
PLAIN = "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{% endif %}"


def resolve(**model):
    return resolve_template({"id": "Qwen/Qwen3-8B"} | model, None)


def only_problem(**model):
    choice, problems = resolve(**model)
    assert choice is None
    (problem,) = problems
    return problem


def recipe_text(model: str, **fields: str) -> str:
    extra = "".join(f", {key}: {value}" for key, value in fields.items())
    return f"""schema_version: 1
name: demo
model: {{id: {model}{extra}}}
data: {{datasets: [identity]}}
train: {{max_steps: 10}}
hardware: {{device: cpu}}
"""


def check(model: str, tmp_path: Path, **fields: str):
    workspace = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    return check_recipe_text(recipe_text(model, **fields), workspace)


def refused(model: str, tmp_path: Path, **fields: str):
    with pytest.raises(RecipeError) as caught:
        check(model, tmp_path, **fields)
    return caught.value.problems


# ---------------------------------------------------------------- auto, from the catalogue


@pytest.mark.parametrize(
    ("model", "thinking", "template", "enable"),
    [
        ("Qwen/Qwen2.5-7B-Instruct", "auto", "qwen", None),
        ("Qwen/Qwen3-8B", "auto", "qwen3", True),
        ("Qwen/Qwen3-8B", "off", "qwen3", False),
        ("Qwen/Qwen3-4B-Instruct-2507", "auto", "qwen3_nothink", None),
        ("Qwen/Qwen3-4B-Thinking-2507", "auto", "qwen3", True),
        ("Qwen/Qwen3-8B-Base", "auto", "qwen3_nothink", None),
        ("Qwen/Qwen3-8B-Base", "on", "qwen3", True),
        ("qwen/qwen3-30b-a3b", "auto", "qwen3", True),  # hub ids are not case-sensitive
    ],
)
def test_auto_picks_the_template_and_thinking_the_model_needs(model, thinking, template, enable):
    choice, problems = resolve_template({"id": model, "thinking": thinking}, None)
    assert problems == [] and (choice.template, choice.enable_thinking) == (template, enable)


def test_the_resolved_template_is_what_the_run_is_compiled_with():
    recipe = parse_recipe_text(recipe_text("Qwen/Qwen3-8B", thinking="off"))
    ws = Workspace(Path("/w"), Path("/w/data"), Path("/w/adapters"))
    args = compile_recipe(
        recipe,
        target=Target("cpu"),
        run_dir=Path("/w/adapters/R"),
        workspace=ws,
        registry={"identity": {"file_name": "identity.json"}},
    ).args
    assert (args["template"], args["enable_thinking"]) == ("qwen3", False)


# ---------------------------------------------------------------- the guard


def test_qwen3_with_the_qwen_template_is_refused_naming_both_and_the_fix(tmp_path):
    (problem,) = refused("Qwen/Qwen3-0.6B", tmp_path, template="qwen")
    assert problem.field == "model.template" and problem.value == "qwen"
    english = problem.text("en")
    assert "'qwen' does not fit Qwen3-0.6B (Qwen3), which needs 'qwen3'" in english
    assert "model.template: auto" in english and "model.template_override: true" in english
    chinese = problem.text("zh")
    assert "'qwen' 不适合 Qwen3-0.6B（Qwen3），它需要 'qwen3'" in chinese
    assert "model.template_override: true" in chinese


def test_the_override_lets_an_expert_keep_a_template_that_does_not_fit(tmp_path):
    recipe = check("Qwen/Qwen3-0.6B", tmp_path, template="qwen", template_override="true")
    assert recipe.model.template == "qwen"


def test_qwen2_5_with_a_qwen3_template_is_refused_too():
    choice, (problem,) = resolve_template({"id": "Qwen/Qwen2.5-7B", "template": "qwen3"}, None)
    assert choice is None and problem.message.args["expected"] == "qwen"


def test_an_unknown_model_family_with_template_auto_asks_for_the_template(tmp_path):
    (problem,) = refused("someone/mystery-7b", tmp_path)
    assert problem.field == "model.template" and problem.value == "auto"
    assert "not in the model catalogue" in problem.text("en")
    assert "python launch.py models" in problem.text("en")
    assert "不在模型目录中" in problem.text("zh") and "qwen3" in problem.text("zh")


def test_an_unknown_model_with_an_explicit_template_is_taken_as_written(tmp_path):
    assert check("someone/mystery-7b", tmp_path, template="llama3").model.template == "llama3"


def test_thinking_on_for_a_model_that_cannot_think_is_refused_in_both_languages(tmp_path):
    (problem,) = refused("Qwen/Qwen2.5-7B-Instruct", tmp_path, thinking="on")
    assert problem.field == "model.thinking"
    assert "does not think" in problem.text("en") and "不会思考" in problem.text("zh")


def test_thinking_off_for_a_thinking_only_model_is_refused():
    problem = only_problem(id="Qwen/Qwen3-4B-Thinking-2507", thinking="off")
    assert problem.field == "model.thinking" and "Instruct-2507" in problem.fix.text("en")


def test_thinking_on_with_the_template_that_never_thinks_is_refused():
    problem = only_problem(template="qwen3_nothink", thinking="on")
    assert problem.field == "model.thinking" and "'qwen3'" in problem.fix.text("en")


def test_an_unquoted_yaml_on_is_thinking_on(tmp_path):
    assert check("Qwen/Qwen3-8B", tmp_path, thinking="on").model.thinking == "on"


def test_a_vision_language_model_is_refused_as_not_supported_yet(tmp_path):
    (problem,) = refused("Qwen/Qwen3.5-9B", tmp_path)
    assert problem.field == "model.id" and "vision-language" in problem.text("en")
    assert "视觉语言模型" in problem.text("zh")


# ---------------------------------------------------------------- a model folder


def model_folder(path: Path, model_type: str, chat_template: str | None) -> Path:
    path.mkdir(parents=True)
    config = json.loads((TOKENIZER / "config.json").read_text()) | {"model_type": model_type}
    (path / "config.json").write_text(json.dumps(config))
    if chat_template is not None:
        (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": chat_template}))
    return path


@pytest.mark.parametrize(
    ("model_type", "chat_template", "template", "enable"),
    [
        ("qwen2", PLAIN, "qwen", None),
        ("qwen3", HYBRID, "qwen3", True),
        ("qwen3_moe", HYBRID, "qwen3", True),
        ("qwen3", PLAIN, "qwen3_nothink", None),  # an Instruct-2507's template
        ("qwen3", THINKING_ONLY, "qwen3", True),  # a Thinking-2507's template
    ],
)
def test_a_local_folder_is_recognised_by_its_config_and_chat_template(
    tmp_path, model_type, chat_template, template, enable
):
    folder = model_folder(tmp_path / "my-model", model_type, chat_template)
    choice, problems = resolve_template({"id": str(folder)}, folder)
    assert problems == [] and (choice.template, choice.enable_thinking) == (template, enable)


def test_a_local_folder_named_after_a_catalogued_model_is_that_model(tmp_path):
    folder = model_folder(tmp_path / "Qwen3-8B-Base", "qwen3", HYBRID)
    choice, _ = resolve_template({"id": str(folder)}, folder)
    assert choice.identity.entry.name == "Qwen3-8B-Base" and choice.template == "qwen3_nothink"


def test_a_local_folder_of_another_family_names_its_model_type(tmp_path):
    folder = model_folder(tmp_path / "llama", "llama", PLAIN)
    _, (problem,) = resolve_template({"id": str(folder)}, folder)
    assert "model_type 'llama'" in problem.text("en") and "'llama'" in problem.text("zh")


def test_a_thinking_template_saved_beside_the_tokenizer_is_read(tmp_path):
    folder = model_folder(tmp_path / "m", "qwen3", None)
    (folder / "chat_template.jinja").write_text(HYBRID)
    assert inspect_folder(folder).thinking == "hybrid"


# ---------------------------------------------------------------- the hub caches


def test_models_in_the_hugging_face_and_modelscope_caches_are_found(tmp_path, monkeypatch):
    hf = tmp_path / "hf"
    snapshot = hf / "hub" / "models--Qwen--Qwen3-0.6B" / "snapshots" / "abc123"
    model_folder(snapshot, "qwen3", HYBRID)
    ms = tmp_path / "ms"
    model_folder(ms / "models" / "Qwen" / "Qwen2___5-0___5B-Instruct", "qwen2", PLAIN)
    monkeypatch.setenv("HF_HOME", str(hf))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("MODELSCOPE_CACHE", str(ms))
    found = {(m.model_id, m.hub) for m in cached_models()}
    assert found == {
        ("Qwen/Qwen3-0.6B", "huggingface"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "modelscope"),
    }


def test_an_uncatalogued_hub_id_in_the_hugging_face_cache_is_read_from_its_config(
    tmp_path, monkeypatch
):
    snapshot = tmp_path / "hub" / "models--me--my-qwen3" / "snapshots" / "r1"
    model_folder(snapshot, "qwen3", PLAIN)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    choice, problems = resolve_template({"id": "me/my-qwen3"}, None)
    assert problems == [] and choice.template == "qwen3_nothink"
