"""Recipe text: a field set from the studio's form lands on its own line with the file's
comments kept; uploads that are not small YAML recipes are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lorastudio.errors import RecipeError
from lorastudio.recipe.text import list_recipes, read_recipe_upload, set_field

REPO = Path(__file__).resolve().parents[1]
SMOKE = (REPO / "recipes" / "cpu-smoke.yaml").read_text()


def test_setting_a_field_keeps_every_comment_and_changes_one_line():
    edited = set_field(SMOKE, "lora.rank", 16)
    assert yaml.safe_load(edited)["lora"]["rank"] == 16
    before, after = SMOKE.splitlines(), edited.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [
        (
            "  rank: 8                 # higher learns more, costs memory",
            "  rank: 16                # higher learns more, costs memory",
        )
    ]


def test_a_field_missing_from_the_file_is_added_to_its_section():
    edited = set_field(SMOKE, "train.warmup_steps", 5)
    data = yaml.safe_load(edited)
    assert data["train"]["warmup_steps"] == 5 and data["hardware"]["device"] == "cpu"
    assert edited.startswith("# CPU smoke test")


def test_a_missing_section_and_nested_field_are_created():
    edited = set_field(SMOKE, "hardware.nodes.count", 2)
    assert yaml.safe_load(edited)["hardware"]["nodes"] == {"count": 2}
    edited = set_field("schema_version: 1\nname: x\n", "lora.target", ["q_proj", "v_proj"])
    assert yaml.safe_load(edited)["lora"]["target"] == ["q_proj", "v_proj"]


def test_block_lists_and_flow_mappings_are_still_set_correctly():
    text = "data:\n  datasets:\n    - identity\n  cutoff_len: 8  # short\nlora: {rank: 8}\n"
    edited = set_field(text, "data.datasets", ["identity", "alpaca_en_demo"])
    assert yaml.safe_load(edited)["data"] == {
        "datasets": ["identity", "alpaca_en_demo"],
        "cutoff_len": 8,
    }
    assert "# short" in edited
    assert yaml.safe_load(set_field(text, "lora.rank", 4))["lora"] == {"rank": 4}


def test_clearing_an_optional_field_that_is_absent_changes_nothing():
    assert set_field(SMOKE, "train.epochs", None) == SMOKE


def test_text_that_is_not_a_mapping_cannot_be_edited():
    with pytest.raises(RecipeError, match="line"):
        set_field("model: {id: [unclosed\n", "lora.rank", 4)
    with pytest.raises(RecipeError, match="not a recipe"):
        set_field("- a\n- b\n", "lora.rank", 4)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("model.bin", b"schema_version: 1\n", "not a YAML file"),
        ("big.yaml", b"#" * (50 * 1024 * 1024), "50.0 MiB, too big"),
        ("latin.yaml", "name: caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("broken.yaml", b"model: {id: [unclosed\n", "not valid YAML"),
        ("list.yaml", b"- a\n- b\n", "not a recipe"),
        ("lf.yaml", b"model_name_or_path: x\nstage: sft\n", "no schema_version"),
    ],
)
def test_an_upload_that_is_not_a_small_yaml_recipe_is_refused(
    tmp_path: Path, name: str, content: bytes, words: str
):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RecipeError) as caught:
        read_recipe_upload(path)
    (problem,) = caught.value.problems
    assert problem.field == "(file)" and words in str(problem.message)


def test_an_upload_with_wrong_values_is_still_a_recipe_to_fix_in_the_form(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(SMOKE.replace("rank: 8", "rank: 0"))
    assert "rank: 0" in read_recipe_upload(path)


def test_recipes_are_listed_from_every_folder_once(tmp_path: Path):
    (tmp_path / "cpu-smoke.yaml").write_text("shadowed")
    (tmp_path / "mine.yml").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    found = list_recipes([REPO / "recipes", tmp_path, tmp_path / "missing"])
    assert [p.name for p in found][:2] == ["cpu-smoke.yaml", "mine.yml"]
    assert found[0].parent == REPO / "recipes"
