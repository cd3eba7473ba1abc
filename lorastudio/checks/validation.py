"""Checks a recipe against the world it will run in — the installed LLaMA-Factory (templates,
argument names) and the studio's folders (models, registered datasets, data files) — and merges
those problems with the schema's, so the user sees every problem at once."""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path
from typing import Any

from lorastudio.data.formats import mapping_from_entry
from lorastudio.data.layout import first_record, layout_problem
from lorastudio.data.problems import DataError
from lorastudio.data.registry import is_pin
from lorastudio.errors import Problem, RecipeError
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import MANAGED_KEYS
from lorastudio.messages import Msg, msg
from lorastudio.models.templates import AUTO, template_problems, thinking_asked
from lorastudio.recipe.loader import load_yaml, read_recipe_file
from lorastudio.recipe.schema import (
    Recipe,
    merge_overrides,
    parse_overrides,
    parse_recipe_text,
    split_dataset_ref,
)
from lorastudio.workspace import Workspace

FORMAT_FIXES = {"alpaca": "fix.alpaca_layout", "sharegpt": "fix.sharegpt_layout"}
EXAMPLE_HUB_ID = "Qwen/Qwen2.5-0.5B-Instruct"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet", ".arrow", ".txt")
MAX_SUGGESTIONS = 20


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _maybe(word: str, choices: list[str] | frozenset[str], fix: Msg, nth: int = 1) -> Msg:
    """``fix``, after "did you mean `x`?" where one of ``choices`` is close to ``word`` — for
    the first `MAX_SUGGESTIONS` unknown names of a list (``nth`` counts them): each is a
    search, and a file of thousands of unknown keys gets its plain fixes at once."""
    if nth > MAX_SUGGESTIONS:
        return fix
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return msg("fix.maybe", word=match[0], fix=fix) if match else fix


def _model_problems(model: dict[str, Any], workspace: Workspace) -> list[Problem]:
    problems = []
    template = model.get("template", AUTO)
    known = llamafactory_spec.known_templates()
    if isinstance(template, str) and template != AUTO and template not in known:
        problems.append(
            Problem(
                "model.template",
                template,
                msg("problem.unknown_template"),
                _maybe(template, llamafactory_spec.known_templates(), msg("fix.template")),
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
                    msg("problem.folder_missing", path=local),
                    msg("fix.model_folder", id=EXAMPLE_HUB_ID),
                )
            )
        elif not (local / "config.json").is_file():
            problems.append(
                Problem(
                    "model.id",
                    model_id,
                    msg("problem.no_config", path=local),
                    msg("fix.model_config"),
                )
            )
    elif not HUB_ID.match(model_id):
        problems.append(
            Problem(
                "model.id",
                model_id,
                msg("problem.not_an_id"),
                msg("fix.model_id", id=EXAMPLE_HUB_ID),
            )
        )
    if problems or not _checkable(model):
        return problems
    return template_problems(model, local)  # the template guard, once the id and name are right


def _checkable(model: dict[str, Any]) -> bool:
    """Whether the template guard can read the model section (the schema reports wrong types)."""
    return (
        isinstance(model.get("template", AUTO), str)
        and thinking_asked(model.get("thinking", AUTO)) in ("auto", "on", "off")
        and isinstance(model.get("template_override", False), bool)
    )


def _nul_problem(field: str, value: str) -> Problem:
    return Problem(field, value, msg("problem.nul"), msg("fix.remove"))


def _data_problems(data: dict[str, Any], workspace: Workspace, stage: Any = "sft") -> list[Problem]:
    problems = []
    names = data.get("datasets")
    if isinstance(names, list) and names:
        registry = workspace.dataset_registry()
        unknown = 0
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
                unknown += 1
                problems.append(
                    Problem(
                        f"data.datasets[{index}]",
                        ref,
                        msg("problem.not_registered", path=workspace.registry_path),
                        _maybe(name, list(registry), msg("fix.register"), unknown),
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
                    msg("problem.outside_data", path=workspace.data_dir),
                    msg("fix.inside_data"),
                )
            )
        elif not path.is_file():
            problems.append(
                Problem(
                    field,
                    relative,
                    msg("problem.not_a_file", path=path),
                    msg("fix.check_name"),
                )
            )
        elif path.suffix.lower() not in DATA_SUFFIXES:
            problems.append(
                Problem(
                    field,
                    relative,
                    msg("problem.not_data"),
                    msg("fix.use_one_of", choices=", ".join(DATA_SUFFIXES)),
                )
            )
        else:
            layout = data.get("format", "alpaca")
            try:
                record = first_record(path)
            except DataError as exc:
                said = exc.problems[0]
                problems.append(
                    Problem(field, relative, said.message, said.fix or msg("fix.check_name"))
                )
                continue
            wrong = layout_problem(record, layout) if record is not None else None
            if wrong and layout in FORMAT_FIXES:
                problems.append(
                    Problem(
                        field,
                        relative,
                        msg("problem.layout", layout=layout, wrong=wrong),
                        msg(FORMAT_FIXES[layout]),
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
    "bool": "fix.write_bool",
    "int": "fix.write_int",
    "float": "fix.write_number",
    "str": "fix.write_text",
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
    unknown = 0
    for key, value in extra.items():
        field = f"extra.{key}"
        if not isinstance(key, str):
            continue  # the schema reports it: keys are strings
        if key not in types:
            unknown += 1
            problems.append(
                Problem(
                    field,
                    value,
                    msg("problem.not_an_argument"),
                    _maybe(key, list(types), msg("fix.lf_docs"), unknown),
                )
            )
        elif key in MANAGED_KEYS:
            managed = MANAGED_KEYS[key]
            fix = (
                msg("fix.managed_fixed", arg=key, how=managed)
                if isinstance(managed, Msg)
                else msg("fix.set_instead", field=managed)
            )
            problems.append(Problem(field, value, msg("problem.managed"), fix))
        elif not _type_fits(types[key], value):
            kind = _KINDS.get(types[key].removesuffix(" | None"))
            fix = msg(kind) if kind else msg("fix.write_kind", kind=types[key])
            message = msg("problem.extra_type", arg=key, kind=types[key])
            problems.append(Problem(field, value, message, fix))
        elif key in _WRITES_TO and isinstance(value, str) and not _inside(value, workspace.root):
            problems.append(
                Problem(
                    field,
                    value,
                    msg("problem.outside_studio", path=workspace.root),
                    msg("fix.inside_studio"),
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
        if any(
            p.field == "(file)" or p.message.key == "problem.newer_schema" for p in exc.problems
        ):
            raise  # not a recipe of this version: its keys mean nothing yet
        schema_problems = exc.problems
    raw = merge_overrides(load_yaml(text), override_tree)
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
    return check_recipe_text(
        read_recipe_file(path), workspace, source=str(path), overrides=overrides
    )
