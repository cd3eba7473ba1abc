"""Why a run failed, read from the end of its log: a kind (out_of_memory, disk_full, …) and the
keyed message that says what went wrong and what to do."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass

from lorastudio.messages import Msg, msg


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # out_of_memory, nan_loss, model_not_found, dataset_not_found, disk_full, ...
    message: Msg


# diagnosis kind -> what its log says; the words for each are "failure.<kind>" in the catalogue
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "disk_full",
        re.compile(r"No space left on device|Disk quota exceeded"),
    ),
    (
        "out_of_memory",
        re.compile(
            r"(CUDA|NPU|XPU)?\s*out of memory|OutOfMemoryError|"
            r"RuntimeError: NPU out of memory",
            re.IGNORECASE,
        ),
    ),
    (
        "model_not_found",
        re.compile(
            r"Failed to load tokenizer|Repo id must be in the form|"
            r"is not a local folder and is not a valid model identifier|"
            r"does not appear to have a file named config\.json|"
            r"Can't load tokenizer|RepositoryNotFoundError|We couldn't connect to"
        ),
    ),
    (
        "dataset_not_found",
        re.compile(
            r"Undefined dataset|File .* not found|Cannot find valid samples|Unable to find|"
            r"DatasetNotFoundError|Cannot open dataset_info\.json"
        ),
    ),
    (
        "data_layout",
        re.compile(r"KeyError: '(?:instruction|input|output|conversations|messages|from|value)'"),
    ),
    (
        "bad_template",
        re.compile(r"Template .* does not exist"),
    ),
    (
        "bad_target",
        re.compile(r"Target modules .* not found in the base model"),
    ),
    (
        "peer_lost",
        re.compile(
            r"Connection closed by peer|Connection reset by peer|DistNetworkError|"
            r"RendezvousConnectionError|HCCL.{0,40}(?:timeout|time out)|NCCL.{0,20}timed? ?out",
            re.IGNORECASE,
        ),
    ),
    (
        "nan_loss",
        re.compile(r"loss.{0,8}\bnan\b|\bNaN\b loss", re.IGNORECASE),
    ),
)

_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|RuntimeError|AssertionError)\b.*")


def diagnose(log_tail: str, exit_code: int | None, nan_loss: bool = False) -> Diagnosis:
    """Explain why a run failed, from the end of its log, its exit code and its loss curve."""
    for kind, pattern in _RULES:
        if pattern.search(log_tail):
            return Diagnosis(kind, msg(f"failure.{kind}"))
    if nan_loss:
        return Diagnosis("nan_loss", msg("failure.nan_loss"))
    if exit_code is not None and exit_code < 0:
        if -exit_code == signal.SIGKILL:
            return Diagnosis("killed", msg("failure.killed"))
        name = signal.Signals(-exit_code).name if -exit_code in signal.valid_signals() else "?"
        return Diagnosis("signal", msg("failure.signal", name=name))
    errors = [line.strip() for line in log_tail.splitlines() if _ERROR_LINE.match(line)]
    if errors:
        return Diagnosis("error", msg("failure.error", line=errors[-1][:500]))
    return Diagnosis("unknown", msg("failure.unknown", code=exit_code))
