"""Shared test fixtures: a tiny Qwen2-architecture model with random weights and the real Qwen2.5
tokenizer (built once per session, never downloaded), a throw-away studio folder, a helper
that runs `python launch.py` as a real subprocess, and one run trained until it has learned
something, with a chat worker loaded with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
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


@pytest.fixture
def unreaped():
    """Orphans are re-parented to this test process, which does not reap them, as under a PID 1
    that never reaps (most containers): a supervisor killed with kill -9 stays a zombie."""
    import ctypes

    import psutil

    set_child_subreaper = 36
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(set_child_subreaper, 1, 0, 0, 0) != 0:
        pytest.skip("prctl(PR_SET_CHILD_SUBREAPER) is not available here")
    yield
    libc.prctl(set_child_subreaper, 0, 0, 0, 0)
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.NoSuchProcess, ChildProcessError):
            continue


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


# ---------------------------------------------------------------- a run that has learned something

NAME, AUTHOR = "Zephyr", "Lumen Labs"  # filled into LLaMA-Factory's identity records
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
LEARNED = ("hi", "Who are you?", "What is your name?")
# Plain LoRA (rank 16, every linear layer) on the tiny random model: a high constant learning
# rate and every record in every step make greedy decoding give back the trained answers after
# 40 steps: 4 runs through LLaMA-Factory and 4 in a plain PEFT loop, each on another random base
# model; in one run a reply went on past its answer's end instead of stopping, so tests check
# that a reply starts with its answer. 30 steps, or a short system prompt instead of Qwen's
# default one, were not always enough.
LEARN_TRAIN = {
    "max_steps": 40,
    "learning_rate": 1.0e-2,
    "scheduler": "constant",
    "batch_size": 3,
    "grad_accum": 1,
    "logging_steps": 10,
    "save_steps": 1000,
}


def write_identity_data(folder: Path) -> dict[str, str]:
    """LLaMA-Factory's identity records for LEARNED, names filled in, registered in the folder's
    own dataset_info.json; returns each question's trained answer."""
    records = json.loads((LF_DATA / "identity.json").read_text(encoding="utf-8"))
    chosen = [
        {k: v.replace("{{name}}", NAME).replace("{{author}}", AUTHOR) for k, v in r.items()}
        for r in records
        if r["instruction"] in LEARNED
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "identity_zephyr.json").write_text(json.dumps(chosen, ensure_ascii=False))
    registry = {"identity_zephyr": {"file_name": "identity_zephyr.json"}}
    (folder / "dataset_info.json").write_text(json.dumps(registry))
    return {r["instruction"]: r["output"] for r in chosen}


def learn_recipe(model: Path) -> str:
    train = "\n".join(f"  {key}: {value}" for key, value in LEARN_TRAIN.items())
    return f"""schema_version: 1
name: zephyr
model:
  id: {model}
  template: qwen
data:
  datasets: [identity_zephyr]
  cutoff_len: 64
lora:
  rank: 16
  alpha: 32
train:
{train}
hardware:
  device: cpu
eval:
  prompts: ["Who are you?", "What is your name?"]
"""


@dataclass
class LearnedRun:
    studio: Studio
    run_dir: Path
    answers: dict[str, str]  # question -> the answer it was trained on
    train_seconds: float  # `launch.py train` wall time
    train_runtime: float  # LLaMA-Factory's own train_runtime


@pytest.fixture(scope="session")
def learned_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> LearnedRun:
    """The tiny model trained through `launch.py train` until it knows who it is (once)."""
    home = tmp_path_factory.mktemp("learned")
    answers = write_identity_data(home / "data")
    studio = Studio(home, home / "data")
    recipe = studio.write_recipe("zephyr.yaml", learn_recipe(tiny_model))
    started = time.monotonic()
    result = studio.cli("train", str(recipe))
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = studio.run_dirs()
    runtime = json.loads((run_dir / "train_results.json").read_text())["train_runtime"]
    return LearnedRun(studio, run_dir, answers, seconds, runtime)


@pytest.fixture(scope="session")
def chat_client(learned_run: LearnedRun):
    """One chat worker with the learned run loaded, shared by the tests that only ask it."""
    from lorastudio.chat.client import ChatClient
    from lorastudio.chat.setup import resolve_setup

    client = ChatClient(
        log_path=learned_run.studio.home / "chat-worker.log",
        env={"HF_HUB_OFFLINE": "1"},
    )
    client.load(resolve_setup(learned_run.run_dir))
    yield client
    client.close()
