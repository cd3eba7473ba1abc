"""Data that moves between machines: one archive (an uncompressed tar) holding a manifest, the
data files and, for a recipe bundle, the recipe with its datasets named as name@hash. Importing
checks every file's SHA-256 against the manifest and adds it as `data add` would, so a teammate
gets exactly the data the recipe was written for, or a message saying why not."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorastudio.data import ingest, registry
from lorastudio.data.formats import TAGS, Mapping
from lorastudio.data.problems import DataError
from lorastudio.messages import msg
from lorastudio.recipe.loader import MAX_RECIPE_BYTES, read_recipe_file
from lorastudio.recipe.schema import parse_recipe_text, split_dataset_ref
from lorastudio.recipe.text import set_field
from lorastudio.workspace import Workspace

MANIFEST = "lorastudio-data.json"
RECIPE = "recipe.yaml"
VERSION = 1
_MEMBER = re.compile(r"^data/[0-9a-f]{16}\.[a-z]+$")


def _exportable(ws: Workspace, ref: str) -> registry.Dataset:
    dataset = registry.find(ws, ref)
    if dataset.path is None or not dataset.path.is_file():
        raise DataError.one(msg("data.not_a_file", name=dataset.name), msg("fix.data_add"))
    return dataset


def _manifest_entry(dataset: registry.Dataset, digest: str) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "file": f"data/{digest[:16]}{dataset.path.suffix.lower()}",
        "source": dataset.source or dataset.path.name,
        "sha256": digest,
        "mapping": dataset.mapping.as_dict(),
    }


def _add_json(tar: tarfile.TarFile, name: str, text: str) -> None:
    data = text.encode("utf-8")
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def export(ws: Workspace, refs: list[str], out: Path, recipe_text: str | None = None) -> Path:
    """Write ``refs``' datasets (and ``recipe_text``, its datasets pinned) into ``out``.

    Raises:
        DataError: a dataset is not registered, or is not a single file.
    """
    datasets = [_exportable(ws, ref) for ref in refs]
    entries = []
    for dataset in datasets:
        digest = registry.current_digest(dataset) or registry.file_digest(dataset.path)
        entries.append(_manifest_entry(dataset, digest))
    manifest = {"lorastudio_data": VERSION, "datasets": entries}
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with tarfile.open(partial, "w") as tar:
            _add_json(tar, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
            if recipe_text is not None:
                _add_json(tar, RECIPE, pinned_recipe(recipe_text, entries))
            for dataset, entry in zip(datasets, entries, strict=True):
                tar.add(dataset.path, arcname=entry["file"], recursive=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def pinned_recipe(text: str, entries: list[dict[str, Any]]) -> str:
    """The recipe with every dataset it names written as name@hash (its comments kept)."""
    recipe = parse_recipe_text(text)
    digests = {e["name"]: e["sha256"][: registry.PIN_CHARS] for e in entries}
    refs = [
        f"{name}@{digests[name]}" if name in digests else ref
        for ref in recipe.data.datasets
        for name in [split_dataset_ref(ref)[0]]
    ]
    return set_field(text, "data.datasets", refs) if refs != recipe.data.datasets else text


def export_recipe(ws: Workspace, recipe_path: Path, out: Path | None = None) -> Path:
    """A recipe bundle: the recipe and every dataset it names, one archive."""
    text = read_recipe_file(recipe_path)  # a regular file of at most 1 MiB
    recipe = parse_recipe_text(text, source=str(recipe_path))
    out = out or Path.cwd() / f"{recipe.name}.lsdata.tar"
    return export(ws, list(recipe.data.datasets), out, recipe_text=text)


@dataclass
class Imported:
    """What an import did: datasets added, those already there with the same content, and
    where the recipe of a recipe bundle was written."""

    added: list[registry.Dataset] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    recipe: Path | None = None


def _bad(archive: Path, reason: str) -> DataError:
    return DataError.one(
        msg("data.bad_archive", file=archive.name, reason=reason), msg("fix.archive")
    )


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> list[dict[str, Any]]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest = json.loads(member.read().decode("utf-8")) if member else None
    except (KeyError, ValueError, UnicodeDecodeError, RecursionError):  # JSON nested past reason
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("lorastudio_data") != VERSION:
        raise _bad(archive, f"no {MANIFEST} of version {VERSION}")
    entries = manifest.get("datasets")
    ok = isinstance(entries, list) and all(
        isinstance(e, dict) and _MEMBER.match(str(e.get("file"))) and e.get("name") for e in entries
    )
    if not ok:
        raise _bad(archive, "its manifest lists files it cannot hold")
    return entries


def _mapping(entry: dict[str, Any]) -> Mapping:
    data = entry.get("mapping") or {}
    columns = {k: str(v) for k, v in (data.get("columns") or {}).items()}
    tags = {k: str(v) for k, v in (data.get("tags") or {}).items() if k in TAGS}
    return Mapping(str(data.get("format", "alpaca")), columns, tags)


def _extract(tar: tarfile.TarFile, entry: dict[str, Any], folder: Path, archive: Path) -> Path:
    """One data file out of the archive into ``folder``, its SHA-256 checked as it streams."""
    try:
        source = tar.extractfile(entry["file"])
    except KeyError:
        source = None
    if source is None:
        raise _bad(archive, f"{entry['file']} is missing")
    target = folder / Path(entry["file"]).name
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != entry.get("sha256"):
        raise DataError.one(
            msg(
                "data.archive_hash",
                file=entry["file"],
                found=digest.hexdigest()[: registry.PIN_CHARS],
                expected=str(entry.get("sha256"))[: registry.PIN_CHARS],
            ),
            msg("fix.archive"),
        )
    return target


def import_archive(ws: Workspace, archive: Path) -> Imported:
    """Add the datasets of an archive (each checked and stored as `data add` does) and put its
    recipe, if any, in the studio's recipes/ folder.

    Raises:
        DataError: not an archive of ours, a file whose hash is not the manifest's, a name
            already registered with other content, or a file with problems.
    """
    try:
        readable = tarfile.is_tarfile(archive)
    except OSError as exc:
        raise _bad(archive, exc.strerror or str(exc)) from None
    if not readable:
        raise _bad(archive, "not a tar archive")
    done = Imported()
    with (
        tarfile.open(archive, "r:*") as tar,
        tempfile.TemporaryDirectory(dir=_scratch(ws)) as folder,
    ):
        entries = _read_manifest(tar, archive)
        for entry in entries:
            if _already_there(ws, entry):
                done.present.append(entry["name"])
                continue
            registry.check_name(ws, entry["name"])
        wanted = [e for e in entries if e["name"] not in done.present]
        files = [_extract(tar, entry, Path(folder), archive) for entry in wanted]
        try:
            for entry, path in zip(wanted, files, strict=True):
                mapping, source = _mapping(entry), entry.get("source")
                added = ingest.add_dataset(ws, path, entry["name"], mapping, source_name=source)
                done.added.append(added.dataset)
        except BaseException:
            for dataset in done.added:  # all or nothing: what this import added goes again
                registry.unregister(ws, dataset.name)
            raise
        done.recipe = _import_recipe(ws, tar)
    return done


def _scratch(ws: Workspace) -> Path:
    folder = ws.data_dir / registry.STUDIO_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _already_there(ws: Workspace, entry: dict[str, Any]) -> bool:
    """The name is registered with this very content (importing twice changes nothing)."""
    try:
        dataset = registry.find(ws, entry["name"])
    except DataError:
        return False
    return registry.current_digest(dataset) == entry.get("sha256")


def _import_recipe(ws: Workspace, tar: tarfile.TarFile) -> Path | None:
    try:
        member = tar.extractfile(RECIPE)
    except KeyError:
        return None
    if member is None:
        return None
    data = member.read(MAX_RECIPE_BYTES + 1)  # one byte more is refused as too big
    text = data.decode("utf-8", "replace" if len(data) > MAX_RECIPE_BYTES else "strict")
    name = parse_recipe_text(text).name
    folder = ws.root / "recipes"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.yaml"
    if target.exists() and target.read_text(encoding="utf-8") != text:
        target = folder / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}.yaml"
    target.write_text(text, encoding="utf-8")
    return target
