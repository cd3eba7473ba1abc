"""The recipe editor's logic, without widgets: check recipe text against this machine, place
each problem next to the field it names, and write the text out for downloading. The Train tab
calls these and turns the results into component updates."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorastudio.checks.validation import check_recipe_text
from lorastudio.data.registry import pin_warnings
from lorastudio.errors import LoraStudioError, Problem, RecipeError
from lorastudio.launch import launcher
from lorastudio.messages import Msg
from lorastudio.recipe.loader import load_mapping
from lorastudio.recipe.schema import NAME_PATTERN, Recipe
from ui.config import StudioConfig

_INDEX = re.compile(r"\[\d+\]$")


@dataclass(frozen=True)
class Checked:
    """Recipe text after checking: the raw mapping (None when the text is not one), every
    problem, and — when there are none — the compiled config and command."""

    text: str
    raw: dict[str, Any] | None
    recipe: Recipe | None = None
    problems: list[Problem] = field(default_factory=list)
    error: Exception | None = None  # a failure that is not about the recipe (setup, disk)
    compiled: str = ""
    plan: Msg | None = None  # the speed plan, said above the compiled config
    command: str = ""
    warnings: list[Problem] = field(default_factory=list)  # e.g. data whose hash differs


def check(text: str, config: StudioConfig) -> Checked:
    """Validate recipe text as `python launch.py validate` would, then preview its launch."""
    raw = load_mapping(text)
    try:
        recipe = check_recipe_text(text, config.workspace, source="recipe")
        compiled, command = launcher.preview(recipe, config.workspace, config.hardware)
    except RecipeError as exc:
        return Checked(text, raw, problems=exc.problems)
    except (LoraStudioError, OSError) as exc:
        return Checked(text, raw, error=exc)
    args = yaml.safe_dump(compiled.args, sort_keys=False, allow_unicode=True)
    warnings = pin_warnings(recipe.data.datasets, config.workspace)
    plan = compiled.plan.describe() if compiled.plan else None
    return Checked(
        text, raw, recipe=recipe, compiled=args, plan=plan, command=command, warnings=warnings
    )


@dataclass(frozen=True)
class Placed:
    """Problems sorted by where the form shows them."""

    fields: dict[str, list[Problem]]
    sections: dict[str, list[Problem]]
    general: list[Problem]


def place(problems: list[Problem], field_paths: set[str], sections: set[str]) -> Placed:
    """Put each problem beside its field (``data.datasets[1]`` → ``data.datasets``,
    ``extra.foo`` → ``extra``), a section's cross-field problem on the section, the rest
    (file, unknown keys, disk) under the YAML."""
    placed = Placed({}, {}, [])
    for problem in problems:
        path = _INDEX.sub("", problem.field)
        if path.startswith("extra."):
            path = "extra"
        if path in field_paths:
            placed.fields.setdefault(path, []).append(problem)
        elif path in sections:
            placed.sections.setdefault(path, []).append(problem)
        else:
            placed.general.append(problem)
    return placed


def download_path(text: str, raw: dict[str, Any] | None, downloads_dir: Path) -> Path:
    """Write the text to a file named after the recipe (one folder per content, so two tabs
    never overwrite each other's download) and return its path."""
    name = raw.get("name") if raw else None
    if not (isinstance(name, str) and re.match(NAME_PATTERN, name)):
        name = "recipe"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = downloads_dir / digest / f"{name}.yaml"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path
