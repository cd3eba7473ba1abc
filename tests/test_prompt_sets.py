"""Prompt sets: the recipe's eval.prompts answered by base + adapter and by the base alone, the
table returned and saved in the run folder as JSONL for a teammate to read."""

from __future__ import annotations

import json

import pytest
from conftest import NAME, LearnedRun

from lorastudio.chat.client import ChatClient
from lorastudio.chat.params import ChatParams
from lorastudio.chat.prompt_sets import iter_prompt_set, read_prompt_table, run_prompt_set
from lorastudio.errors import ChatInputError

pytestmark = pytest.mark.slow

GREEDY = ChatParams(temperature=0, max_new_tokens=24)


def test_one_call_runs_the_recipes_prompts_through_both_and_saves_the_table(
    learned_run: LearnedRun, chat_client: ChatClient
):
    rows = run_prompt_set(chat_client, params=GREEDY)

    assert [row.prompt for row in rows] == ["Who are you?", "What is your name?"]
    for row in rows:
        assert row.adapter.startswith(learned_run.answers[row.prompt])
        assert NAME not in row.base
    lines = (learned_run.run_dir / "prompts.jsonl").read_text().splitlines()
    saved = [json.loads(line) for line in lines]
    assert [(s["prompt"], s["base"], s["adapter"]) for s in saved] == [
        (r.prompt, r.base, r.adapter) for r in rows
    ]
    assert saved[0]["template"] == "qwen"
    assert saved[0]["params"] == GREEDY.model_dump()
    assert read_prompt_table(learned_run.run_dir) == saved


def test_prompts_given_by_the_caller_replace_the_recipes(chat_client: ChatClient):
    rows = list(iter_prompt_set(chat_client, ["hi"], GREEDY))
    assert [row.prompt for row in rows] == ["hi"]
    assert NAME in rows[0].adapter


@pytest.mark.parametrize("prompts", [[], ["Who are you?", "  "]])
def test_an_empty_prompt_set_or_an_empty_prompt_is_refused_before_anything_runs(
    chat_client: ChatClient, prompts: list[str]
):
    with pytest.raises(ChatInputError, match=r"eval\.prompts") as refused:
        iter_prompt_set(chat_client, prompts)
    assert [p.message.key for p in refused.value.problems] == ["chat.empty"]
    assert "是空的。修正：请" in refused.value.text("zh")
