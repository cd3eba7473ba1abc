"""Every sentence the core can say, in English and Chinese: one table, key -> (English, Chinese),
put together from one module per area so each area's words sit in one file. A test checks that
every key has both languages with the same placeholders and that every key the core uses is here.
"""

from __future__ import annotations

import functools

from lorastudio.messages.texts import (
    chat,
    cluster,
    data,
    general,
    machine,
    models,
    recipe,
    runs,
    speed,
)

AREAS = (general, recipe, data, machine, models, cluster, runs, chat, speed)
LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"


@functools.cache
def catalogue() -> dict[str, tuple[str, str]]:
    """The whole table (a key written in two areas is a mistake the tests catch)."""
    table: dict[str, tuple[str, str]] = {}
    for area in AREAS:
        table.update(area.TEXTS)
    return table


def template(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """The words for ``key`` in ``lang``, with their {placeholders}. An unknown key (a bug the
    tests catch) says itself rather than failing while an error is being reported."""
    english, chinese = catalogue().get(key, (key, key))
    return chinese if lang == "zh" else english
