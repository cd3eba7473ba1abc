"""The run folder's layout, the one place that names its files: ``adapters/<run-id>/`` holds the
recipe, what LLaMA-Factory was given, the command, the logs, ``status.json``, the adapter and its
checkpoints. Also what a new run folder is called, and the files a run is created with."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path

import yaml

from lorastudio.errors import RunError
from lorastudio.files import write_text_atomic
from lorastudio.llamafactory.compiler import (
    CONFIG_FILE,
    DATASET_INFO_FILE,
    DEEPSPEED_FILE,
    Compiled,
)
from lorastudio.messages import msg
from lorastudio.recipe.schema import Recipe, dump_recipe

RECIPE_FILE = "recipe.yaml"
LAUNCH_FILE = "launch.json"
COMMAND_FILE = "command.sh"
LOG_FILE = "train.log"
TRAINER_LOG = "trainer_log.jsonl"
USAGE_LOG = "device_usage.jsonl"  # the run's cards, sampled while it trains (runs.supervisor)
STATUS_FILE = "status.json"
PREFLIGHT_FILE = "preflight.json"
SUPERVISOR_LOG = "supervisor.log"
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
PROMPTS_FILE = "prompts.jsonl"  # the last prompt-set comparison, base vs adapter
MERGED_DIR = "merged"  # the adapter merged into the base weights (`export`)
EXPORT_CONFIG = "export.yaml"
EXPORT_LOG = "export.log"
EXPORT_STATUS = "export.json"  # the export job's state, pids and why it ended
MERGED_PARTIAL = ".merged.partial-"  # an export writes here, renamed to merged/ when whole
MERGED_OLD = ".merged.old-"  # the merge a new one replaces, for the moment of the swap
CHAT_LOG = "chat-worker.log"  # the chat worker's own log when the CLI chats with the run
DATA_FILE = "data.json"  # the datasets the run trained on: name, file, SHA-256, rows
MANIFEST_FILE = "kubernetes.yaml"  # a run submitted to Kubernetes: the manifest that was sent
INDEX_FILE = "runs.sqlite"  # in the adapters folder, beside the run folders
QUEUED_ENV_FILE = ".queued-env.json"  # a queued run: the environment of who queued it (0600)
SPARE_FILE = ".supervisor.spare"  # room the supervisor gives back to record a full disk
TRAINER_STATE = "trainer_state.json"  # written last into a checkpoint: a whole one has it
ATTEMPT_MARK = "# LoRA Studio: starting "  # train.log: where an attempt's output begins
INCOMPLETE_SUFFIX = ".incomplete"  # a checkpoint cut short, set aside by resume

RUN_ID = re.compile(r"^\d{8}-\d{6}-[A-Za-z0-9][A-Za-z0-9._-]*$")
CHECKPOINT = re.compile(r"^checkpoint-\d+$")  # as transformers' get_last_checkpoint sees them


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
    raise RunError(
        msg("run.folder_taken", name=name, folder=str(adapters_dir)), msg("fix.folder_taken")
    )


def has_adapter(run_dir: Path) -> bool:
    """Whether the run folder holds a whole adapter (weights and config)."""
    return all((run_dir / name).is_file() for name in ADAPTER_FILES)


def checkpoints(run_dir: Path) -> list[Path]:
    """The run's ``checkpoint-N`` folders, oldest step first."""
    found = [p for p in run_dir.glob("checkpoint-*") if CHECKPOINT.match(p.name) and p.is_dir()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def is_whole_checkpoint(checkpoint: Path) -> bool:
    """Whether a checkpoint was written to its end: the Trainer writes trainer_state.json last,
    so one cut short (a full disk, a kill) has none, or half of one."""
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and isinstance(state.get("global_step"), int)


def whole_checkpoint(run_dir: Path) -> tuple[Path | None, list[Path]]:
    """The newest whole checkpoint, and the incomplete ones newer than it (newest first)."""
    incomplete = []
    for checkpoint in reversed(checkpoints(run_dir)):
        if is_whole_checkpoint(checkpoint):
            return checkpoint, incomplete
        incomplete.append(checkpoint)
    return None, incomplete


def set_aside_checkpoint(checkpoint: Path) -> Path:
    """Rename an incomplete ``checkpoint-N`` to ``checkpoint-N.incomplete`` (kept, but no
    longer the one LLaMA-Factory resumes from); its new path."""
    aside = checkpoint.with_name(checkpoint.name + INCOMPLETE_SUFFIX)
    number = 2
    while aside.exists():
        aside = checkpoint.with_name(f"{checkpoint.name}{INCOMPLETE_SUFFIX}-{number}")
        number += 1
    checkpoint.rename(aside)
    return aside


def command_script(compiled: Compiled, run_dir: Path) -> str:
    """The exact command the supervisor runs, as a shell script a person can read or re-run."""
    lines = [
        "#!/usr/bin/env bash",
        "# The command LoRA Studio's supervisor runs for this run (re-run it by hand if you like).",
        f"cd {shlex.quote(str(run_dir))}",
        *(f"export {key}={shlex.quote(value)}" for key, value in compiled.env.items()),
        "exec " + shlex.join(compiled.argv),
    ]
    return "\n".join(lines) + "\n"


def run_files(recipe: Recipe, compiled: Compiled, run_dir: Path) -> dict[str, str]:
    """What a run folder is created with, by file name: the recipe, what LLaMA-Factory is given
    (its arguments, the run's dataset_info.json, the DeepSpeed JSON) and the command, both as a
    script and as the argv and environment the supervisor starts."""
    files = {
        RECIPE_FILE: dump_recipe(recipe),
        CONFIG_FILE: yaml.safe_dump(compiled.args, sort_keys=False, allow_unicode=True),
        DATASET_INFO_FILE: _json(compiled.dataset_info),
    }
    if compiled.deepspeed is not None:
        files[DEEPSPEED_FILE] = _json(compiled.deepspeed)
    launch = {"argv": compiled.argv, "env": compiled.env, "cwd": str(run_dir)}
    if compiled.plan is not None and compiled.plan.fallback:
        launch["fallback"] = compiled.plan.fallback  # tried once after an early out-of-memory
    files[LAUNCH_FILE] = _json(launch)
    files[COMMAND_FILE] = command_script(compiled, run_dir)
    return files


def write_run_files(run_dir: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        write_text_atomic(run_dir / name, text)


def _json(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
