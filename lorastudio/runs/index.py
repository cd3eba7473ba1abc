"""The SQLite index over all runs (`RunIndex`: list them, find one by a part of its id) and
deleting one. A run folder is the truth; the index is a cache, rebuilt from the folders whenever
it is missing or stale. One that is not a database (any more) is set aside as
``runs.sqlite.broken-<time>`` and built anew; while it cannot be written (a full disk, a lock)
the runs are read from their folders."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

from lorastudio.errors import RunError
from lorastudio.messages import Msg, msg
from lorastudio.runs.export_status import export_state_name, reconcile_export
from lorastudio.runs.layout import (
    ADAPTER_FILES,
    INDEX_FILE,
    RUN_ID,
    STATUS_FILE,
    TRAINER_LOG,
    has_adapter,
)
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.metrics import summarize_trainer_log
from lorastudio.runs.status import RunState, read_status, run_lock, state_name

# SQLite's primary result codes that mean the file is no database (any more)
_BROKEN = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
_CANTOPEN = 14


def check_deletable(run_dir: Path) -> None:
    """Raise RunError when the run may not be deleted (it, or its export, is live), so a UI can
    refuse before it asks for a confirmation."""
    state = reconcile(run_dir).state
    if state.live:
        raise RunError(
            msg("run.live_delete", run=run_dir.name, state=state_name(state)), msg("fix.stop_first")
        )
    export = reconcile_export(run_dir).state
    if export.live:
        raise RunError(
            msg("run.export_live_delete", run=run_dir.name, state=export_state_name(export)),
            msg("fix.stop_export_first", run=run_dir.name),
        )


def delete_run(run_dir: Path) -> None:
    """Delete a run folder and everything in it, its adapter too (the index forgets it on its
    next sync).

    Raises:
        RunError: the run is live; stop it first.
    """
    with run_lock(run_dir):  # nothing starts it again between the check and the deletion
        check_deletable(run_dir)
        shutil.rmtree(run_dir)


@dataclass
class RunInfo:
    """One row of the run index: what `runs` lists."""

    id: str
    name: str
    state: RunState
    recipe_hash: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    step: int
    total_steps: int
    final_loss: float | None
    adapter: str | None
    reason: str  # why it ended, in English (`reason_msg` says it in any language)
    device: str
    node_rank: int = 0  # this machine's rank in a multi-node run (0: it has the adapter)
    backend: str = "local"  # local, or kubernetes for a submitted PyTorchJob
    reason_msg: dict | None = None  # the reason's key and arguments (Msg.as_dict)
    failure: str | None = None  # a failed run's diagnosis kind

    def __post_init__(self) -> None:
        self.state = RunState(self.state)  # read back from the index's JSON as a plain string

    @property
    def reason_message(self) -> Msg | None:
        """Why it ended, as a keyed message (None when the run gave no reason)."""
        return Msg.from_dict(self.reason_msg)

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


def summarize_run(run_dir: Path) -> RunInfo:
    """Read a run folder into a RunInfo (reconciling a vanished supervisor first)."""
    status = reconcile(run_dir)
    summary = summarize_trainer_log(run_dir / TRAINER_LOG)
    return RunInfo(
        id=run_dir.name,
        name=status.name or run_dir.name,
        state=status.state,
        recipe_hash=status.recipe_hash,
        created_at=status.created_at,
        started_at=status.started_at,
        ended_at=status.ended_at,
        step=summary.step,
        total_steps=summary.total_steps,
        final_loss=summary.last_loss,
        adapter=str(run_dir) if has_adapter(run_dir) else None,
        reason=status.reason_text("en"),
        reason_msg=status.reason.as_dict() if status.reason else None,
        failure=status.failure,
        device=status.device or (status.kubernetes or {}).get("device", ""),
        node_rank=status.node_rank,
        backend=status.backend.value,
    )


class RunIndex:
    """SQLite index of the runs under an adapters folder; always rebuildable from the folders."""

    def __init__(self, adapters_dir: Path):
        self.adapters_dir = adapters_dir
        self.path = adapters_dir / INDEX_FILE

    def _connect(self) -> sqlite3.Connection:
        self.adapters_dir.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, stamp TEXT, info TEXT)"
        )
        return connection

    def run_dirs(self) -> list[Path]:
        if not self.adapters_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.adapters_dir.iterdir()
            if p.is_dir() and RUN_ID.match(p.name) and (p / STATUS_FILE).is_file()
        )

    @staticmethod
    def _stamp(run_dir: Path) -> str:
        parts = []
        for name in (STATUS_FILE, TRAINER_LOG, ADAPTER_FILES[0]):
            try:
                stat = (run_dir / name).stat()
                parts.append(f"{stat.st_mtime_ns}:{stat.st_size}")
            except OSError:
                parts.append("-")
        return "|".join(parts)

    def sync(self) -> list[RunInfo]:
        """Bring the index up to date with the folders and return every run, newest first
        (read from the folders alone when the index cannot be used)."""
        dirs = self.run_dirs()
        try:
            infos = self._sync(dirs)
        except (sqlite3.Error, OSError) as exc:
            infos = None
            if self._is_broken(exc) and self._set_aside():
                with contextlib.suppress(sqlite3.Error, OSError):
                    infos = self._sync(dirs)
            if infos is None:
                infos = [summarize_run(run_dir) for run_dir in dirs]
        return sorted(infos, key=lambda i: (i.created_at, i.id), reverse=True)

    def _is_broken(self, exc: Exception) -> bool:
        """Whether the index file is no database (rather than full, locked or read-only)."""
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        return code in _BROKEN or (code == _CANTOPEN and self.path.is_dir())

    def _set_aside(self) -> bool:
        """Rename a broken index ``runs.sqlite.broken-<time>``; whether it is out of the way."""
        aside = self.path.with_name(f"{INDEX_FILE}.broken-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.rename(self.path, aside if not aside.exists() else f"{aside}-{time.time_ns()}")
        except OSError:
            return False
        for suffix in ("-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return True

    def _sync(self, dirs: list[Path]) -> list[RunInfo]:
        with closing(self._connect()) as db, db:
            cached = {
                row[0]: (row[1], row[2]) for row in db.execute("SELECT id, stamp, info FROM runs")
            }
            infos = []
            for run_dir in dirs:
                stamp = self._stamp(run_dir)
                row = cached.get(run_dir.name)
                cached_info = _cached(row, stamp)
                if cached_info is not None:
                    infos.append(cached_info)
                    continue
                info = summarize_run(run_dir)
                db.execute(
                    "INSERT OR REPLACE INTO runs (id, stamp, info) VALUES (?, ?, ?)",
                    (info.id, self._stamp(run_dir), json.dumps(asdict(info))),
                )
                infos.append(info)
            gone = set(cached) - {d.name for d in dirs}
            db.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])
        return infos

    def find(self, ref: str) -> Path:
        """The folder of run ``ref``: a full id, a unique prefix, or ``latest``.

        Raises:
            RunError: ``ref`` is empty, matches no run, or several.
        """
        if not ref.strip():
            raise RunError(msg("run.empty_ref"), msg("fix.list_runs"))
        dirs = self.run_dirs()
        if ref == "latest" and dirs:
            return max(dirs, key=lambda d: read_status(d).created_at)
        exact = [d for d in dirs if d.name == ref]
        matches = exact or [d for d in dirs if d.name.startswith(ref) or ref in d.name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunError(msg("run.no_match", ref=ref), msg("fix.list_runs"))
        names = ", ".join(m.name for m in matches[:5])
        raise RunError(msg("run.ambiguous", ref=ref, names=names), msg("fix.more_of_the_id"))


def _cached(row: tuple[str, str] | None, stamp: str) -> RunInfo | None:
    """The index's row for a run, when its files have not changed and it is not live."""
    if row is None or row[0] != stamp:
        return None
    try:
        info = RunInfo(**json.loads(row[1]))
    except (TypeError, ValueError):
        return None  # written by another version of LoRA Studio: summarize the folder again
    return None if info.state.live else info
