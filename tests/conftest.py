"""Shared test fixtures: a tiny Qwen2-architecture model with random weights and the real Qwen2.5
tokenizer (built once per session, never downloaded), a throw-away studio folder, a helper
that runs `python launch.py` as a real subprocess, and one run trained until it has learned
something, with a chat worker loaded with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
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


# Qwen3's tokenizer is Qwen2.5's vocabulary and merges with four more added tokens, none of them
# special (so a decoded reply keeps them): ids 151665-151668, as in Qwen/Qwen3-*'s tokenizer.json.
QWEN3_ADDED_TOKENS = ("<tool_response>", "</tool_response>", "<think>", "</think>")
# Qwen3's chat template (Qwen/Qwen3-8B's tokenizer_config.json) without its tool-call branches:
# system, user and assistant turns, the thinking of the last turn kept and of earlier ones
# dropped, and the empty thinking block in the generation prompt when enable_thinking is false.
QWEN3_CHAT_TEMPLATE = (
    "{%- if messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- set ns = namespace(last_query_index=messages|length - 1) %}"
    "{%- for message in messages[::-1] %}"
    "{%- if message.role == 'user' and ns.last_query_index == messages|length - 1 %}"
    "{%- set ns.last_query_index = (messages|length - 1) - loop.index0 %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- for message in messages %}"
    "{%- set content = message.content if message.content is string else '' %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{%- set reasoning_content = '' %}"
    "{%- if '</think>' in content %}"
    "{%- set reasoning_content = content.split('</think>')[0].rstrip('\\n')"
    ".split('<think>')[-1].lstrip('\\n') %}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') %}"
    "{%- endif %}"
    "{%- if loop.index0 > ns.last_query_index and (loop.last or reasoning_content) %}"
    "{{- '<|im_start|>assistant\\n<think>\\n' + reasoning_content.strip('\\n')"
    " + '\\n</think>\\n\\n' + content.lstrip('\\n') }}"
    "{%- else %}"
    "{{- '<|im_start|>assistant\\n' + content }}"
    "{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\\n\\n</think>\\n\\n' }}"
    "{%- endif %}"
    "{%- endif %}"
)


def qwen3_tokenizer():
    """The genuine Qwen2.5 tokenizer made Qwen3's: its four added tokens and its chat template."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in QWEN3_ADDED_TOKENS]
    )
    assert tokenizer.convert_tokens_to_ids("<think>") == 151667 and len(tokenizer) == 151669
    tokenizer.chat_template = QWEN3_CHAT_TEMPLATE
    return tokenizer


def build_tiny_qwen3(out: Path, moe: bool = False) -> Path:
    """A tiny model in Qwen3's real architecture (Qwen3ForCausalLM: head_dim, q/k norms, no
    attention bias), or Qwen3-MoE's (Qwen3MoeForCausalLM: 4 experts, 2 per token), with Qwen3's
    tokenizer and chat template; random weights."""
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3MoeConfig, Qwen3MoeForCausalLM

    tokenizer = qwen3_tokenizer()
    common = {
        "vocab_size": 151680,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": True,
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    }
    if moe:
        config = Qwen3MoeConfig(
            **common, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32
        )
        model = Qwen3MoeForCausalLM(config)
    else:
        model = Qwen3ForCausalLM(Qwen3Config(**common))
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3(tmp_path_factory.mktemp("models") / "tiny-qwen3")


@pytest.fixture(scope="session")
def tiny_qwen3_moe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_qwen3(tmp_path_factory.mktemp("models") / "tiny-qwen3-moe", moe=True)


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
def model(tmp_path: Path) -> Path:
    """A folder that passes for a local model where only its config.json is looked at."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def adapters(tmp_path: Path):
    """An adapters folder whose runs are all stopped, whatever a failing test left running."""
    folder = tmp_path / "adapters"
    yield folder
    from fake_runs import trainers_of

    for run_dir in folder.glob("*-*"):
        for pid in trainers_of(run_dir):
            os.killpg(pid, signal.SIGKILL)


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


RUN_FILES = (
    "recipe.yaml",
    "llamafactory.yaml",
    "status.json",
    "adapter_config.json",
    "adapter_model.safetensors",
)


def copied_run(learned_run: LearnedRun, home: Path) -> tuple[Studio, Path]:
    """The learned run copied into a studio folder of its own (what a teammate gets)."""
    studio = Studio(home, LF_DATA)
    run = studio.adapters / learned_run.run_dir.name
    run.mkdir(parents=True)
    for name in RUN_FILES:
        shutil.copy(learned_run.run_dir / name, run / name)
    return studio, run


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


# ---------------------------------------------------------------- a run folder, without training


def compiled_run(
    folder: Path,
    device: str = "cuda",
    bf16: bool = True,
    recipe_file: str = "qwen2.5-0.5b-lora.yaml",
    status: dict | None = None,
) -> Path:
    """A run folder as `launch.py train` leaves it for a shipped recipe compiled for ``device``
    (cards with or without bf16), with a small but whole adapter: what chat and export read,
    without training anything. ``status`` goes into status.json over a succeeded state."""
    import struct

    import yaml

    from lorastudio.llamafactory.compiler import Target, compile_recipe
    from lorastudio.recipe.schema import dump_recipe, parse_recipe_text
    from lorastudio.workspace import Workspace

    workspace = Workspace(folder, LF_DATA, folder / "adapters")
    source = REPO / "recipes" / recipe_file
    recipe = parse_recipe_text(source.read_text(encoding="utf-8"), source=str(source))
    run_dir = workspace.adapters_dir / f"20260101-000000-{recipe.name}"
    compiled = compile_recipe(
        recipe,
        target=Target(device, 1, bf16=bf16),
        run_dir=run_dir,
        workspace=workspace,
        registry=workspace.dataset_registry(),
    )
    run_dir.mkdir(parents=True)
    (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    (run_dir / "llamafactory.yaml").write_text(yaml.safe_dump(compiled.args), encoding="utf-8")
    state = {"id": run_dir.name, "name": recipe.name, "state": "succeeded", "device": device}
    (run_dir / "status.json").write_text(json.dumps(state | (status or {})), encoding="utf-8")
    (run_dir / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    weights = struct.pack("<Q", len(header)) + header + bytes(4)
    (run_dir / "adapter_model.safetensors").write_bytes(weights)
    return run_dir
