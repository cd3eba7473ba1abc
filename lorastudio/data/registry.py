"""The studio's datasets in the data folder's `dataset_info.json`: entries written for the user
(LLaMA-Factory's own format, plus a `lorastudio` record of the file's SHA-256, rows, layout and
size), listed, found by name, removed; and a recipe's `name@hash` references checked against the
file on disk. Files added through the studio live in `studio/` under their content hash."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorastudio.data.formats import Mapping, mapping_from_entry
from lorastudio.data.problems import DataError
from lorastudio.errors import Problem
from lorastudio.files import write_json_atomic
from lorastudio.messages import msg
from lorastudio.recipe.schema import split_dataset_ref as split_ref
from lorastudio.workspace import Workspace

STUDIO_DIR = "studio"  # data/studio/<sha256[:16]>.<ext>: the files added through LoRA Studio
META = "lorastudio"  # the key of LoRA Studio's own record inside an entry (LLaMA-Factory skips it)
PIN_CHARS = 12  # a recipe names data as name@<first 12 hex digits of its SHA-256>
NAME = re.compile(r"^[^\s,@/\\.\-][^\s,@/\\]{0,63}$")
_PIN = re.compile(r"^[0-9a-f]{6,64}$")


@dataclass(frozen=True)
class Dataset:
    """A registered dataset as the studio lists it (``sha256``, ``rows`` … are None for an
    entry written by hand, e.g. LLaMA-Factory's demo data)."""

    name: str
    file_name: str | None
    path: Path | None
    mapping: Mapping
    sha256: str | None = None
    rows: int | None = None
    size: int | None = None
    source: str | None = None
    added: float | None = None
    duplicates: int = 0

    @property
    def studio(self) -> bool:
        """Added through LoRA Studio (not written by hand)."""
        return self.sha256 is not None

    @property
    def ref(self) -> str:
        """How a recipe names it: ``name@hash`` (the bare name when no hash is recorded)."""
        return f"{self.name}@{self.sha256[:PIN_CHARS]}" if self.sha256 else self.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": self.ref,
            "file": str(self.path) if self.path else None,
            "format": self.mapping.format,
            "rows": self.rows,
            "size": self.size,
            "sha256": self.sha256,
            "source": self.source,
            "added": self.added,
            "duplicates": self.duplicates,
            "mapping": self.mapping.as_dict(),
        }


def is_pin(text: str) -> bool:
    return bool(_PIN.match(text))


def _dataset(ws: Workspace, name: str, entry: dict[str, Any]) -> Dataset:
    meta = entry.get(META) if isinstance(entry.get(META), dict) else {}
    file_name = entry.get("file_name") if isinstance(entry.get("file_name"), str) else None
    return Dataset(
        name=name,
        file_name=file_name,
        path=ws.data_dir / file_name if file_name else None,
        mapping=mapping_from_entry(entry),
        sha256=meta.get("sha256"),
        rows=meta.get("rows"),
        size=meta.get("size"),
        source=meta.get("source"),
        added=meta.get("added"),
        duplicates=meta.get("duplicates", 0),
    )


def datasets(ws: Workspace) -> list[Dataset]:
    """Every registered dataset, the studio's first (newest first), then the others by name."""
    found = [_dataset(ws, name, entry) for name, entry in ws.dataset_registry().items()]
    found = [d for d in found if isinstance(d.name, str)]
    return sorted(found, key=lambda d: (not d.studio, -(d.added or 0), d.name))


def find(ws: Workspace, ref: str) -> Dataset:
    """The dataset a name (or ``name@hash``) stands for.

    Raises:
        DataError: no dataset of that name is registered.
    """
    name, _ = split_ref(ref)
    entry = ws.dataset_registry().get(name)
    if not isinstance(entry, dict):
        raise DataError.one(
            msg("data.not_registered", name=name, registry=ws.registry_path), msg("fix.data_add")
        )
    return _dataset(ws, name, entry)


def check_name(ws: Workspace, name: str) -> None:
    """Refuse a name LLaMA-Factory or a recipe cannot use, or one already registered."""
    if not NAME.match(name):
        raise DataError.one(msg("data.bad_name", name=name), msg("fix.data_name"))
    if name in ws.dataset_registry():
        raise DataError.one(msg("data.name_taken", name=name), msg("fix.name_taken"))


@contextlib.contextmanager
def locked(ws: Workspace) -> Iterator[None]:
    """Hold the data folder's registry lock (two studios or CLIs adding at once)."""
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    with (ws.data_dir / ".dataset_info.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def register(ws: Workspace, name: str, entry: dict[str, Any]) -> Dataset:
    """Add ``entry`` under ``name`` to dataset_info.json, keeping every other entry (hold
    `locked` around the check of the name and this).

    Raises:
        DataError: the name is taken.
    """
    registry = ws.dataset_registry()
    if name in registry:
        raise DataError.one(msg("data.name_taken", name=name), msg("fix.name_taken"))
    write_json_atomic(ws.registry_path, registry | {name: entry})
    return _dataset(ws, name, entry)


def unregister(ws: Workspace, name: str) -> Dataset:
    """Remove ``name`` from dataset_info.json; a file the studio stored goes too unless another
    entry uses the same content. A hand-written entry's file is left where it is.

    Raises:
        DataError: no dataset of that name is registered.
    """
    with locked(ws):
        dataset = find(ws, name)
        registry = ws.dataset_registry()
        del registry[name]
        write_json_atomic(ws.registry_path, registry)
        shared = any(
            isinstance(e, dict) and e.get("file_name") == dataset.file_name
            for e in registry.values()
        )
        stored = dataset.path is not None and dataset.path.parent == ws.data_dir / STUDIO_DIR
        if dataset.studio and stored and not shared:
            dataset.path.unlink(missing_ok=True)
    return dataset


def meta_record(sha256: str, rows: int, fmt: str, size: int, source: str, duplicates: int) -> dict:
    """LoRA Studio's record inside an entry."""
    return {
        "sha256": sha256,
        "rows": rows,
        "format": fmt,
        "size": size,
        "source": source,
        "added": round(time.time(), 3),
        "duplicates": duplicates,
    }


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in chunks; remembered while its size and mtime stay."""
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def current_digest(dataset: Dataset) -> str | None:
    """The SHA-256 of the dataset's file as it is on disk now (None: no single file there).
    The studio's own files are trusted by size and name (they are named by their hash)."""
    if dataset.path is None or not dataset.path.is_file():
        return None
    named = bool(dataset.sha256) and dataset.path.name.startswith(dataset.sha256[:16])
    if named and dataset.size in (None, dataset.path.stat().st_size):
        return dataset.sha256
    return file_digest(dataset.path)


def pin_warnings(refs: list[str], ws: Workspace) -> list[Problem]:
    """A warning for each ``name@hash`` whose registered file has another hash (both named)."""
    warnings = []
    registry = ws.dataset_registry()
    for index, ref in enumerate(refs):
        name, pin = split_ref(ref)
        if pin is None or not isinstance(registry.get(name), dict):
            continue
        dataset = _dataset(ws, name, registry[name])
        digest = current_digest(dataset)
        if digest is None:
            continue  # a missing file is reported on its own
        if not digest.startswith(pin):
            warnings.append(
                Problem(
                    f"data.datasets[{index}]",
                    ref,
                    msg("data.hash_differs", name=name, pinned=pin, found=digest[:PIN_CHARS]),
                    msg("fix.hash_differs", name=name, found=digest[:PIN_CHARS]),
                )
            )
    return warnings
