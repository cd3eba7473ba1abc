"""The recipe schema: defaults live once, dumps are stable, diffs name fields, hashes ignore
formatting, overrides use the recipe's own field names."""

from __future__ import annotations

import pytest

from lorastudio.errors import RecipeError
from lorastudio.recipe.schema import (
    Recipe,
    diff_recipes,
    dump_recipe,
    load_recipe,
    parse_overrides,
    parse_recipe_text,
)

MINIMAL = """
schema_version: 1
name: demo
model: {id: Qwen/Qwen2.5-0.5B-Instruct}
data: {datasets: [identity]}
train: {epochs: 3}
"""


def test_a_minimal_recipe_gets_every_default_from_the_schema():
    recipe = parse_recipe_text(MINIMAL)
    assert recipe.model.template == "auto" and recipe.model.thinking == "auto"
    assert recipe.model.template_override is False
    assert recipe.model.trust_remote_code is False
    assert recipe.lora.rank == Recipe.model_fields["lora"].default_factory().rank == 8
    assert recipe.hardware.device == "auto" and recipe.hardware.deepspeed == "none"


def test_every_field_has_help_text():
    def walk(model):
        for name, info in model.model_fields.items():
            yield f"{model.__name__}.{name}", info
            annotation = info.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                yield from walk(annotation)

    missing = [
        name
        for name, info in walk(Recipe)
        if not (info.description or "").strip()
        and name.split(".")[1] not in ("model", "data", "lora", "train", "hardware")
    ]
    assert missing == []


def test_dump_then_parse_gives_the_same_recipe_and_the_same_text():
    recipe = parse_recipe_text(MINIMAL)
    text = dump_recipe(recipe)
    assert parse_recipe_text(text) == recipe
    assert dump_recipe(parse_recipe_text(text)) == text
    assert text.index("schema_version") < text.index("model:") < text.index("hardware:")


def test_the_hash_ignores_key_order_and_comments_but_not_values():
    reordered = "# a comment\ntrain: {epochs: 3}\n" + MINIMAL.replace("train: {epochs: 3}\n", "")
    assert parse_recipe_text(reordered).content_hash() == parse_recipe_text(MINIMAL).content_hash()
    changed = parse_recipe_text(MINIMAL, overrides={"lora": {"rank": 16}})
    assert changed.content_hash() != parse_recipe_text(MINIMAL).content_hash()


def test_diff_names_each_changed_field_with_both_values():
    a = parse_recipe_text(MINIMAL)
    b = parse_recipe_text(MINIMAL, overrides={"lora": {"rank": 32}, "train": {"max_steps": 9}})
    assert diff_recipes(a, b) == [("lora.rank", 8, 32), ("train.max_steps", None, 9)]
    assert diff_recipes(a, a) == []


def test_diff_of_a_pass_through_key_names_only_that_key():
    a = parse_recipe_text(MINIMAL)
    b = parse_recipe_text(MINIMAL, overrides={"extra": {"neftune_noise_alpha": 5}})
    assert diff_recipes(a, b) == [("extra.neftune_noise_alpha", None, 5)]


def test_load_reads_a_file_and_dump_gives_it_back_in_schema_order(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL)
    recipe = load_recipe(path)
    assert recipe == parse_recipe_text(MINIMAL)
    path.write_text(dump_recipe(recipe))
    assert load_recipe(path) == recipe


def test_two_overrides_of_the_same_field_at_different_depths_are_refused():
    for pairs in (["lora.rank=2", "lora.rank.x=3"], ["lora.rank=3", "lora=1"]):
        with pytest.raises(RecipeError) as caught:
            parse_overrides(pairs)
        (problem,) = caught.value.problems
        assert problem.field == "--set" and "clashes" in str(problem.message), pairs


def test_rules_across_fields_are_reported_even_when_other_fields_of_their_section_are_wrong():
    text = """
schema_version: 1
name: hidden
model: {id: Qwen/Qwen2.5-0.5B-Instruct}
data: {datasets: [], cutoff_len: 1}
train: {learning_rate: 5, eval_steps: 3}
hardware: {device: tpu, offload: true, nodes: {count: 2, rank: 2, master_port: 1}}
"""
    with pytest.raises(RecipeError) as caught:
        parse_recipe_text(text)
    fields = [p.field for p in caught.value.problems]
    assert sorted(fields) == sorted(
        [
            "data.cutoff_len",
            "train.learning_rate",
            "hardware.device",
            "hardware.nodes.master_port",
            "data.datasets",  # no data
            "train.max_steps",  # neither epochs nor max_steps
            "hardware.offload",  # offload without ZeRO 2/3
            "hardware.nodes.rank",  # rank 2 of 2 machines
            "train.eval_steps",  # evaluation without a validation split
        ]
    )


def test_a_key_written_twice_is_refused_with_its_line():
    with pytest.raises(RecipeError) as caught:
        parse_recipe_text(MINIMAL + "name: other\n")
    (problem,) = caught.value.problems
    assert problem.field == "(file)" and "'name' is written twice" in str(problem.message)
    assert "line 7" in str(problem.message)


def test_overrides_are_parsed_as_yaml_values_into_nested_fields():
    assert parse_overrides(["train.max_steps=50", "lora.target=[q_proj, v_proj]"]) == {
        "train": {"max_steps": 50},
        "lora": {"target": ["q_proj", "v_proj"]},
    }


def test_a_malformed_override_is_a_recipe_error():
    with pytest.raises(RecipeError) as caught:
        parse_overrides(["train.max_steps"])
    assert caught.value.problems[0].field == "--set"


def test_max_steps_overrides_epochs_and_one_of_them_is_required():
    both = parse_recipe_text(MINIMAL, overrides={"train": {"max_steps": 5}})
    assert both.train.max_steps == 5
    with pytest.raises(RecipeError) as caught:
        parse_recipe_text(MINIMAL.replace("train: {epochs: 3}", "train: {}"))
    assert "train.epochs" in str(caught.value)


def test_recipes_without_data_are_refused():
    with pytest.raises(RecipeError) as caught:
        parse_recipe_text(MINIMAL.replace("data: {datasets: [identity]}", "data: {}"))
    assert caught.value.problems[0].field == "data.datasets"


def test_the_field_list_is_the_schema_itself_with_one_help_text_each():
    from lorastudio.recipe.schema import recipe_fields

    fields = {f.path: f for f in recipe_fields()}
    assert fields["lora.rank"].default == 8 and "rank" in fields["lora.rank"].help.lower()
    assert fields["hardware.nodes.master_port"].default == 29500
    assert fields["model.id"].required and not fields["lora.rank"].required
    assert all(f.help for f in fields.values())
