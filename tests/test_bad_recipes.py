"""A bad recipe is refused before anything starts: exit status 2, every problem listed with the
field as the user writes it and a fix, no traceback, no run folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Studio, tiny_recipe

GOOD_MODEL = "{model}"

# (case id, recipe text, fields that must be named, words the message must contain)
CASES = [
    ("yaml_syntax", "schema_version: 1\nname: x\nmodel: {id: [unclosed\n", ["(file)"], ["line"]),
    ("not_a_mapping", "- just\n- a list\n", ["(file)"], ["not a recipe"]),
    ("wrong_type", "RECIPE", ["lora.rank"], ["integer"]),
    ("out_of_range", "RECIPE", ["lora.dropout"], ["less than 1"]),
    ("unknown_key", "RECIPE", ["lora.rnak"], ["did you mean `rank`"]),
    ("missing_model", "RECIPE", ["model.id"], ["required"]),
    ("model_folder_missing", "RECIPE", ["model.id"], ["does not exist"]),
    ("no_length", "RECIPE", ["train.max_steps"], ["train.epochs"]),
    ("unknown_template", "RECIPE", ["model.template"], ["did you mean `qwen`"]),
    ("unregistered_dataset", "RECIPE", ["data.datasets[0]"], ["not registered"]),
    ("data_file_escapes", "RECIPE", ["data.files[0]"], ["outside the data folder"]),
    ("managed_extra_key", "RECIPE", ["extra.lora_rank"], ["set lora.rank instead"]),
    ("unknown_extra_key", "RECIPE", ["extra.gradient_checkpointin"], ["not a LLaMA-Factory"]),
    ("bad_name", "RECIPE", ["name"], ["pattern"]),
    ("newer_schema", "RECIPE", ["schema_version"], ["upgrade"]),
    ("offload_without_zero", "RECIPE", ["hardware.offload"], ["hardware.deepspeed 2 or 3"]),
    ("no_data", "RECIPE", ["data.datasets"], ["data.files"]),
    ("missing_section", "RECIPE", ["train"], ["required", "train.max_steps"]),
    ("eval_without_split", "RECIPE", ["train.eval_steps"], ["data.val_size"]),
    ("duplicate_key", "RECIPE", ["(file)"], ["'name' is written twice", "line 3"]),
    ("version_true", "RECIPE", ["schema_version"], ["not true"]),
    ("seed_too_big", "RECIPE", ["train.seed"], ["4294967295"]),
    ("infinite_epochs", "RECIPE", ["train.epochs"], ["finite"]),
    ("negative_card", "RECIPE", ["hardware.devices"], ["start at 0"]),
    ("nul_in_path", "RECIPE", ["data.files[0]"], ["NUL"]),
    ("extra_wrong_type", "RECIPE", ["extra.neftune_noise_alpha"], ["write a number"]),
    ("extra_writes_outside", "RECIPE", ["extra.tokenized_path"], ["outside the studio folder"]),
    ("extra_managed_path", "RECIPE", ["extra.logging_dir"], ["run folder"]),
    ("extra_number_key", "RECIPE", ["extra[1]"], ["valid string"]),
    ("extra_output_dir", "RECIPE", ["extra.output_dir"], ["trains with output_dir in adapters/"]),
    ("extra_compiler_key", "RECIPE", ["extra.quantization_method"], ["set lora.quantization"]),
]


def make_text(case: str, model: Path) -> str:
    text = tiny_recipe(model)
    edits = {
        "wrong_type": ("  rank: 8", "  rank: eight"),
        "out_of_range": ("  alpha: 16", "  alpha: 16\n  dropout: 1.5"),
        "unknown_key": ("  rank: 8", "  rnak: 8"),
        "missing_model": (f"  id: {model}\n", ""),
        "model_folder_missing": (f"  id: {model}", f"  id: {model}-gone"),
        "no_length": ("  max_steps: 30\n", ""),
        "unknown_template": ("template: qwen", "template: qwenn"),
        "unregistered_dataset": ("[identity]", "[no_such_dataset]"),
        "data_file_escapes": ("  datasets: [identity]", "  files: [../../etc/passwd]"),
        "managed_extra_key": ("hardware:", "extra:\n  lora_rank: 4\nhardware:"),
        "unknown_extra_key": ("hardware:", "extra:\n  gradient_checkpointin: true\nhardware:"),
        "bad_name": ("name: tiny", "name: ../escape"),
        "newer_schema": ("schema_version: 1", "schema_version: 7"),
        "offload_without_zero": ("  device: cpu", "  device: cpu\n  offload: true"),
        "no_data": ("  datasets: [identity]", "  datasets: []"),
        "missing_section": ("train:\n", "trainer:\n"),
        "eval_without_split": ("  max_steps: 30", "  max_steps: 30\n  eval_steps: 5"),
        "duplicate_key": ("name: tiny", "name: tiny\nname: other"),
        "version_true": ("schema_version: 1", "schema_version: true"),
        "seed_too_big": ("  max_steps: 30", "  max_steps: 30\n  seed: 99999999999999999999"),
        "infinite_epochs": ("  max_steps: 30", "  epochs: .inf"),
        "negative_card": ("  device: cpu", "  device: cpu\n  devices: [-1]"),
        "nul_in_path": ("  datasets: [identity]", '  files: ["a\\0b.json"]'),
        "extra_wrong_type": ("hardware:", "extra:\n  neftune_noise_alpha: abc\nhardware:"),
        "extra_writes_outside": ("hardware:", "extra:\n  tokenized_path: ../../tok\nhardware:"),
        "extra_managed_path": ("hardware:", "extra:\n  logging_dir: /etc/x\nhardware:"),
        "extra_number_key": ("hardware:", "extra:\n  1: 2\nhardware:"),
        "extra_output_dir": ("hardware:", "extra:\n  output_dir: /tmp/elsewhere\nhardware:"),
        "extra_compiler_key": ("hardware:", "extra:\n  quantization_method: hqq\nhardware:"),
    }
    old, new = edits[case]
    assert old in text, case
    return text.replace(old, new)


@pytest.mark.parametrize(("case", "text", "fields", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_recipe_is_refused_with_its_field_named_and_nothing_started(
    studio: Studio, tiny_model: Path, case: str, text: str, fields: list[str], words: list[str]
):
    path = studio.write_recipe(
        f"{case}.yaml", make_text(case, tiny_model) if text == "RECIPE" else text
    )
    for command in (["validate", str(path)], ["train", str(path)], ["compile", str(path)]):
        result = studio.cli(*command)
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output)
        assert "Traceback" not in output
        for field in fields:
            assert field in output, (field, output)
        for word in words:
            assert word in output, (word, output)
        assert "Fix:" in output or "upgrade" in output
    assert studio.run_dirs() == []


def test_every_problem_is_listed_at_once(studio: Studio, tiny_model: Path):
    text = (
        tiny_recipe(tiny_model)
        .replace("  rank: 8", "  rank: 0")
        .replace("template: qwen", "template: nope")
        .replace("[identity]", "[identity, missing_one]")
        .replace("  max_steps: 30", "  max_steps: -1")
    )
    result = studio.cli("validate", str(studio.write_recipe("many.yaml", text)))
    assert result.returncode == 2
    for field in ("lora.rank", "model.template", "data.datasets[1]", "train.max_steps"):
        assert field in result.stdout, result.stdout
    assert "4 problems" in result.stdout


def test_a_missing_recipe_file_is_a_clear_error(studio: Studio):
    result = studio.cli("train", "recipes/does-not-exist.yaml")
    assert result.returncode == 2
    assert "cannot be read" in result.stderr and "Traceback" not in result.stderr


def test_a_device_this_machine_lacks_is_refused_before_a_run_folder_exists(
    studio: Studio, tiny_model: Path
):
    text = tiny_recipe(tiny_model).replace("device: cpu", "device: npu")
    result = studio.cli("train", str(studio.write_recipe("npu.yaml", text)))
    assert result.returncode == 2
    assert "hardware.device" in result.stderr and result.stderr.count("Fix:") == 1
    assert studio.run_dirs() == []


def test_a_registered_dataset_whose_file_is_missing_is_refused_before_start(
    tmp_path: Path, tiny_model: Path
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    studio = Studio(tmp_path / "home", data)
    studio.home.mkdir()
    text = tiny_recipe(tiny_model).replace("[identity]", "[mine]")
    result = studio.cli("train", str(studio.write_recipe("mine.yaml", text)))
    assert result.returncode == 2
    assert "data.datasets[0]" in result.stderr and "does not exist" in result.stderr
    assert studio.run_dirs() == []


def test_fields_prints_every_field_with_its_help(studio: Studio):
    result = studio.cli("fields")
    assert result.returncode == 0
    assert "lora.rank" in result.stdout and "higher learns more" in result.stdout
    assert "hardware.nodes.master_addr" in result.stdout


@pytest.mark.parametrize(
    ("layout", "records", "words"),
    [
        ("alpaca", '[{"question": "hi", "answer": "hello"}]', "no instruction, output"),
        ("alpaca", '["just text"]', "not JSON objects"),
        ("sharegpt", '[{"instruction": "hi", "output": "hello"}]', "no conversations"),
        ("sharegpt", '[{"conversations": [{"role": "user", "content": "hi"}]}]', "from and value"),
    ],
)
def test_a_data_file_in_the_wrong_layout_is_refused_before_start(
    tmp_path: Path, tiny_model: Path, layout: str, records: str, words: str
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "mine.json").write_text(records)
    studio = Studio(tmp_path / "home", data)
    studio.home.mkdir()
    text = tiny_recipe(tiny_model).replace(
        "  datasets: [identity]", f"  files: [mine.json]\n  format: {layout}"
    )
    result = studio.cli("train", str(studio.write_recipe("mine.yaml", text)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "data.files[0]" in result.stderr and f"not in the {layout} layout" in result.stderr
    assert words in result.stderr and "Fix:" in result.stderr
    assert studio.run_dirs() == []


def test_a_data_file_in_the_right_layout_passes(tmp_path: Path, tiny_model: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "chat.jsonl").write_text(
        '{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}\n'
    )
    studio = Studio(tmp_path / "home", data)
    studio.home.mkdir()
    text = tiny_recipe(tiny_model).replace(
        "  datasets: [identity]", "  files: [chat.jsonl]\n  format: sharegpt"
    )
    result = studio.cli("validate", str(studio.write_recipe("chat.yaml", text)))
    assert result.returncode == 0, result.stdout + result.stderr
