"""Which data a run trained on — each dataset's name, file and SHA-256, recorded in the run
folder's data.json when it starts — and which datasets live runs are using, so a dataset in use
is never removed from under its run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorastudio.data import registry
from lorastudio.data.problems import DataError
from lorastudio.files import write_json_atomic
from lorastudio.messages import msg
from lorastudio.recipe.schema import Recipe, parse_recipe_text, split_dataset_ref
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import DATA_FILE, RECIPE_FILE
from lorastudio.workspace import Workspace


def data_record(recipe: Recipe, ws: Workspace) -> list[dict[str, Any]]:
    """One entry per dataset of the recipe: its name, the file it is, that file's SHA-256 now,
    its rows and layout (from the studio's record when it has one)."""
    record = []
    for ref in recipe.data.datasets:
        name, pin = split_dataset_ref(ref)
        try:
            dataset = registry.find(ws, name)
        except DataError:
            record.append({"name": name, "pinned": pin})
            continue
        digest = registry.current_digest(dataset)
        record.append(
            {
                "name": name,
                "pinned": pin,
                "file": str(dataset.path) if dataset.path else None,
                "sha256": digest,
                "ref": f"{name}@{digest[: registry.PIN_CHARS]}" if digest else name,
                "rows": dataset.rows,
                "format": dataset.mapping.format,
            }
        )
    for relative in recipe.data.files:
        path = ws.data_dir / relative
        digest = registry.file_digest(path) if path.is_file() else None
        record.append({"name": relative, "file": str(path), "sha256": digest})
    return record


def record_data(run_dir: Path, recipe: Recipe, ws: Workspace) -> None:
    """Write the run's data.json."""
    write_json_atomic(run_dir / DATA_FILE, data_record(recipe, ws))


def run_data(run_dir: Path) -> list[dict[str, Any]]:
    """What a run's data.json says (empty for runs made before it existed)."""
    try:
        data = json.loads((run_dir / DATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def shown(run_dir: Path) -> str:
    """The run's data as one line: ``name@hash, …``."""
    return ", ".join(entry.get("ref") or entry.get("name", "?") for entry in run_data(run_dir))


def live_users(ws: Workspace, name: str) -> list[str]:
    """The live runs (starting, running, stopping) whose recipe names dataset ``name``."""
    users = []
    for info in RunIndex(ws.adapters_dir).sync():
        if not info.state.live:
            continue
        run_dir = ws.adapters_dir / info.id
        names = {entry.get("name") for entry in run_data(run_dir)}
        if not names:
            try:
                text = (run_dir / RECIPE_FILE).read_text(encoding="utf-8")
                names = {split_dataset_ref(r)[0] for r in parse_recipe_text(text).data.datasets}
            except Exception:  # an unreadable recipe: it cannot be said to use it
                names = set()
        if name in names:
            users.append(info.id)
    return users


def remove_dataset(ws: Workspace, name: str) -> registry.Dataset:
    """Unregister a dataset (and delete the file the studio stored), unless a live run uses it.

    Raises:
        DataError: no such dataset, or a live run trains on it (naming the run).
    """
    registry.find(ws, name)
    users = live_users(ws, name)
    if users:
        raise DataError.one(msg("data.in_use", name=name, run=users[0]), msg("fix.wait_run"))
    return registry.unregister(ws, name)
