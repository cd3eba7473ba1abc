"""Tests for lorastudio.llamafactory.parser_check: LLaMA-Factory's own parser run on a batch of
arguments in one subprocess, at three levels (types, parse, full), each check with its own
environment."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from lorastudio.llamafactory.compiler import deepspeed_config
from lorastudio.llamafactory.parser_check import (
    ArgsCheck,
    _process_groups,
    check_train_args,
    check_train_args_many,
)
from lorastudio.machine.hardware import Accelerator, Hardware, detect

NO_ACCELERATORS = Hardware(cuda=(), npu=(), cpu_count=4)
FOUR_GPUS = Hardware(
    cuda=tuple(Accelerator("cuda", i, "NVIDIA H100 80GB HBM3", 81559, 0) for i in range(4)),
    npu=(),
    cpu_count=64,
)


def cpu_args(output_dir: Path, **changes: object) -> dict:
    """The smallest arguments LLaMA-Factory accepts for a LoRA SFT run on CPU."""
    return {
        "model_name_or_path": "Qwen/Qwen2.5-0.5B-Instruct",
        "template": "qwen",
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "dataset": "identity",
        "output_dir": str(output_dir),
        "max_steps": 1,
        "lr_scheduler_type": "cosine",
        "report_to": "none",
        "use_cpu": True,
    } | changes


@pytest.mark.slow
def test_one_batch_answers_every_check_in_order_with_the_parsers_own_words(tmp_path: Path):
    torchrun = {"FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "1", "NNODES": "2", "NODE_RANK": "0"}
    checks = [
        ArgsCheck(cpu_args(tmp_path), level="full"),
        ArgsCheck(cpu_args(tmp_path, lora_rnk=8), level="types"),
        ArgsCheck(cpu_args(tmp_path, lora_rank="eight"), level="types"),
        ArgsCheck(cpu_args(tmp_path, lr_scheduler_type="cosinus"), level="types"),
        ArgsCheck(cpu_args(tmp_path, lora_rank="eight"), level="parse"),
        ArgsCheck(cpu_args(tmp_path, dataset=None), level="full"),
        ArgsCheck(cpu_args(tmp_path), env=torchrun, level="full"),
        ArgsCheck(cpu_args(tmp_path, include_num_input_tokens_seen="non_padding"), level="full"),
    ]

    results = check_train_args_many(checks)

    assert results[0] is None
    assert results[1] == "ValueError: Some keys are not used by the HfArgumentParser: ['lora_rnk']"
    assert results[2] == (
        "ArgumentError: argument --lora_rank/--lora-rank: invalid int value: 'eight'"
    )
    assert results[3].startswith(
        "ArgumentError: argument --lr_scheduler_type/--lr-scheduler-type: invalid choice: 'cosinus'"
    )
    assert results[4] == results[2], "every level does the types check first"
    assert results[5] == "ValueError: Please specify dataset for training."
    assert results[6] is None, "a torchrun launch's variables do not trip the check"
    assert results[7] is None, "str | bool: argparse says bool only, the YAML path takes both"


@pytest.mark.slow
def test_the_single_check_still_returns_the_parsers_error(tmp_path: Path):
    error = check_train_args(cpu_args(tmp_path, lora_rnk=8), full=False)

    assert error == "ValueError: Some keys are not used by the HfArgumentParser: ['lora_rnk']"


def test_an_unknown_level_is_refused_before_anything_runs(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown level 'deep'"):
        check_train_args_many([ArgsCheck(cpu_args(tmp_path), level="deep")])  # type: ignore[arg-type]


def test_without_gpus_or_npus_every_check_shares_one_subprocess():
    checks = [
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "0"}, "full"),
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, "parse"),
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": ""}, "types"),
    ]

    assert _process_groups(checks, NO_ACCELERATORS) == [[0, 1, 2]]


def test_on_a_gpu_machine_checks_that_see_different_gpus_run_in_separate_subprocesses():
    checks = [
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "0"}, "full"),
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, "full"),
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "0"}, "parse"),
        ArgsCheck({}, {"CUDA_VISIBLE_DEVICES": "2"}, "types"),
    ]

    assert _process_groups(checks, FOUR_GPUS) == [[0, 2, 3], [1]]


@pytest.mark.gpu
def test_deepspeed_passes_the_full_check_only_when_launched_through_torchrun(tmp_path: Path):
    if not detect().cuda:
        pytest.skip("needs an NVIDIA GPU: transformers refuses bf16 without one")
    if importlib.util.find_spec("deepspeed") is None:
        pytest.skip("needs DeepSpeed: pip install -e '.[deepspeed]'")
    ds_config = tmp_path / "ds_config.json"
    ds_config.write_text(json.dumps(deepspeed_config(2, offload=False)))
    args = cpu_args(tmp_path / "out", use_cpu=False, bf16=True, deepspeed=str(ds_config))
    torchrun = {"CUDA_VISIBLE_DEVICES": "0", "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "1"}

    results = check_train_args_many(
        [ArgsCheck(args, torchrun, "full"), ArgsCheck(args, {"CUDA_VISIBLE_DEVICES": "0"}, "full")]
    )

    assert results == [
        None,
        "ValueError: Please use `FORCE_TORCHRUN=1` to launch DeepSpeed training.",
    ]
