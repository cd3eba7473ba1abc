"""Export: merge a run's adapter into its base weights with `llamafactory-cli export`, into
``adapters/<run>/merged/``, the log streamed and kept in ``export.log``. The merge is written to a
temporary folder and renamed at the end, so a failed export never leaves a half-written merged/.

    job = Export(run_dir)
    for line in job.lines():
        print(line)
    print(job.result.merged_dir)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lorastudio.chat.setup import TEMPLATE_KEYS, check_adapter, check_base_model, read_run
from lorastudio.errors import ExportError
from lorastudio.files import write_text_atomic
from lorastudio.messages import msg
from lorastudio.processes import start, tool
from lorastudio.runs.layout import EXPORT_CONFIG, EXPORT_LOG, MERGED_DIR

PARTIAL_PREFIX = ".merged.partial-"
_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|Killed)\b.*")


@dataclass(frozen=True)
class ExportResult:
    """A finished export: where the merged model is and what it holds."""

    merged_dir: Path
    files: tuple[str, ...]
    seconds: float
    log: Path


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
    """One export of one run; checks the run at once, merges when ``lines()`` is iterated."""

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
        self.result: ExportResult | None = None

    def _write_config(self, export_dir: Path) -> Path:
        path = self.run_dir / EXPORT_CONFIG
        text = yaml.safe_dump(self.config | {"export_dir": str(export_dir)}, sort_keys=False)
        write_text_atomic(path, f"# llamafactory-cli export {EXPORT_CONFIG}\n{text}")
        return path

    def lines(self) -> Iterator[str]:
        """Run the export, yielding its log line by line; ``result`` is set at the end.

        Raises:
            ExportError: LLaMA-Factory failed (the message has its last error line) or wrote no
                model; nothing is left in merged/ from this attempt.
        """
        started = time.monotonic()
        partial = self.run_dir / f"{PARTIAL_PREFIX}{os.getpid()}-{time.time_ns()}"
        log_path = self.run_dir / EXPORT_LOG
        config = self._write_config(partial)
        tail: list[str] = []
        try:
            with log_path.open("w", encoding="utf-8") as log:
                proc = start(
                    [tool("llamafactory-cli"), "export", config.name],
                    cwd=self.run_dir,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,  # universal newlines: progress bars' \r becomes a line break
                    errors="replace",
                )
                try:
                    assert proc.stdout is not None
                    for line in proc.stdout:
                        log.write(line)
                        log.flush()
                        tail = [*tail[-199:], line.rstrip()]
                        if line.strip():
                            yield line.rstrip()
                    code = proc.wait()
                finally:
                    if proc.poll() is None:  # the caller stopped reading, or Ctrl-C
                        proc.kill()
                        proc.wait()
            self._check_output(code, partial, tail)
            merged = self._install(partial)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        self._write_config(merged)  # the config left behind re-runs this export by hand
        files = tuple(sorted(p.name for p in merged.iterdir()))
        self.result = ExportResult(merged, files, time.monotonic() - started, log_path)

    def _check_output(self, code: int, partial: Path, tail: list[str]) -> None:
        if code != 0:
            errors = [line.strip() for line in tail if _ERROR_LINE.match(line)]
            reason = (
                msg("text.verbatim", text=errors[-1][:500])
                if errors
                else msg("chat.exit_code", code=code)
            )
            log = self.run_dir / EXPORT_LOG
            failed = msg("chat.export_failed", run=self.run_dir.name, reason=reason, log=log)
            raise ExportError(failed)
        if not (partial / "config.json").is_file() or not list(partial.glob("*.safetensors")):
            log = self.run_dir / EXPORT_LOG
            raise ExportError(msg("chat.export_empty", run=self.run_dir.name, log=log))

    def _install(self, partial: Path) -> Path:
        """Put the finished merge in place of merged/ (an older merge is replaced)."""
        merged = self.run_dir / MERGED_DIR
        old = self.run_dir / f".merged.old-{time.time_ns()}"
        if merged.exists():
            merged.rename(old)
        partial.rename(merged)
        shutil.rmtree(old, ignore_errors=True)
        return merged


def export_run(
    run_dir: Path, on_line: Callable[[str], None] | None = None, model: str | None = None
) -> ExportResult:
    """Merge the run's adapter into its base model; ``on_line`` receives the log as it comes."""
    job = Export(run_dir, model)
    for line in job.lines():
        if on_line:
            on_line(line)
    assert job.result is not None
    return job.result
