"""Everything the data area says exists in English and Chinese with the same placeholders, and
every key its code asks for is in the catalogue (a missing key would print itself)."""

from __future__ import annotations

import re
import string

import pytest
from conftest import REPO

from lorastudio.messages.catalog import catalogue
from lorastudio.messages.texts.data import TEXTS

CJK = re.compile(r"[\u4e00-\u9fff]")
SOURCES = [
    *sorted((REPO / "lorastudio" / "data").glob("*.py")),
    REPO / "lorastudio" / "runs" / "datasets.py",
    REPO / "lorastudio" / "cli" / "datasets.py",
    REPO / "lorastudio" / "checks" / "validation.py",
]


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_each_data_text_has_both_languages_with_the_same_placeholders(key):
    english, chinese = TEXTS[key]
    assert english.strip() and CJK.search(chinese), key
    assert placeholders(english) == placeholders(chinese), key


def test_every_key_the_data_code_asks_for_is_in_the_catalogue():
    used = set()
    for path in SOURCES:
        used |= set(re.findall(r'msg\(\s*"([\w.]+)"', path.read_text()))
    assert len(used) > 60
    assert used - set(catalogue()) == set()
