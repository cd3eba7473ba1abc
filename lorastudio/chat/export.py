"""What an export is: `llamafactory-cli export`'s arguments for a run (its base model, adapter
and template), the checks that the run can be merged, and the two steps after LLaMA-Factory has
run — is what it wrote a whole model (else why not, from its log), and putting it in place of
``adapters/<run>/merged/`` by a rename, so merged/ is never half-written. The export itself runs
as a detached job (`lorastudio.chat.export_job`).

    plan = Export(run_dir)
    plan.write_config(run_dir / ".merged.partial-1")
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from lorastudio.chat.setup import TEMPLATE_KEYS, check_adapter, check_base_model, read_run
from lorastudio.errors import ExportError
from lorastudio.files import write_text_atomic
from lorastudio.messages import msg
from lorastudio.runs.layout import EXPORT_CONFIG, EXPORT_LOG, MERGED_DIR, MERGED_OLD

_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|Killed)\b.*")


def export_config(run_dir: Path, export_dir: Path, model: str | None = None) -> dict[str, Any]:
    """LLaMA-Factory's export arguments for a run: its base model, adapter and template (with
    the training's prompt settings, so the merged model's chat template is the training one)."""
    recipe, train_args = read_run(run_dir)
    template_args = {key: train_args[key] for key in TEMPLATE_KEYS if key in train_args}
    return {
        "model_name_or_path": model or train_args["model_name_or_path"],
        "adapter_name_or_path": str(run_dir),
        "template": train_args.get("template") or recipe.model.template,
        **template_args,
        "finetuning_type": "lora",
        "trust_remote_code": recipe.model.trust_remote_code,
        "export_dir": str(export_dir),
        "export_device": "cpu",  # merging needs no accelerator; the merged model runs anywhere
        "export_legacy_format": False,  # safetensors
    }


class Export:
    """The export of one run, checked: its adapter is whole and its base model is here."""

    def __init__(self, run_dir: Path, model: str | None = None):
        """Args:
            run_dir: the run folder.
            model: another copy of the base model than the one recorded (expert override).

        Raises:
            ChatError, AdapterDamagedError, BaseModelMissingError: the run cannot be merged.
        """
        self.run_dir = Path(run_dir).resolve()
        check_adapter(self.run_dir)
        self.config = export_config(self.run_dir, self.run_dir / MERGED_DIR, model)
        check_base_model(self.config["model_name_or_path"], self.run_dir)

    def write_config(self, export_dir: Path) -> Path:
        """Write export.yaml, the arguments LLaMA-Factory is given, exporting into
        ``export_dir``; its path."""
        return write_config(self.run_dir, self.config | {"export_dir": str(export_dir)})


def write_config(run_dir: Path, config: dict[str, Any]) -> Path:
    """export.yaml, which also re-runs the export by hand (`llamafactory-cli export`)."""
    path = run_dir / EXPORT_CONFIG
    text = yaml.safe_dump(config, sort_keys=False)
    write_text_atomic(path, f"# llamafactory-cli export {EXPORT_CONFIG}\n{text}")
    return path


def read_config(run_dir: Path) -> dict[str, Any]:
    """What export.yaml gives LLaMA-Factory."""
    config = yaml.safe_load((run_dir / EXPORT_CONFIG).read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else {}


def log_tail(run_dir: Path, lines: int = 200) -> list[str]:
    """The last ``lines`` lines of the export's log (a progress bar's redraws are lines too)."""
    try:
        with (run_dir / EXPORT_LOG).open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line.rstrip() for line in re.split(r"[\r\n]+", text)][-lines:]


def check_output(run_dir: Path, code: int | None, partial: Path) -> None:
    """Whether LLaMA-Factory exited well and wrote a whole model into ``partial``.

    Raises:
        ExportError: it failed (the message has its last error line) or wrote no model.
    """
    log = run_dir / EXPORT_LOG
    if code != 0:
        errors = [line.strip() for line in log_tail(run_dir) if _ERROR_LINE.match(line)]
        reason = (
            msg("text.verbatim", text=errors[-1][:500])
            if errors
            else msg("chat.exit_code", code=code)
        )
        raise ExportError(msg("chat.export_failed", run=run_dir.name, reason=reason, log=log))
    if not (partial / "config.json").is_file() or not list(partial.glob("*.safetensors")):
        raise ExportError(msg("chat.export_empty", run=run_dir.name, log=log))


def install(run_dir: Path, partial: Path) -> Path:
    """Put the finished merge in place of merged/ (an older merge is replaced); merged/."""
    merged = run_dir / MERGED_DIR
    old = run_dir / f"{MERGED_OLD}{time.time_ns()}"
    if merged.exists():
        merged.rename(old)
    partial.rename(merged)
    shutil.rmtree(old, ignore_errors=True)
    return merged
