"""A bad recipe is refused before anything starts: every problem listed with the field as the user
writes it and a fix, in English and in Chinese, no traceback, no run folder. The table is checked
in-process through the functions the CLI calls (`check_recipe_file`, the launcher); a few cases
go through `python launch.py validate|train|compile` for the exit status and the output."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, Studio, tiny_recipe

from lorastudio.checks.validation import check_recipe_file
from lorastudio.cli.main import main as cli_main
from lorastudio.errors import Problem, RecipeError
from lorastudio.launch import launcher
from lorastudio.machine.hardware import Hardware
from lorastudio.messages import msg
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

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
    ("extra_output_dir", "RECIPE", ["extra.output_dir"], ["trains with output_dir in `adapters/"]),
    ("extra_compiler_key", "RECIPE", ["extra.quantization_method"], ["set lora.quantization"]),
]
# One case of each kind goes through the real CLI: the file, the schema, this machine's data.
CLI_CASES = ("yaml_syntax", "unknown_key", "unregistered_dataset")


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


def case_file(studio: Studio, case: str, text: str, model: Path) -> Path:
    return studio.write_recipe(f"{case}.yaml", make_text(case, model) if text == "RECIPE" else text)


def refusal(path: Path, studio: Studio) -> RecipeError:
    """What `validate`, `train` and `compile` all do first with a recipe file."""
    with pytest.raises(RecipeError) as caught:
        check_recipe_file(path, Workspace(studio.home, studio.data_dir, studio.adapters))
    return caught.value


# Text left as written in either language: what the user wrote, names and commands.
_QUOTED = re.compile(r"`[^`]*`|“[^”]*”|'[^']*'|\"[^\"]*\"")
_NAMED = re.compile(r"\S*[/._=|<>\[\]:]\S*")  # paths, field names, files, KEY=VALUE, types
_NAMES = ("LLaMA-Factory", "LoRA Studio", "Hugging Face", "ModelScope")
_ENGLISH = re.compile(r"[A-Za-z][A-Za-z'-]+(?:[ ,;]+[A-Za-z][A-Za-z'-]+){2,}")


def english_left(problem: Problem) -> list[str]:
    """Runs of three or more English words in a problem said in Chinese, leaving out its field,
    its value, quoted text, names, paths and settings."""
    text = problem.text("zh")
    for written in (problem.field, problem.shown_value(), *_NAMES):
        text = text.replace(written, " ") if written else text
    text = _NAMED.sub(" ", _QUOTED.sub(" ", text))
    return _ENGLISH.findall(text)


def test_the_check_for_english_finds_a_sentence_left_untranslated():
    said = Problem("lora.rank", 0, msg("problem.wrong_value"), msg("fix.le", le=1))
    unsaid = Problem("lora.rank", 0, msg("text.verbatim", text="is far too small"), said.fix)
    assert english_left(said) == [] and english_left(unsaid) == ["is far too small"]


@pytest.mark.parametrize(("case", "text", "fields", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_recipe_is_refused_with_its_field_named_in_either_language(
    studio: Studio, model: Path, case: str, text: str, fields: list[str], words: list[str]
):
    error = refusal(case_file(studio, case, text, model), studio)
    english = error.render()
    for field in fields:
        assert field in english, (field, english)
    for word in words:
        assert word in english, (word, english)
    assert "Fix:" in english
    for problem in error.problems:
        assert english_left(problem) == [], problem.text("zh")
        assert "修正" in problem.text("zh")


@pytest.mark.slow
@pytest.mark.parametrize("case", CLI_CASES)
def test_the_cli_refuses_a_bad_recipe_with_status_2_and_starts_nothing(
    studio: Studio, model: Path, case: str
):
    _, text, fields, words = next(c for c in CASES if c[0] == case)
    path = case_file(studio, case, text, model)
    for command in (["validate", str(path)], ["train", str(path)], ["compile", str(path)]):
        result = studio.cli(*command)
        output = result.stdout + result.stderr
        assert result.returncode == 2, (command, output)
        assert "Traceback" not in output
        for expected in fields + words + ["Fix:"]:
            assert expected in output, (expected, output)
    assert studio.run_dirs() == []


def test_every_problem_is_listed_at_once(studio: Studio, model: Path, monkeypatch, capsys):
    text = (
        tiny_recipe(model)
        .replace("  rank: 8", "  rank: 0")
        .replace("template: qwen", "template: nope")
        .replace("[identity]", "[identity, missing_one]")
        .replace("  max_steps: 30", "  max_steps: -1")
    )
    path = studio.write_recipe("many.yaml", text)
    monkeypatch.setenv("LORASTUDIO_DATA_DIR", str(studio.data_dir))
    out = io.StringIO()
    assert cli_main(["validate", str(path)], root=studio.home, out=out) == 2
    for field in ("lora.rank", "model.template", "data.datasets[1]", "train.max_steps"):
        assert field in out.getvalue(), out.getvalue()
    assert "4 problems" in out.getvalue()


def test_a_missing_recipe_file_is_a_clear_error(studio: Studio):
    result = studio.cli("train", "recipes/does-not-exist.yaml")
    assert result.returncode == 2
    assert "cannot be read: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_recipe_file_is_said_in_chinese(studio: Studio):
    (problem,) = refusal(studio.home / "nope.yaml", studio).problems
    assert "无法读取：文件或目录不存在" in problem.text("zh")


def test_a_device_this_machine_lacks_is_refused_before_a_run_folder_exists(
    studio: Studio, model: Path
):
    text = tiny_recipe(model).replace("device: cpu", "device: npu")
    result = studio.cli("train", str(studio.write_recipe("npu.yaml", text)))
    assert result.returncode == 2
    assert "hardware.device" in result.stderr and result.stderr.count("Fix:") == 1
    assert studio.run_dirs() == []


def test_a_device_this_machine_lacks_is_said_in_chinese(model: Path):
    recipe = parse_recipe_text(tiny_recipe(model).replace("device: cpu", "device: npu"))
    with pytest.raises(RecipeError) as caught:
        launcher.plan_target(recipe, Hardware(cuda=(), npu=(), cpu_count=4))
    (problem,) = caught.value.problems
    assert problem.field == "hardware.device" and english_left(problem) == []
    assert "没有找到 昇腾 NPU" in problem.text("zh") and "4 个 CPU 核" in problem.text("zh")


def test_a_registered_dataset_whose_file_is_missing_is_refused_before_start(
    tmp_path: Path, model: Path
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    workspace = Workspace(tmp_path, data, tmp_path / "adapters")
    recipe = parse_recipe_text(tiny_recipe(model).replace("[identity]", "[mine]"))
    with pytest.raises(RecipeError) as caught:
        launcher.launch(recipe, workspace, Hardware(cuda=(), npu=(), cpu_count=4))
    (problem,) = caught.value.problems
    assert problem.field == "data.datasets[0]" and "does not exist" in str(problem)
    assert english_left(problem) == []
    assert not (tmp_path / "adapters").exists() or not any((tmp_path / "adapters").iterdir())


def test_fields_prints_every_field_with_its_help(studio: Studio):
    out = io.StringIO()
    assert cli_main(["fields"], root=studio.home, out=out) == 0
    assert "lora.rank" in out.getvalue() and "higher learns more" in out.getvalue()
    assert "hardware.nodes.master_addr" in out.getvalue()


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
    tmp_path: Path, model: Path, layout: str, records: str, words: str
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "mine.json").write_text(records)
    studio = Studio(tmp_path / "home", data)
    studio.home.mkdir()
    text = tiny_recipe(model).replace(
        "  datasets: [identity]", f"  files: [mine.json]\n  format: {layout}"
    )
    error = refusal(studio.write_recipe("mine.yaml", text), studio)
    english = error.render()
    assert "data.files[0]" in english and f"not in the {layout} layout" in english
    assert words in english and "Fix:" in english
    (problem,) = error.problems
    assert f"不是 {layout} 格式" in problem.text("zh") and english_left(problem) == []


def test_a_data_file_in_the_right_layout_passes(tmp_path: Path, model: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "chat.jsonl").write_text(
        '{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}\n'
    )
    text = tiny_recipe(model).replace(
        "  datasets: [identity]", "  files: [chat.jsonl]\n  format: sharegpt"
    )
    path = tmp_path / "chat.yaml"
    path.write_text(text)
    recipe = check_recipe_file(path, Workspace(tmp_path, data, tmp_path / "adapters"))
    assert recipe.data.files == ["chat.jsonl"]


def _site_without_llamafactory(folder: Path) -> Path:
    """This environment's packages, as links, without LLaMA-Factory."""
    site = Path(sysconfig.get_paths()["purelib"])
    folder.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith("llamafactory"):
            (folder / entry.name).symlink_to(entry)
    return folder


def test_validate_without_llamafactory_says_so_without_a_traceback(
    studio: Studio, model: Path, tmp_path: Path
):
    path = studio.write_recipe("tiny.yaml", tiny_recipe(model))
    site = _site_without_llamafactory(tmp_path / "site")
    env = studio.env | {"PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}
    result = subprocess.run(  # -S: no site-packages but the one given, where LLaMA-Factory is not
        [sys.executable, "-S", str(REPO / "launch.py"), "validate", str(path)],
        env=env,
        cwd=studio.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "llamafactory is not installed. Fix: install LoRA Studio" in result.stderr
