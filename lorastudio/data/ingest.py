"""A file becomes a dataset, all or nothing: copied in chunks under a size limit
(`LORASTUDIO_MAX_UPLOAD_MB`, 1024 by default) while its SHA-256 is taken, every row checked under
its mapping (the problems named by row and line), stored in the data folder's `studio/` under its
content hash and registered for LLaMA-Factory. Memory stays flat whatever the file's size: rows
are read one at a time and duplicates are found from 8-byte fingerprints."""

from __future__ import annotations

import array
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lorastudio.data import reader, records, registry
from lorastudio.data.formats import FORMATS, SAMPLE_ROWS, Mapping, default_mapping, recognise
from lorastudio.data.problems import DataError, DataProblem
from lorastudio.messages import msg
from lorastudio.workspace import Workspace

DEFAULT_LIMIT_MB = 1024
MAX_PROBLEMS = 20  # a file with more is reported with its first 20 and a count


def upload_limit() -> int:
    """The largest file that may be added, in bytes (``LORASTUDIO_MAX_UPLOAD_MB``)."""
    raw = os.environ.get("LORASTUDIO_MAX_UPLOAD_MB", "")
    try:
        megabytes = float(raw) if raw.strip() else DEFAULT_LIMIT_MB
    except ValueError:
        megabytes = DEFAULT_LIMIT_MB
    return int(max(megabytes, 0.001) * 1024 * 1024)


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


@dataclass(frozen=True)
class Checked:
    """A file read to its end under a mapping: its rows and the notes that do not stop it
    (duplicates, empty texts)."""

    rows: int
    duplicates: int = 0
    notes: list[DataProblem] = field(default_factory=list)


def sample(path: Path) -> tuple[list, list[str] | None]:
    """The file's first rows (to recognise its layout) and the columns it declares; a file
    that goes wrong after its first rows is sampled up to there (the full check names where)."""
    kind = reader.kind_of(path)
    rows = []
    try:
        for row in reader.rows(path, kind):
            rows.append(row.value)
            if len(rows) >= SAMPLE_ROWS:
                break
    except DataError:
        if not rows:
            raise
    return rows, reader.columns(path, kind)


def propose(path: Path, fmt: str = "auto") -> Mapping:
    """The mapping proposed for a file: recognised from its first rows (``fmt`` "auto"), or
    ``fmt``'s columns picked from the file's.

    Raises:
        DataError: the file cannot be read, is empty, or its layout cannot be told.
    """
    rows, names = sample(path)
    if fmt == "auto":
        return recognise(rows, names)
    if fmt not in FORMATS:
        raise DataError.one(msg("data.bad_format", format=fmt), msg("fix.pick_format"))
    if not rows:
        raise DataError.one(msg("data.empty"), msg("fix.empty"))
    if fmt == "text" and isinstance(rows[0], str):
        return Mapping("text", {"prompt": "text"})
    keys = names or list(dict.fromkeys(k for r in rows if isinstance(r, dict) for k in r))
    proposed = default_mapping(fmt, keys)
    return recognise(rows, names) if _same_family(rows, fmt, proposed) else proposed


def _same_family(rows: list, fmt: str, proposed: Mapping) -> bool:
    """Whether recognition would propose ``fmt`` too (then its role words are read as well)."""
    try:
        return recognise(rows).format == fmt
    except DataError:
        return False


def _csv_columns(path: Path, mapping: Mapping, kind: str) -> list[DataProblem]:
    names = reader.columns(path, kind)
    if names is None:
        return []
    wanted = [c for c in mapping.columns.values() if c]
    if mapping.format == "text" and kind == "text":
        return []
    return [
        DataProblem(
            msg("data.file_no_column", column=column, has=", ".join(names) or "—"),
            msg("fix.map_column"),
        )
        for column in wanted
        if column not in names
    ]


def check_file(path: Path, mapping: Mapping, source: str = "") -> Checked:
    """Read every row of ``path`` under ``mapping``.

    Raises:
        DataError: with every problem found (the first ``MAX_PROBLEMS``), each naming its row
            or line; a file that cannot be read stops at the line where it goes wrong.
    """
    source = source or path.name
    kind = reader.kind_of(path)
    problems = _csv_columns(path, mapping, kind)
    if problems:
        raise DataError(problems, source)
    fingerprints, count, blank, more = array.array("Q"), 0, 0, 0
    try:
        for row in reader.rows(path, kind):
            count += 1
            problem = records.check_row(row, mapping)
            if problem is not None:
                if len(problems) < MAX_PROBLEMS:
                    problems.append(problem)
                else:
                    more += 1
                continue
            blank += records.is_blank(row, mapping)
            fingerprints.append(_fingerprint(row.value))
    except DataError as exc:
        raise DataError(problems + exc.problems, source) from None
    if more:
        problems.append(DataProblem(msg("data.more_problems", count=more)))
    if problems:
        raise DataError(problems, source)
    if count == 0:
        raise DataError([DataProblem(msg("data.empty"), msg("fix.empty"))], source)
    return Checked(count, *_notes(fingerprints, blank))


