"""Input written to hurt is refused like any other mistake: exit status 2 and a message naming
the line and the fix, never a traceback, a hang or gigabytes. Each command runs as a real
`python launch.py` whose address space is capped (RLIMIT_AS), so a case that expanded what it
read would die of MemoryError (a traceback, status 1) instead of passing; the subprocess
timeout only keeps a regression from hanging the suite."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Studio, tiny_recipe
from hostile_texts import BRACKETS, laughs

from lorastudio.messages import brief, msg
from lorastudio.recipe.loader import (
    MAX_DEPTH,
    MAX_VALUES,
    YamlLimitError,
    load_mapping,
    load_yaml,
)

CAP_MIB = 512  # the CLI needs under 200 MiB of address space; the laughs alone wanted 6 GB
HANG_GUARD = 120  # seconds: a FIFO read blocked forever before; nothing here takes long


def capped(*argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """``argv`` in a process that cannot map more than ``CAP_MIB`` of memory."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP_MIB << 20, CAP_MIB << 20))

    return subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        preexec_fn=cap,
    )


def cli(studio: Studio, *args: str) -> subprocess.CompletedProcess:
    return capped(*studio.argv(*args), env=studio.env, cwd=studio.home)


def refused(result: subprocess.CompletedProcess, *words: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output and "Fix:" in output, output[-3000:]
    for word in words:
        assert word in output, (word, output[-3000:])
    assert len(output) < 20_000  # every value shown is cut short
    return output


# ---------------------------------------------------------------- recipe files, on the CLI


def test_a_billion_laughs_recipe_is_refused_by_validate_and_compile(studio: Studio):
    path = studio.write_recipe("laughs.yaml", laughs())
    assert path.stat().st_size < 600
    for command in ("validate", "compile"):
        refused(cli(studio, command, str(path)), "(file)", "more than 10000 values", "line 7")
    assert studio.run_dirs() == []


def test_a_billion_laughs_is_said_in_chinese_too(studio: Studio):
    path = studio.write_recipe("laughs.yaml", laughs())
    result = cli(studio, "--lang", "zh", "validate", str(path))
    assert result.returncode == 2 and "超过 10000 个值" in result.stdout and "修正" in result.stdout


def test_twenty_thousand_open_brackets_are_refused_at_the_depth_limit(studio: Studio):
    path = studio.write_recipe("brackets.yaml", BRACKETS)
    refused(cli(studio, "validate", str(path)), f"more than {MAX_DEPTH} levels deep", "line 2")


def test_a_thousand_block_levels_are_refused_at_the_depth_limit(studio: Studio):
    lines = ["schema_version: 1", "extra:"] + [" " * n + f"k{n}:" for n in range(1, 1000)]
    path = studio.write_recipe("blocks.yaml", "\n".join(lines) + " 1\n")
    assert path.stat().st_size < 1 << 20
    refused(cli(studio, "validate", str(path)), f"more than {MAX_DEPTH} levels deep")


def test_a_set_override_nested_twenty_thousand_deep_is_refused(studio: Studio, model: Path):
    path = studio.write_recipe("tiny.yaml", tiny_recipe(model))
    deep = "train.max_steps=" + "[" * 20_000
    for command in ("validate", "compile"):
        output = refused(cli(studio, command, str(path), "--set", deep), "--set", "levels deep")
        assert "train.max_steps=[[[" in output


def test_a_five_thousand_digit_integer_is_refused_with_its_line(studio: Studio, model: Path):
    text = tiny_recipe(model).replace("  max_steps: 30", "  max_steps: 30\n  seed: " + "9" * 5000)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.startswith("  seed:"))
    path = studio.write_recipe("digits.yaml", text)
    refused(cli(studio, "validate", str(path)), "a number of 5000 digits", f"line {line},")


def test_a_five_thousand_digit_set_override_is_refused(studio: Studio, model: Path):
    path = studio.write_recipe("tiny.yaml", tiny_recipe(model))
    result = cli(studio, "compile", str(path), "--set", "train.seed=" + "9" * 5000)
    refused(result, "--set", "a number of 5000 digits")


@pytest.mark.parametrize(
    "command", [["validate"], ["compile"], ["train"], ["data", "export", "--recipe"]]
)
def test_a_fifo_as_the_recipe_is_refused_without_waiting_for_a_writer(
    studio: Studio, command: list[str]
):
    fifo = studio.home / "pipe.yaml"
    os.mkfifo(fifo)
    refused(cli(studio, *command, str(fifo)), "is not a regular file")
    assert studio.run_dirs() == []


