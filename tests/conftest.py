"""Shared test fixtures: a tiny Qwen2-architecture model with random weights and the real Qwen2.5
tokenizer (built once per session, never downloaded), a throw-away studio folder, and a helper
that runs `python launch.py` as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared/fixtures beside the checkout; LORASTUDIO_FIXTURES where it is elsewhere (GPU machine).
FIXTURES = Path(os.environ.get("LORASTUDIO_FIXTURES") or REPO.parent / "shared" / "fixtures")
LF_DATA = FIXTURES / "llamafactory-data"
TOKENIZER = FIXTURES / "qwen2.5-tokenizer"


def build_tiny_qwen2(out: Path) -> Path:
    """A 9.8 M-parameter Qwen2 model (2 layers, hidden 64) with the genuine Qwen2.5 tokenizer."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    config = Qwen2Config(
        vocab_size=151680,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    tokenizer.save_pretrained(out)
    Qwen2ForCausalLM(config).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen2(tmp_path_factory.mktemp("models") / "tiny-qwen2")


class Studio:
    """A studio folder of its own (adapters, data) and a way to run launch.py against it."""

    def __init__(self, home: Path, data_dir: Path):
        self.home = home
        self.data_dir = data_dir
        self.adapters = home / "adapters"
        self.env = os.environ | {
            "LORASTUDIO_HOME": str(home),
            "LORASTUDIO_DATA_DIR": str(data_dir),
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, str(REPO / "launch.py"), *args]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.argv(*args),
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run_dirs(self) -> list[Path]:
        if not self.adapters.is_dir():
            return []
        return sorted(p for p in self.adapters.iterdir() if p.is_dir())

    def write_recipe(self, name: str, text: str) -> Path:
        path = self.home / name
        path.write_text(text)
        return path


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    return Studio(tmp_path, LF_DATA)


def tiny_recipe(model: Path, name: str = "tiny", **train: object) -> str:
    """A CPU recipe for the tiny model on LLaMA-Factory's identity data."""
    settings = {
        "max_steps": 30,
        "learning_rate": 1.0e-3,
        "batch_size": 2,
        "grad_accum": 1,
        "logging_steps": 1,
        "save_steps": 10,
    } | train
    lines = "\n".join(f"  {key}: {value}" for key, value in settings.items())
    return f"""schema_version: 1
name: {name}
model:
  id: {model}
  template: qwen
data:
  datasets: [identity]
  cutoff_len: 128
  max_samples: 64
lora:
  rank: 8
  alpha: 16
train:
{lines}
hardware:
  device: cpu
"""
