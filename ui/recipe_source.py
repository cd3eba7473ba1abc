"""Where the recipe in the Train tab's editor came from, so that its picker always names it: a
recipe file (shipped, or saved in the studio's recipes folder), a run's own recipe
(``adapters/<run>/recipe.yaml``) or an upload; and saving the editor's text as a new recipe file
in the studio's recipes folder (never over another one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lorastudio.recipe.loader import load_mapping, read_recipe_file
from lorastudio.recipe.text import list_recipes, save_recipe_text
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import RECIPE_FILE
from ui.config import StudioConfig

RUN_PREFIX = "run:"  # a picker value naming a run's recipe: "run:<run id>"
UPLOAD_MARK = "↑ "  # an upload's entry in the picker: "↑ <file name>"


@dataclass(frozen=True)
class Source:
    """One picker entry: what it shows and the value it stands for."""

    label: str
    value: str

    @property
    def choice(self) -> tuple[str, str]:
        return (self.label, self.value)


def file_sources(config: StudioConfig) -> list[Source]:
    """The recipe files, as the picker lists them (listed again each time: a saved one shows)."""
    return [Source(path.name, str(path)) for path in list_recipes(config.recipe_dirs)]


def run_source(run_id: str) -> Source:
    """A run's recipe, labelled by where it is (the same words in every language)."""
    return Source(f"adapters/{run_id}/{RECIPE_FILE}", RUN_PREFIX + run_id)


def upload_source(path: str, name: str) -> Source:
    return Source(UPLOAD_MARK + name, path)


def choices(config: StudioConfig, shown: Source | None = None) -> list[tuple[str, str]]:
    """The picker's entries: every recipe file, and ``shown`` when it is not one of them."""
    files = file_sources(config)
    if shown is not None and shown.value not in {s.value for s in files}:
        files.append(shown)
    return [source.choice for source in files]


def read(config: StudioConfig, value: str) -> tuple[str, Source]:
    """The text a picker value stands for, and its entry. A run's value is looked up in the
    run index (the picker only sends values it was given)."""
    if value.startswith(RUN_PREFIX):
        run_id = value.removeprefix(RUN_PREFIX)
        return run_recipe(config, run_id), run_source(run_id)
    path = Path(value)
    files = {s.value: s for s in file_sources(config)}
    source = files.get(value) or upload_source(value, path.name)
    return read_recipe_file(path), source


def run_recipe(config: StudioConfig, run_id: str) -> str:
    """The exact recipe a run trained with (overrides applied, every field explicit)."""
    run_dir = RunIndex(config.workspace.adapters_dir).find(run_id)
    return read_recipe_file(run_dir / RECIPE_FILE)


def save(config: StudioConfig, text: str, file_name: str) -> Path:
    """Save the editor's text into the studio's recipes folder as ``file_name`` (the recipe's
    own name when empty); a name the picker already lists is refused, with a free one to use.

    Raises:
        RecipeError: a bad or taken name, or text that is not a recipe.
    """
    if not file_name.strip():
        raw = _mapping(text)
        file_name = str(raw.get("name") or "recipe")
    folder = config.saved_recipes_dir
    taken = [path.name for path in list_recipes(config.recipe_dirs) if path.parent != folder]
    return save_recipe_text(text, folder, file_name, taken)


def _mapping(text: str) -> dict:
    return load_mapping(text) or {}