def test_a_device_as_the_recipe_is_refused_without_reading_it(studio: Studio):
    refused(cli(studio, "validate", "/dev/zero"), "is not a regular file")


def test_four_hundred_thousand_extra_keys_are_refused_before_they_are_checked(studio: Studio):
    keys = "".join(f"  k{n}: 1\n" for n in range(400_000))
    path = studio.write_recipe("keys.yaml", "schema_version: 1\nname: x\nextra:\n" + keys)
    refused(cli(studio, "validate", str(path)), "too big to be a recipe (limit 1 MiB)")


def test_a_hundred_thousand_keys_under_a_mebibyte_stop_at_the_value_limit(studio: Studio):
    keys = ",".join(f"{n:x}: 1" for n in range(100_000))
    path = studio.write_recipe("keys.yaml", "schema_version: 1\nextra: {" + keys + "}\n")
    assert path.stat().st_size < 1 << 20
    refused(cli(studio, "validate", str(path)), f"more than {MAX_VALUES} values")


def test_thousands_of_unknown_extra_keys_are_counted_and_the_first_fifty_listed(
    studio: Studio, model: Path
):
    """Each "did you mean" is a search over LLaMA-Factory's ~300 arguments: the first 20
    unknown keys get one, the rest the plain fix (4000 searches took 10 s), and the message
    lists 50 of them and counts the rest."""
    keys = "".join(f"  gradient_checkpointin{n}: 1\n" for n in range(4000))
    path = studio.write_recipe("keys.yaml", tiny_recipe(model) + "extra:\n" + keys)
    output = refused(
        cli(studio, "validate", str(path)), "The recipe has 4000 problems", "and 3950 more"
    )
    assert output.count("did you mean `gradient_checkpointing`") == 20
    assert output.count("is not a LLaMA-Factory training argument") == 50


# ---------------------------------------------------------------- data files


def test_a_jsonl_file_whose_first_line_nests_100k_deep_is_refused_naming_line_1(tmp_path: Path):
    home = Studio(tmp_path, tmp_path / "data")
    home.env["LORASTUDIO_DATA_DIR"] = str(home.data_dir)
    path = tmp_path / "deep.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + '\n{"instruction": "a", "output": "b"}\n')
    refused(cli(home, "data", "add", str(path)), "line 1 nests deeper than 64 levels")
    assert not (home.data_dir / "dataset_info.json").exists()


def test_a_json_list_whose_second_record_nests_too_deep_is_refused_naming_its_line(
    tmp_path: Path,
):
    home = Studio(tmp_path, tmp_path / "data")
    home.env["LORASTUDIO_DATA_DIR"] = str(home.data_dir)
    path = tmp_path / "deep.json"
    good = '{"instruction": "a", "output": "b"}'
    path.write_text(f"[{good},\n" + "[" * 100 + "]" * 100 + "\n]\n")  # parses; 100 deep
    refused(cli(home, "data", "add", str(path)), "line 2 nests deeper than 64 levels")


