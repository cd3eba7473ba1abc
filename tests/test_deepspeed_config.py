"""The DeepSpeed JSON the compiler writes, for every ZeRO stage, is accepted by DeepSpeed's own
config parser once transformers has filled its "auto" values, exactly as the Trainer does at
launch (HfTrainerDeepSpeedConfig, then DeepSpeedConfig)."""

from __future__ import annotations

import importlib.util
import json
from types import SimpleNamespace

import pytest
from conftest import TOKENIZER

from lorastudio.llamafactory.compiler import deepspeed_config

pytestmark = [  # slow: DeepSpeed's and transformers' own parsers, imported for each check
    pytest.mark.skipif(
        importlib.util.find_spec("deepspeed") is None, reason="DeepSpeed is not installed"
    ),
    pytest.mark.slow,
]

STAGES = [(0, False), (2, False), (2, True), (3, False), (3, True)]


def parsed(stage: int, offload: bool, tmp_path, batch: int = 2, accumulation: int = 4):
    """The config after transformers fills it for a CPU run, then through DeepSpeed's parser."""
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import AutoConfig, TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=accumulation,
        use_cpu=True,
        report_to="none",
    )
    filled = HfTrainerDeepSpeedConfig(deepspeed_config(stage, offload))
    filled.trainer_config_process(args)
    model = SimpleNamespace(config=AutoConfig.from_pretrained(TOKENIZER))  # Qwen2.5-0.5B's sizes
    filled.trainer_config_finalize(args, model, num_training_steps=100)
    return filled.config, DeepSpeedConfig(filled.config)


@pytest.mark.parametrize(
    ("stage", "offload"), STAGES, ids=[f"zero{s}{'-offload' * o}" for s, o in STAGES]
)
def test_deepspeeds_parser_accepts_the_config_of_every_stage(stage, offload, tmp_path):
    config, ds = parsed(stage, offload, tmp_path)
    assert "auto" not in json.dumps(config)
    assert ds.zero_optimization_stage == stage
    assert (ds.train_micro_batch_size_per_gpu, ds.gradient_accumulation_steps) == (2, 4)
    assert ds.train_batch_size == 8  # one process: micro batch × accumulation


def test_offload_moves_the_optimizer_and_with_zero_3_the_weights_to_the_cpu(tmp_path):
    _, two = parsed(2, True, tmp_path)
    _, three = parsed(3, True, tmp_path)
    assert two.zero_config.offload_optimizer.device == "cpu"
    assert two.zero_config.offload_param is None
    assert three.zero_config.offload_param.device == "cpu"


def test_zero_3_sizes_its_buckets_from_the_models_hidden_size(tmp_path):
    config, _ = parsed(3, False, tmp_path)
    hidden = 896  # Qwen2.5-0.5B
    assert config["zero_optimization"]["reduce_bucket_size"] == hidden * hidden
    assert config["zero_optimization"]["stage3_param_persistence_threshold"] == 10 * hidden
