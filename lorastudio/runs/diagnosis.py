"""Turns the end of a failed run's log into a plain sentence: what went wrong and what to do."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnosis:
    kind: str  # out_of_memory, nan_loss, model_not_found, dataset_not_found, disk_full, ...
    message: str


_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "disk_full",
        re.compile(r"No space left on device|Disk quota exceeded"),
        "the disk is full: free space in the adapters folder (old checkpoint-* folders) or raise "
        "train.save_steps",
    ),
    (
        "out_of_memory",
        re.compile(
            r"(CUDA|NPU|XPU)?\s*out of memory|OutOfMemoryError|"
            r"RuntimeError: NPU out of memory",
            re.IGNORECASE,
        ),
        "the accelerator ran out of memory: lower train.batch_size (raise train.grad_accum to keep "
        "the effective batch), lower data.cutoff_len, use lora.quantization: 4, or "
        "hardware.deepspeed: 3",
    ),
    (
        "model_not_found",
        re.compile(
            r"Failed to load tokenizer|Repo id must be in the form|"
            r"is not a local folder and is not a valid model identifier|"
            r"does not appear to have a file named config\.json|"
            r"Can't load tokenizer|RepositoryNotFoundError|We couldn't connect to"
        ),
        "the base model could not be loaded: check model.id (a hub id needs network access to the "
        "hub; otherwise download the model and give its local folder)",
    ),
    (
        "dataset_not_found",
        re.compile(
            r"Undefined dataset|File .* not found|Cannot find valid samples|Unable to find|"
            r"DatasetNotFoundError|Cannot open dataset_info\.json"
        ),
        "a dataset could not be loaded: check data.datasets and data.files, and that the data "
        "folder holds the files its dataset_info.json names",
    ),
    (
        "data_layout",
        re.compile(r"KeyError: '(?:instruction|input|output|conversations|messages|from|value)'"),
        "a dataset's records do not have the columns LLaMA-Factory looks for: data.files need "
        "data.format (alpaca: instruction/input/output; sharegpt: conversations of from/value), "
        'and a registered dataset needs "columns" in dataset_info.json when its names differ',
    ),
    (
        "bad_template",
        re.compile(r"Template .* does not exist"),
        "LLaMA-Factory does not know model.template: use qwen for Qwen2/2.5, qwen3 for Qwen3",
    ),
    (
        "bad_target",
        re.compile(r"Target modules .* not found in the base model"),
        "lora.target names modules this model does not have: use all, or names like q_proj, v_proj",
    ),
    (
        "peer_lost",
        re.compile(
            r"Connection closed by peer|Connection reset by peer|DistNetworkError|"
            r"RendezvousConnectionError|HCCL.{0,40}(?:timeout|time out)|NCCL.{0,20}timed? ?out",
            re.IGNORECASE,
        ),
        "another process of this distributed run stopped, crashed or could not be reached: look at "
        "the other nodes' runs (a stop on node 0 ends the others this way); check "
        "hardware.nodes.master_addr/master_port and hardware.nodes.interface",
    ),
    (
        "nan_loss",
        re.compile(r"loss.{0,8}\bnan\b|\bNaN\b loss", re.IGNORECASE),
        "the loss became NaN: lower train.learning_rate, raise train.warmup_steps, or use bf16 "
        "instead of fp16",
    ),
)

_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|RuntimeError|AssertionError)\b.*")


def diagnose(log_tail: str, exit_code: int | None, nan_loss: bool = False) -> Diagnosis:
    """Explain why a run failed, from the end of its log, its exit code and its loss curve."""
    for kind, pattern, message in _RULES:
        if pattern.search(log_tail):
            return Diagnosis(kind, message)
    if nan_loss:
        return Diagnosis("nan_loss", _RULES[-1][2])
    if exit_code is not None and exit_code < 0:
        name = signal.Signals(-exit_code).name if -exit_code in signal.valid_signals() else "?"
        if -exit_code == signal.SIGKILL:
            return Diagnosis(
                "killed",
                "the trainer was killed (SIGKILL), most often by the system running out of RAM: "
                "lower train.batch_size or data.cutoff_len",
            )
        return Diagnosis("signal", f"the trainer was ended by signal {name}")
    errors = [line.strip() for line in log_tail.splitlines() if _ERROR_LINE.match(line)]
    if errors:
        return Diagnosis("error", f"the trainer failed: {errors[-1][:500]}")
    return Diagnosis("unknown", f"the trainer exited with code {exit_code}; see train.log")
