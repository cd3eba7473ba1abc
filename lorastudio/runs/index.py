"""The run folder — the one module that knows its layout — and the SQLite index over all runs.

A run folder (``adapters/<run-id>/``) is the truth: the recipe, the compiled config, the command,
the log, LLaMA-Factory's trainer log, ``status.json`` and the adapter. The index is a cache that
is rebuilt from the folders whenever it is missing or stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from lorastudio.errors import RunError
from lorastudio.runs.metrics import summarize_trainer_log

RECIPE_FILE = "recipe.yaml"
LAUNCH_FILE = "launch.json"
COMMAND_FILE = "command.sh"
LOG_FILE = "train.log"
TRAINER_LOG = "trainer_log.jsonl"
STATUS_FILE = "status.json"
PREFLIGHT_FILE = "preflight.json"
SUPERVISOR_LOG = "supervisor.log"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
PROMPTS_FILE = "prompts.jsonl"  # the last prompt-set comparison, base vs adapter
MERGED_DIR = "merged"  # the adapter merged into the base weights (`export`)
EXPORT_CONFIG = "export.yaml"
EXPORT_LOG = "export.log"
CHAT_LOG = "chat-worker.log"  # the chat worker's own log when the CLI chats with the run
INDEX_FILE = "runs.sqlite"

LIVE_STATES = frozenset({"starting", "running", "stopping"})
FINAL_STATES = frozenset({"succeeded", "failed", "stopped"})
RUN_ID = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9][A-Za-z0-9._-]*$")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file so a reader sees the old one or the new one, never half of either."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_bytes_atomic(path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((run_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def update_status(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into status.json (atomically) and return the new status."""
    status = read_status(run_dir) | fields
    write_json_atomic(run_dir / STATUS_FILE, status)
    return status


def create_run_dir(adapters_dir: Path, name: str) -> Path:
    """Make a fresh, uniquely named run folder ``<YYYYmmdd-HHMMSS>-<name>``."""
    adapters_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        run_id = f"{stamp}-{name}" if attempt == 1 else f"{stamp}-{name}-{attempt}"
        try:
            (adapters_dir / run_id).mkdir()
        except FileExistsError:
            continue
        return adapters_dir / run_id
    raise RunError(f"could not create a run folder for {name} in {adapters_dir}")


def _alive(pid: Any, create_time: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        process = psutil.Process(pid)
        if create_time is not None and abs(process.create_time() - float(create_time)) > 1.0:
            return False  # the pid was reused by another process
        return process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def reconcile(run_dir: Path) -> dict[str, Any]:
    """The run's status, corrected when it claims to be live but its supervisor is gone (or, for
    a run submitted to Kubernetes, as its cluster reports it)."""
    status = read_status(run_dir)
    if status.get("backend") == "kubernetes" and status.get("state") in LIVE_STATES:
        from lorastudio.cluster.kubernetes import refresh

        return refresh(run_dir)
    if status.get("state") not in LIVE_STATES or status.get("host") != socket.gethostname():
        return status
    if _alive(status.get("supervisor_pid"), status.get("supervisor_create_time")):
        return status
    if status.get("state") == "starting" and time.time() - status.get("starting_since", 0) < 60:
        return status  # its supervisor is being started
    if _alive(status.get("pid"), status.get("pid_create_time")):
        return status  # the trainer runs on without its supervisor; it still writes its log
    return update_status(
        run_dir,
        state="failed",
        ended_at=time.time(),
        reason="the run's supervisor process disappeared (machine restart or kill -9); "
        "`python launch.py resume` continues from the last checkpoint",
    )


def check_deletable(run_dir: Path) -> None:
    """Raise RunError when the run may not be deleted (it is live), so a UI can refuse before
    it asks for a confirmation."""
    state = reconcile(run_dir).get("state")
    if state in LIVE_STATES:
        raise RunError(f"run {run_dir.name} is {state}; stop it before deleting it")


def delete_run(run_dir: Path) -> None:
    """Delete a run folder and everything in it, its adapter too (the index forgets it on its
    next sync).

    Raises:
        RunError: the run is live; stop it first.
    """
    check_deletable(run_dir)
    shutil.rmtree(run_dir)


@dataclass
class RunInfo:
    """One row of the run index: what `runs` lists."""

    id: str
    name: str
    state: str
    recipe_hash: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    step: int
    total_steps: int
    final_loss: float | None
    adapter: str | None
    reason: str
    device: str
    node_rank: int = 0  # this machine's rank in a multi-node run (0: it has the adapter)
    backend: str = "local"  # local, or kubernetes for a submitted PyTorchJob

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


def summarize_run(run_dir: Path) -> RunInfo:
    """Read a run folder into a RunInfo (reconciling a vanished supervisor first)."""
    status = reconcile(run_dir)
    summary = summarize_trainer_log(run_dir / TRAINER_LOG)
    has_adapter = all((run_dir / name).is_file() for name in ADAPTER_FILES)
    return RunInfo(
        id=run_dir.name,
        name=status.get("name", run_dir.name),
        state=status.get("state", "unknown"),
        recipe_hash=status.get("recipe_hash", ""),
        created_at=status.get("created_at", 0.0),
        started_at=status.get("started_at"),
        ended_at=status.get("ended_at"),
        step=summary.step,
        total_steps=summary.total_steps,
        final_loss=summary.last_loss,
        adapter=str(run_dir) if has_adapter else None,
        reason=status.get("reason", ""),
        device=status.get("device") or (status.get("kubernetes") or {}).get("device", ""),
        node_rank=status.get("node_rank", 0),
        backend=status.get("backend", "local"),
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
        """Bring the index up to date with the folders and return every run, newest first."""
        dirs = self.run_dirs()
        with closing(self._connect()) as db, db:
            cached = {
                row[0]: (row[1], row[2]) for row in db.execute("SELECT id, stamp, info FROM runs")
            }
            infos = []
            for run_dir in dirs:
                stamp = self._stamp(run_dir)
                row = cached.get(run_dir.name)
                if row and row[0] == stamp and json.loads(row[1])["state"] not in LIVE_STATES:
                    infos.append(RunInfo(**json.loads(row[1])))
                    continue
                info = summarize_run(run_dir)
                db.execute(
                    "INSERT OR REPLACE INTO runs (id, stamp, info) VALUES (?, ?, ?)",
                    (info.id, self._stamp(run_dir), json.dumps(asdict(info))),
                )
                infos.append(info)
            gone = set(cached) - {d.name for d in dirs}
            db.executemany("DELETE FROM runs WHERE id = ?", [(g,) for g in gone])
        return sorted(infos, key=lambda i: (i.created_at, i.id), reverse=True)

    def find(self, ref: str) -> Path:
        """The folder of run ``ref``: a full id, a unique prefix, or ``latest``."""
        dirs = self.run_dirs()
        if ref == "latest" and dirs:
            return max(dirs, key=lambda d: read_status(d).get("created_at", 0))
        exact = [d for d in dirs if d.name == ref]
        matches = exact or [d for d in dirs if d.name.startswith(ref) or ref in d.name]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise RunError(f"no run matches '{ref}'; `python launch.py runs` lists them")
        names = ", ".join(m.name for m in matches[:5])
        raise RunError(f"'{ref}' matches several runs ({names}); give more of the id")
