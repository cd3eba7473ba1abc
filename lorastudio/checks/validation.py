"""Checks a recipe against the world it will run in — the installed LLaMA-Factory (templates,
argument names) and the studio's folders (models, registered datasets, data files) — and merges
those problems with the schema's, so the user sees every problem at once."""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from lorastudio.data.formats import mapping_from_entry
from lorastudio.data.layout import first_record, layout_problem
from lorastudio.data.registry import is_pin
from lorastudio.errors import Problem, RecipeError
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import MANAGED_KEYS
from lorastudio.messages import msg
from lorastudio.recipe.schema import (
    Recipe,
    merge_overrides,
    parse_overrides,
    parse_recipe_text,
    split_dataset_ref,
)
from lorastudio.workspace import Workspace

FORMAT_FIXES = {
    "alpaca": 'write each record as {"instruction": …, "input": …, "output": …}, or set '
    "data.format: sharegpt for conversations",
    "sharegpt": 'write each record as {"conversations": [{"from": "human", "value": …}, '
    '{"from": "gpt", "value": …}]}, or set data.format: alpaca',
}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".arrow", ".txt")


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _close(word: str, choices: list[str] | frozenset[str]) -> str:
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`? " if match else ""


def _model_problems(model: dict[str, Any], workspace: Workspace) -> list[Problem]:
    problems = []
    template = model.get("template", "qwen")
    if isinstance(template, str) and template not in llamafactory_spec.known_templates():
        problems.append(
            Problem(
                "model.template",
                template,
                "is not a template LLaMA-Factory knows",
                f"{_close(template, llamafactory_spec.known_templates())}"
                "use qwen for Qwen2/Qwen2.5, qwen3 for Qwen3 "
                "(`python launch.py templates` lists all)",
            )
        )
    model_id = model.get("id")
    if not isinstance(model_id, str) or not model_id:
        return problems
    if "\0" in model_id:
        return [*problems, _nul_problem("model.id", model_id)]
    local = workspace.resolve_model(model_id)
    if local is not None:
        if not local.is_dir():
            problems.append(
                Problem(
                    "model.id",
                    model_id,
                    f"names a local folder that does not exist ({local})",
                    "download the model there, fix the path, or use a hub id like "
                    "Qwen/Qwen2.5-0.5B-Instruct",
                )
            )
        elif not (local / "config.json").is_file():
            problems.append(
                Problem(
                    "model.id",
                    model_id,
                    f"is a folder without config.json ({local})",
                    "point it at the folder that holds the model's config.json and weights",
                )
            )
    elif not HUB_ID.match(model_id):
        problems.append(
            Problem(
                "model.id",
                model_id,
                "is neither a local folder nor a hub id",
                "write a hub id like Qwen/Qwen2.5-0.5B-Instruct or a path to a model folder",
            )
        )
    return problems


def _nul_problem(field: str, value: str) -> Problem:
    return Problem(field, value, "contains a NUL character, which no path can", "remove it")


def _data_problems(data: dict[str, Any], workspace: Workspace, stage: Any = "sft") -> list[Problem]:
    problems = []
    names = data.get("datasets")
    if isinstance(names, list) and names:
        registry = workspace.dataset_registry()
        for index, ref in enumerate(names):
            if not isinstance(ref, str):
                continue
            name, pin = split_dataset_ref(ref)
            if pin is not None and not is_pin(pin):
                problems.append(
                    Problem(
                        f"data.datasets[{index}]", ref, msg("data.bad_ref", ref=ref), msg("fix.ref")
                    )
                )
            elif name in registry:
                problems += _stage_problems(f"data.datasets[{index}]", ref, registry[name], stage)
            else:
                problems.append(
                    Problem(
                        f"data.datasets[{index}]",
                        ref,
                        f"is not registered in {workspace.registry_path}",
                        f"{_close(name, list(registry))}add it to that dataset_info.json, "
                        "list a local file under data.files instead, or set "
                        "LORASTUDIO_DATA_DIR to the folder that registers it "
                        "(e.g. LLaMA-Factory's data/)",
                    )
                )
    files = data.get("files")
    for index, relative in enumerate(files if isinstance(files, list) else []):
        if not isinstance(relative, str):
            continue
        field = f"data.files[{index}]"
        if "\0" in relative:
            problems.append(_nul_problem(field, relative))
            continue
        path = (workspace.data_dir / relative).resolve()
        if not path.is_relative_to(workspace.data_dir):
            problems.append(
                Problem(
                    field,
                    relative,
                    f"points outside the data folder ({workspace.data_dir})",
                    "put the file inside the data folder and give its path relative to it",
                )
            )
        elif not path.is_file():
            problems.append(
                Problem(
                    field,
                    relative,
                    f"is not a file ({path})",
                    "check the name; paths are relative to the data folder",
                )
            )
        elif path.suffix.lower() not in DATA_SUFFIXES:
            problems.append(
                Problem(
                    field,
                    relative,
                    "is not a data file LLaMA-Factory reads",
                    f"use one of {', '.join(DATA_SUFFIXES)}",
                )
            )
        else:
            layout = data.get("format", "alpaca")
            record = first_record(path)
            wrong = layout_problem(record, layout) if record is not None else None
            if wrong and layout in FORMAT_FIXES:
                problems.append(
                    Problem(
                        field,
                        relative,
                        f"is not in the {layout} layout: {wrong}",
                        FORMAT_FIXES[layout],
                    )
                )
    return problems


def _stage_problems(field: str, ref: str, entry: Any, stage: Any) -> list[Problem]:
    """A plain-text dataset needs train.stage pt, and pt trains on plain text only."""
    if not isinstance(entry, dict):
        return []
    fmt = mapping_from_entry(entry).format
    if stage == "pt" and fmt != "text":
        return [Problem(field, ref, msg("data.chat_in_pt", format=fmt), msg("fix.stage_sft"))]
    if stage == "sft" and fmt == "text":
        return [Problem(field, ref, msg("data.plain_text_in_sft"), msg("fix.stage_pt"))]
    return []


_SCALARS = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str | int | float) and not isinstance(v, bool),
}
_KINDS = {
    "bool": "write true or false",
    "int": "write a whole number",
    "float": "write a number",
    "str": "write text",
}
# Pass-through keys that write where they point: they must stay inside the studio's folder.
_WRITES_TO = ("tokenized_path",)


def _type_fits(annotation: str, value: Any) -> bool:
    """Whether a YAML value fits a LLaMA-Factory argument's annotation; True where the
    annotation is beyond these simple forms (LLaMA-Factory's parser has the last word)."""
    text = annotation.replace("typing.", "")
    optional = re.fullmatch(r"Optional\[(.*)\]", text)
    parts = [p.strip() for p in (optional.group(1) if optional else text).split("|")]
    if optional or "None" in parts:
        if value is None:
            return True
        parts = [p for p in parts if p != "None"]
    if len(parts) != 1:
        return True
    literal = re.fullmatch(r"Literal\[(.*)\]", parts[0])
    if literal:
        try:
            return value in ast.literal_eval(f"[{literal.group(1)}]")
        except (ValueError, SyntaxError):
            return True
    check = _SCALARS.get(parts[0])
    return check(value) if check else True


def _extra_problems(extra: dict[Any, Any], workspace: Workspace) -> list[Problem]:
    problems = []
    types = llamafactory_spec.train_argument_types()
    for key, value in extra.items():
        field = f"extra.{key}"
        if not isinstance(key, str):
            continue  # the schema reports it: keys are strings
        if key not in types:
            problems.append(
                Problem(
                    field,
                    value,
                    "is not a LLaMA-Factory training argument",
                    f"{_close(key, list(types))}check the name in LLaMA-Factory's docs",
                )
            )
        elif key in MANAGED_KEYS:
            managed = MANAGED_KEYS[key]
            problems.append(
                Problem(
                    field,
                    value,
                    "is set by the recipe itself",
                    f"remove it: LoRA Studio trains with {key} {managed[1:-1]}"
                    if managed.startswith("(")
                    else f"set {managed} instead",
                )
            )
        elif not _type_fits(types[key], value):
            problems.append(
                Problem(
                    field,
                    value,
                    f"does not fit LLaMA-Factory's {key}, which takes {types[key]}",
                    _KINDS.get(
                        types[key].removesuffix(" | None"), f"write a value of type {types[key]}"
                    ),
                )
            )
        elif key in _WRITES_TO and isinstance(value, str) and not _inside(value, workspace.root):
            problems.append(
                Problem(
                    field,
                    value,
                    f"points outside the studio folder ({workspace.root})",
                    "give a path inside the studio folder, or remove it",
                )
            )
    return problems


def _inside(path: str, root: Path) -> bool:
    try:
        return (root / path).resolve().is_relative_to(root)
    except (ValueError, OSError):  # a NUL byte, a loop of links
        return False


def world_problems(raw: dict[str, Any], workspace: Workspace) -> list[Problem]:
    """Problems only this machine can see, read from the raw recipe so they can be reported
    together with schema errors."""
    extra = raw.get("extra")
    return [
        *_model_problems(_section(raw, "model"), workspace),
        *_data_problems(
            _section(raw, "data"), workspace, _section(raw, "train").get("stage", "sft")
        ),
        *_extra_problems(extra if isinstance(extra, dict) else {}, workspace),
    ]


def check_recipe_text(
    text: str,
    workspace: Workspace,
    *,
    source: str = "recipe",
    overrides: list[str] | None = None,
) -> Recipe:
    """Parse, validate and check a recipe against this workspace.

    Raises:
        RecipeError: with every schema and world problem found.
    """
    override_tree = parse_overrides(overrides or [])
    schema_problems: list[Problem] = []
    recipe = None
    try:
        recipe = parse_recipe_text(text, source=source, overrides=override_tree)
    except RecipeError as exc:
        if any(p.field == "(file)" or str(p.message).startswith("is newer") for p in exc.problems):
            raise  # not a recipe of this version: its keys mean nothing yet
        schema_problems = exc.problems
    raw = merge_overrides(yaml.safe_load(text), override_tree)
    problems = schema_problems + [
        p
        for p in world_problems(raw, workspace)
        if p.field not in {q.field for q in schema_problems}
    ]
    if problems:
        raise RecipeError(problems)
    assert recipe is not None
    return recipe


def check_recipe_file(
    path: str | Path, workspace: Workspace, *, overrides: list[str] | None = None
) -> Recipe:
    """Like `check_recipe_text`, for a file (unreadable files are a RecipeError too)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RecipeError(
            [
                Problem(
                    "(file)",
                    str(path),
                    f"cannot be read: {reason}",
                    "check the path; recipes live in recipes/",
                )
            ]
        ) from None
    return check_recipe_text(text, workspace, source=str(path), overrides=overrides)