def test_validate_refuses_a_data_file_whose_first_record_nests_100k_deep(
    studio: Studio, model: Path, tmp_path: Path
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    studio.env["LORASTUDIO_DATA_DIR"] = str(data)
    text = tiny_recipe(model).replace("  datasets: [identity]", "  files: [deep.jsonl]")
    path = studio.write_recipe("deep.yaml", text)
    refused(cli(studio, "validate", str(path)), "data.files[0]", "line 1 nests deeper")


# ---------------------------------------------------------------- the studio's paths


STUDIO_CHECK = """
import sys, tempfile
from pathlib import Path
from lorastudio.errors import RecipeError
from lorastudio.machine.hardware import Hardware
from lorastudio.recipe.text import read_recipe_upload, set_field
from lorastudio.workspace import Workspace
from ui import editor, model_choice, recipe_source
from ui.config import StudioConfig
from ui.data_view import recipe_settings
from ui.fields import from_widget, form_fields

root = Path(sys.argv[1])
config = StudioConfig(Workspace.from_env(root), (root,), Hardware((), (), 2), "en", root / "dl")
text = Path(sys.argv[2]).read_text()
checked = editor.check(text, config)  # the YAML editor, on every edit
print("EDITOR", checked.raw is None, [p.text() for p in checked.problems])
for call in (
    lambda: read_recipe_upload(Path(sys.argv[2])),  # the upload button
    lambda: set_field(text, "lora.rank", 16),  # a form edit on that text
    lambda: recipe_source.save(config, text, "mine.yaml"),  # Save recipe
):
    try:
        call()
        print("ACCEPTED")
    except RecipeError as exc:
        print("REFUSED", exc.problems[0].message.key, exc.problems[0].message.args["reason"].key)
print("DATA TAB", recipe_settings(text).model)  # the Data tab reads the editor's recipe
print("MODEL PICKER", model_choice.named(text, config))  # and so does the model picker
extra = next(spec for spec in form_fields() if spec.path == "extra")
try:
    from_widget(extra, text)  # the form's extra-arguments box
except ValueError:
    print("EXTRA REFUSED")
"""


@pytest.mark.parametrize(
    ("case", "text", "reason"),
    [
        ("laughs", laughs(), "recipe.too_many_values"),
        ("brackets", BRACKETS, "recipe.too_deep"),
        ("digits", "schema_version: 1\nname: " + "7" * 5000, "recipe.long_integer"),
    ],
)
def test_the_studio_refuses_hostile_text_in_the_editor_upload_form_and_data_tab(
    studio: Studio, case: str, text: str, reason: str
):
    path = studio.write_recipe(f"{case}.yaml", text)
    result = capped(
        sys.executable,
        "-c",
        STUDIO_CHECK,
        str(studio.home),
        str(path),
        env=studio.env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("EDITOR True [\"(file) = 'recipe': goes beyond"), lines[0][:500]
    assert len(lines[0]) < 2000
    assert lines[1:4] == [f"REFUSED problem.yaml_limit {reason}"] * 3
    assert lines[4] == "DATA TAB Qwen/Qwen2.5-0.5B-Instruct"  # the defaults, for no recipe
    assert lines[5] == "MODEL PICKER None"
    assert lines[6] == "EXTRA REFUSED"


# ---------------------------------------------------------------- the loader and shown values


def test_aliases_within_the_limits_still_load():
    text = "base: &b {rank: 8, alpha: 16}\nlora:\n  <<: *b\n  dropout: 0.1\n"
    assert load_yaml(text)["lora"] == {"rank": 8, "alpha": 16, "dropout": 0.1}


def test_an_alias_inside_the_value_it_names_is_refused():
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("extra: &a {k: *a}\n")
    assert caught.value.reason == msg("recipe.alias_loop", name="a")


def test_a_long_hexadecimal_integer_is_refused_as_well():
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("seed: 0x" + "f" * 200)
    assert caught.value.reason.args["digits"] == 200


def test_text_over_a_mebibyte_is_refused_before_it_is_parsed():
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("#" * ((1 << 20) + 1))
    assert caught.value.reason.key == "problem.too_big"


def test_the_studio_views_get_no_mapping_from_hostile_text():
    assert load_mapping(laughs()) is None
    assert load_mapping("a: 1") == {"a": 1}


SHOWN = """
from lorastudio.errors import Problem
from lorastudio.messages import brief, msg
nine = ["lol"] * 9
for _ in range(30):  # 9**30 strings, all one list object
    nine = [nine] * 9
looped = []
looped.append(looped)
deep = []
for _ in range(100_000):
    deep = [deep]
for value in (nine, looped, deep, 10**5000, {"k": "x" * 10**6}):
    shown = Problem("extra.k", value, msg("problem.wrong_value"), msg("fix.list")).text()
    said = msg("recipe.parser_said", text=value).text()
    print(len(shown), len(brief(value)), len(said))
"""


def test_a_shown_value_is_written_only_as_far_as_it_is_shown():
    """repr() of the first would never end, of the second fails, of the fourth raises."""
    result = capped(sys.executable, "-c", SHOWN, env=dict(os.environ), cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    sizes = [[int(n) for n in line.split()] for line in result.stdout.splitlines()]
    assert len(sizes) == 5
    for shown, short, kept in sizes:
        assert shown < 600 and short <= 200 and kept <= 200


def test_a_short_value_is_shown_exactly_as_python_writes_it():
    value = [1, "a", (1,), (2, 3), {"k": None}, {4}, 2.5, True]
    assert brief(value) == repr(value)
    assert yaml.safe_load(brief({"a": [1, 2]})) == {"a": [1, 2]}
