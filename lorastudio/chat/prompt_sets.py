"""Prompt sets: a run's test prompts (its recipe's ``eval.prompts``) answered by base + adapter
and by the base alone with the same sampling, as a table saved in the run folder
(``prompts.jsonl``) so a teammate sees the same comparison."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lorastudio.chat.client import ChatClient
from lorastudio.chat.params import ChatParams
from lorastudio.chat.thinking import split_thinking
from lorastudio.errors import ChatError, ChatInputError, Problem, RecipeError
from lorastudio.files import write_text_atomic
from lorastudio.messages import msg
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.runs.layout import PROMPTS_FILE, RECIPE_FILE


@dataclass(frozen=True)
class PromptRow:
    """One line of the comparison table: the answers without their thinking, which is kept
    beside them ("" when a reply did not think)."""

    prompt: str
    base: str
    adapter: str
    base_thinking: str = ""
    adapter_thinking: str = ""


def recipe_prompts(run_dir: Path) -> list[str]:
    """The test prompts of the recipe the run was trained with (``eval.prompts``)."""
    try:
        text = (Path(run_dir) / RECIPE_FILE).read_text(encoding="utf-8")
        return list(parse_recipe_text(text, source=str(run_dir / RECIPE_FILE)).eval.prompts)
    except OSError as exc:
        raise ChatError(msg("chat.no_recipe", reason=exc)) from None
    except RecipeError as exc:
        problems = [problem.as_msg() for problem in exc.problems]
        raise ChatError(msg("chat.no_recipe", reason=problems)) from None


def check_prompts(prompts: list[str]) -> list[str]:
    """The prompts, when there is at least one and none is blank (else ChatInputError)."""
    empty = msg("chat.empty")
    if not prompts:
        raise ChatInputError([Problem("eval.prompts", [], empty, msg("chat.fix.add_prompts"))])
    blank = [i for i, prompt in enumerate(prompts) if not str(prompt).strip()]
    if blank:
        fix = msg("chat.fix.remove_prompt")
        raise ChatInputError([Problem(f"eval.prompts[{i}]", prompts[i], empty, fix) for i in blank])
    return prompts


def iter_prompt_set(
    client: ChatClient, prompts: list[str], params: ChatParams | None = None
) -> Iterator[PromptRow]:
    """Answer each prompt with base + adapter, then with the base alone; one row at a time.

    Raises:
        ChatInputError: at call time, when there are no prompts or one is empty.
    """
    return _rows(client, check_prompts(prompts), params or ChatParams())


def _rows(client: ChatClient, prompts: list[str], params: ChatParams) -> Iterator[PromptRow]:
    for prompt in prompts:
        messages = [{"role": "user", "content": prompt}]
        adapter = split_thinking(client.answer(messages, params, adapter=True))
        base = split_thinking(client.answer(messages, params, adapter=False))
        yield PromptRow(
            prompt=prompt,
            base=base.answer,
            adapter=adapter.answer,
            base_thinking=base.thinking or "",
            adapter_thinking=adapter.thinking or "",
        )


def save_prompt_table(
    run_dir: Path, rows: list[PromptRow], params: ChatParams, template: str
) -> Path:
    """Write the table to ``<run>/prompts.jsonl`` (atomically; replaces the last one)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta = {"template": template, "params": params.model_dump(), "created_at": stamp}
    lines = [json.dumps(asdict(row) | meta, ensure_ascii=False) for row in rows]
    path = Path(run_dir) / PROMPTS_FILE
    write_text_atomic(path, "".join(f"{line}\n" for line in lines))
    return path


def read_prompt_table(run_dir: Path) -> list[dict[str, Any]]:
    """The saved table of a run (empty when none was saved)."""
    path = Path(run_dir) / PROMPTS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def run_prompt_set(
    client: ChatClient, prompts: list[str] | None = None, params: ChatParams | None = None
) -> list[PromptRow]:
    """Run a prompt set through the client's loaded run and save the table in its folder.

    Args:
        client: a client with the run loaded (``client.load(resolve_setup(run_dir))``).
        prompts: the prompts; the run's recipe's ``eval.prompts`` when None.
        params: sampling settings shared by both columns.

    Raises:
        ChatInputError: no prompts, or an empty one.
    """
    setup = client.setup
    if setup is None:
        raise ChatError(msg("chat.not_loaded"))
    run_dir = Path(setup.run_dir)
    params = params or ChatParams()
    chosen = recipe_prompts(run_dir) if prompts is None else list(prompts)
    rows = list(iter_prompt_set(client, chosen, params))
    save_prompt_table(run_dir, rows, params, setup.template)
    return rows