def _fingerprint(value: object) -> int:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _notes(fingerprints: array.array, blank: int) -> tuple[int, list[DataProblem]]:
    """Duplicates (how many rows repeat an earlier one, and the first such pair) and empty texts:
    reported, not fatal."""
    import numpy as np

    notes, duplicates = [], 0
    values = np.frombuffer(fingerprints, dtype=np.uint64) if len(fingerprints) else None
    if values is not None:
        order = np.argsort(values, kind="stable")
        ordered = values[order]
        repeats = np.nonzero(ordered[1:] == ordered[:-1])[0]
        duplicates = len(repeats)
        if duplicates:
            later = order[repeats + 1]
            first_later = int(later.min())
            first = int(order[np.searchsorted(ordered, values[first_later])])
            notes.append(
                DataProblem(
                    msg("data.duplicates", count=duplicates, row=first_later + 1, first=first + 1),
                    msg("fix.duplicates"),
                )
            )
    if blank:
        notes.append(DataProblem(msg("data.blank_texts", count=blank), msg("fix.blank_texts")))
    return duplicates, notes


def _copy(source: Path, target_dir: Path, limit: int) -> tuple[Path, str, int]:
    """Copy ``source`` into a temporary file in ``target_dir`` in 1 MiB chunks, taking its
    SHA-256; stop (and remove the copy) past ``limit`` bytes."""
    digest, size = hashlib.sha256(), 0
    fd, temp = tempfile.mkstemp(dir=target_dir, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise _too_large(source.name, size, limit)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp), digest.hexdigest(), size


def _too_large(name: str, size: int, limit: int) -> DataError:
    return DataError.one(
        msg("data.too_large", file=name, size=human_size(size), limit=human_size(limit)),
        msg("fix.too_large", mb=-(-size // (1024 * 1024))),
    )


def default_name(path: Path) -> str:
    """A dataset name from a file name: its stem, with what a name cannot hold replaced."""
    stem = "".join("_" if c in " \t,@/\\" else c for c in path.stem).strip("._-")
    return stem[:64] or "data"


@dataclass(frozen=True)
class Added:
    """A file added: the dataset registered, what its rows are, the notes (duplicates …)."""

    dataset: registry.Dataset
    checked: Checked


def add_dataset(
    ws: Workspace,
    source: Path,
    name: str | None = None,
    mapping: Mapping | None = None,
    fmt: str = "auto",
    source_name: str | None = None,
) -> Added:
    """Add a data file: check it, store it under its content hash, register it.

    Args:
        source: the file (an upload's temporary file, or any path).
        name: the dataset's name (default: the file's name without its extension).
        mapping: the columns and roles, as the user corrected them (default: proposed).
        fmt: with no mapping, the layout to map (auto: recognised).
        source_name: the file's name as the user knows it (an upload's temp file has another).

    Raises:
        DataError: the name is unusable or taken, the file too large, unreadable or wrong
            somewhere (every problem named by row); nothing is written then.
    """
    shown = source_name or source.name
    suffix = Path(shown).suffix.lower() or source.suffix.lower()
    name = name or default_name(Path(shown))
    registry.check_name(ws, name)
    limit = upload_limit()
    if source.stat().st_size > limit:
        raise _too_large(shown, source.stat().st_size, limit)
    reader.kind_of(Path(shown))
    store = ws.data_dir / registry.STUDIO_DIR
    store.mkdir(parents=True, exist_ok=True)
    temp, digest, size = _copy(source, store, limit)
    try:
        staged = temp.with_name(temp.stem + suffix)  # readers go by extension
        os.replace(temp, staged)
        temp = staged
        mapping = mapping or propose(temp, fmt)
        checked = check_file(temp, mapping, shown)
        final, fresh = _keep(temp, store / f"{digest[:16]}{suffix}")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return _register(ws, name, mapping, final, fresh, checked, digest, size, shown)


def _keep(temp: Path, final: Path) -> tuple[Path, bool]:
    """The checked copy, under its content hash; whether it is new (the same content may be
    there already, under another dataset's name)."""
    fresh = not final.exists()
    os.replace(temp, final) if fresh else temp.unlink()
    return final, fresh


def _register(
    ws: Workspace,
    name: str,
    mapping: Mapping,
    final: Path,
    fresh: bool,
    checked: Checked,
    digest: str,
    size: int,
    shown: str,
) -> Added:
    """Register the stored file; if that fails, a file stored just for it goes again."""
    entry = mapping.entry(f"{registry.STUDIO_DIR}/{final.name}")
    entry[registry.META] = registry.meta_record(
        digest, checked.rows, mapping.format, size, shown, checked.duplicates
    )
    try:
        with registry.locked(ws):
            dataset = registry.register(ws, name, entry)
    except BaseException:
        if fresh:
            final.unlink(missing_ok=True)
        raise
    return Added(dataset, checked)
