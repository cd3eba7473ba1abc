"""The catalogue of what the core says: every key in English and Chinese with the same
placeholders, each key written once, every key the core asks for present, and a message said
in either language with its arguments (a message inside a message said in the same language)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from lorastudio.messages import Bilingual, Msg, msg
from lorastudio.messages.catalog import AREAS, catalogue
from lorastudio.messages.texts import data, machine, recipe

CORE = Path(__file__).resolve().parents[1] / "lorastudio"
CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")  # ideographs, CJK punctuation
NAMES = {"text.verbatim", "machine.label.cuda"}  # said the same in both languages
# Keys the core names as plain strings (in tables, then passed to msg) start with these.
KEY_PREFIXES = ("problem.", "fix.", "error.", "recipe.", "machine.", "memory.", "note.", "managed.")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(catalogue()))
def test_every_key_has_english_and_chinese_with_the_same_placeholders(key: str):
    english, chinese = catalogue()[key]
    assert english.strip() and chinese.strip()
    assert placeholders(english) == placeholders(chinese)
    assert "key" not in placeholders(english)  # msg(key, **args) takes the key itself as "key"


def test_chinese_texts_are_chinese():
    untranslated = [
        k for k, (_, zh) in catalogue().items() if k not in NAMES and not CJK.search(zh)
    ]
    assert untranslated == []


def test_no_key_is_written_in_two_areas():
    seen: dict[str, str] = {}
    twice = []
    for area in AREAS:
        for key in area.TEXTS:
            if key in seen:
                twice.append((key, seen[key], area.__name__))
            seen[key] = area.__name__
    assert twice == []


def _core_trees() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text())) for path in sorted(CORE.rglob("*.py"))]


def keys_asked_for() -> tuple[set[str], set[str]]:
    """Keys the core names: the first argument of msg(...)/Msg(...) written literally (and the
    fixed start of one built with an f-string), and strings in the shape of a key."""
    literal, prefixes = set(), set()
    for _, tree in _core_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[0]
                if name in ("msg", "Msg") and isinstance(first, ast.Constant):
                    literal.add(first.value)
                elif name in ("msg", "Msg") and isinstance(first, ast.JoinedStr):
                    start = first.values[0]
                    if isinstance(start, ast.Constant):
                        prefixes.add(start.value)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith(KEY_PREFIXES)
                and re.fullmatch(r"[a-z]+(\.[a-z0-9_]+)+", node.value)
                and not re.search(r"\.(yaml|yml|json|jsonl|log|txt|sh)$", node.value)  # files
            ):
                literal.add(node.value)
    return literal, prefixes


def test_every_key_the_core_asks_for_is_in_the_catalogue():
    literal, prefixes = keys_asked_for()
    assert len(literal) > 150
    assert sorted(literal - set(catalogue())) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in catalogue()), prefix


def test_every_recipe_data_and_machine_key_is_used_by_the_core():
    literal, prefixes = keys_asked_for()
    mine = [*recipe.TEXTS, *data.TEXTS, *machine.TEXTS]
    unused = [k for k in mine if k not in literal and not k.startswith(tuple(prefixes))]
    assert unused == []


def test_no_core_module_still_passes_english_where_a_problem_wants_a_message():
    """Problem(field, value, message, fix): message and fix are keyed, never a literal string."""
    found = []
    for path, tree in _core_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Problem":
                said = node.args[2:4] + [
                    k.value for k in node.keywords if k.arg in ("message", "fix")
                ]
                if any(isinstance(a, ast.Constant | ast.JoinedStr) for a in said):
                    found.append(f"{path.relative_to(CORE)}:{node.lineno}")
    assert found == []


def test_no_core_error_is_raised_with_an_english_sentence():
    """Errors the user reads (LoraStudioError and its kinds) carry keyed messages."""
    from lorastudio import errors

    kinds = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.LoraStudioError)
    }
    kinds |= {"DeviceBusyError", "ClusterError", "DemoDataError", "DataRegistryError"}
    found = []
    for path, tree in _core_trees():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in kinds
                and node.args
                and isinstance(node.args[0], ast.Constant | ast.JoinedStr)
            ):
                found.append(f"{path.relative_to(CORE)}:{node.lineno}")
    assert found == []


def test_a_message_is_said_in_either_language_with_its_arguments():
    said = msg("problem.rank_count", count=2)
    assert said.text("en") == "must be below nodes.count 2"
    assert said.text("zh") == "必须小于 nodes.count（2）"
    assert str(said) == said.text("en")


def test_a_message_inside_a_message_is_said_in_the_same_language():
    where = msg("recipe.at_line", line=3, column=1)
    said = msg("problem.bad_yaml", where=where, reason=msg("recipe.duplicate_key", name="name"))
    assert (
        said.text("en") == "is not valid YAML at line 3, column 1: the key 'name' is written twice"
    )
    assert said.text("zh") == "不是合法的 YAML（第 3 行第 1 列）：键 'name' 写了两次"


def test_a_list_of_messages_is_joined_in_each_languages_way():
    found = [msg("machine.no_accelerator"), msg("machine.cpu_cores", count=8)]
    said = msg("machine.none_of", label=Bilingual("NVIDIA GPU", "NVIDIA GPU"))
    assert said.text("zh") == "没有 NVIDIA GPU"
    assert (
        msg("fix.no_device", message=found[0], fix=found[1]).text("zh")
        == "没有 GPU 或 NPU；8 个 CPU 核"
    )
    unsaid = msg("machine.device_unavailable", requested="npu", label="x", tool="t", found=found)
    assert unsaid.text("en").endswith("Found: no GPU or NPU; 8 CPU cores")
    assert unsaid.text("zh").endswith("找到的是：没有 GPU 或 NPU；8 个 CPU 核")


def test_a_message_survives_json_with_its_nested_messages():
    found = [msg("machine.no_accelerator"), msg("machine.cpu_cores", count=8)]
    said = msg("fix.maybe", word="qwen", fix=msg("fix.template"))
    for original in (said, msg("machine.device_unavailable", requested="npu", found=found)):
        assert Msg.from_dict(original.as_dict()).text("zh") == original.text("zh")
