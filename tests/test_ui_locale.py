"""Every text the studio shows exists in English and Chinese, with the same placeholders, and
every key the UI code asks for is in the table."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from lorastudio.chat.params import ChatParams
from lorastudio.messages.catalog import catalogue
from lorastudio.recipe.schema import recipe_fields
from lorastudio.runs.status import RunState
from ui.fields import form_fields
from ui.locale import FIELDS, TEXT, chat_help, field_help, t
from ui.runs_view import COLUMNS

UI = Path(__file__).resolve().parents[1] / "ui"
CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")  # ideographs, CJK punctuation


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_text_has_english_and_chinese_with_the_same_placeholders(key):
    english, chinese = TEXT[key]
    assert english.strip() and chinese.strip()
    assert placeholders(english) == placeholders(chinese)


def test_chinese_texts_are_chinese():
    brand = {"app.title", "section.lora"}
    untranslated = [k for k, (_, zh) in TEXT.items() if k not in brand and not CJK.search(zh)]
    assert untranslated == []


def test_every_recipe_field_has_labels_in_both_languages():
    assert set(FIELDS) == {f.path for f in recipe_fields()}
    for path, (english, chinese) in FIELDS.items():
        assert english and chinese, path
        assert CJK.search(chinese) or chinese == english, path  # LoRA, Alpha, Dropout


def test_a_fields_help_is_the_schemas_in_both_languages():
    for field in recipe_fields():
        assert field_help(field.path, "en") == field.help
        chinese = field_help(field.path, "zh")
        assert chinese == field.info.json_schema_extra["zh"] and CJK.search(chinese), field.path


def test_a_chat_settings_help_is_its_schemas_in_both_languages():
    for name, info in ChatParams.model_fields.items():
        assert chat_help(name, "en") == info.description
        assert chat_help(name, "zh") == info.json_schema_extra["zh"] and CJK.search(
            chat_help(name, "zh")
        )


def keys_used_in_the_ui() -> set[str]:
    """Locale keys written literally in ui/*.py: t("key", …) and {"label": "key"} texts."""
    pattern = re.compile(
        r"""\bt\(\s*"([\w.]+)"|"(?:label|info|value|x_title|y_title)":\s*"([\w.]+)"|"""
        r'line_plot\(labels, "([\w.]+)"'
    )
    keys = set()
    for path in UI.glob("*.py"):
        for match in pattern.finditer(path.read_text()):
            keys.add(next(group for group in match.groups() if group))
    return keys


def test_every_key_the_ui_asks_for_is_in_the_table():
    used = keys_used_in_the_ui()
    assert len(used) > 40
    assert used - set(TEXT) == set()


def test_keys_built_at_run_time_exist_for_every_value():
    for state in RunState:  # a run's state is the core's word (lorastudio.messages)
        assert f"state.{state.value}" in catalogue()
    families = {
        "section": {spec.section for spec in form_fields()},
        "runs.col": COLUMNS,
        "series": ["train", "eval"],
    }
    for prefix, values in families.items():
        for value in values:
            assert f"{prefix}.{value}" in TEXT


def test_placeholders_are_filled():
    assert t("live.step", "zh", step=3, total=30) == "第 3/30 步"
    assert t("train.started", "en", run="r1") == "Started run r1."


def test_no_text_has_an_html_like_tag_outside_code_that_markdown_would_swallow():
    """Markdown drops `<run>` as an unknown HTML tag, cutting the text there (the Export help
    ended at "into adapters/"): a placeholder path is written as code."""
    swallowed = {
        key: text
        for key, texts in (TEXT | catalogue()).items()
        for text in texts
        if re.search(r"<[A-Za-z\u4e00-\u9fff/]", re.sub(r"`[^`]*`", "", text))
    }
    assert swallowed == {}
