"""Qwen3 end to end on CPU: tiny random-weight models in Qwen3's and Qwen3-MoE's real
architectures, with Qwen3's tokenizer and chat template, trained through `launch.py train` with
`model.template: auto`; the run's chat answers through the template the run resolved, with
thinking on and with thinking off."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import LEARN_TRAIN, LF_DATA, Studio

from lorastudio.chat.client import ChatClient
from lorastudio.chat.params import ChatParams
from lorastudio.chat.prompt_sets import run_prompt_set
from lorastudio.chat.setup import resolve_setup
from lorastudio.chat.thinking import split_thinking

pytestmark = pytest.mark.slow

QUESTIONS = ("Who are you?", "What is your name?", "hi")
THOUGHT = "They ask about me."
GREEDY = ChatParams(temperature=0, max_new_tokens=48)


def write_thinking_data(folder: Path) -> dict[str, str]:
    """LLaMA-Factory's identity records for QUESTIONS, each answer after a short thinking block
    (a reasoning dataset in miniature); returns each question's answer."""
    records = json.loads((LF_DATA / "identity.json").read_text(encoding="utf-8"))
    chosen = []
    for record in records:
        if record["instruction"] in QUESTIONS:
            answer = record["output"].replace("{{name}}", "Zephyr").replace("{{author}}", "Lumen")
            chosen.append({"instruction": record["instruction"], "input": "", "output": answer})
    folder.mkdir(parents=True, exist_ok=True)
    thinking = [r | {"output": f"<think>\n{THOUGHT}\n</think>\n\n{r['output']}"} for r in chosen]
    (folder / "identity_think.json").write_text(json.dumps(thinking, ensure_ascii=False))
    registry = {"identity_think": {"file_name": "identity_think.json"}}
    (folder / "dataset_info.json").write_text(json.dumps(registry))
    return {r["instruction"]: r["output"] for r in chosen}


def qwen3_recipe(model: Path, name: str, thinking: str, train: dict) -> str:
    return yaml.safe_dump(
        {
            "schema_version": 1,
            "name": name,
            "model": {"id": str(model), "template": "auto", "thinking": thinking},
            "data": {"datasets": ["identity_think"], "cutoff_len": 96},
            "lora": {"rank": 16, "alpha": 32},
            "train": train,
            "hardware": {"device": "cpu"},
            "eval": {"prompts": ["Who are you?"]},
        },
        sort_keys=False,
    )


@dataclass
class Trained:
    studio: Studio
    run_dir: Path
    answers: dict[str, str]

    def args(self) -> dict:
        return yaml.safe_load((self.run_dir / "llamafactory.yaml").read_text())


def train(tmp: Path, model: Path, name: str, thinking: str, steps: int) -> Trained:
    answers = write_thinking_data(tmp / "data")
    studio = Studio(tmp, tmp / "data")
    settings = LEARN_TRAIN | {"max_steps": steps}
    recipe = studio.write_recipe(f"{name}.yaml", qwen3_recipe(model, name, thinking, settings))
    result = studio.cli("train", str(recipe), timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = studio.run_dirs()
    return Trained(studio, run_dir, answers)


@pytest.fixture(scope="module")
def thinking_run(tiny_qwen3: Path, tmp_path_factory) -> Trained:
    return train(tmp_path_factory.mktemp("think-on"), tiny_qwen3, "think-on", "auto", 60)


@pytest.fixture(scope="module")
def plain_run(tiny_qwen3: Path, tmp_path_factory) -> Trained:
    return train(tmp_path_factory.mktemp("think-off"), tiny_qwen3, "think-off", "off", 40)


def chat(run: Trained) -> ChatClient:
    client = ChatClient(log_path=run.run_dir / "chat-test.log", env={"HF_HUB_OFFLINE": "1"})
    client.load(resolve_setup(run.run_dir))
    return client


def test_auto_resolves_qwen3_with_thinking_from_the_folder_and_writes_it_into_the_run(
    thinking_run: Trained,
):
    args = thinking_run.args()
    assert args["template"] == "qwen3" and args["enable_thinking"] is True
    recipe = yaml.safe_load((thinking_run.run_dir / "recipe.yaml").read_text())
    assert recipe["model"]["template"] == "auto"  # the recipe as written; the run has the choice
    notes = json.loads((thinking_run.run_dir / "preflight.json").read_text())["notes"]
    assert any(n["key"] == "note.template_thinking" for n in notes)


def test_a_run_trained_with_thinking_thinks_then_answers_in_chat(thinking_run: Trained):
    with chat(thinking_run) as client:
        assert client.setup.template == "qwen3" and client.setup.trained_thinking is True
        for question, answer in thinking_run.answers.items():
            reply = split_thinking(client.answer([{"role": "user", "content": question}], GREEDY))
            assert reply.thinking == THOUGHT
            assert reply.answer.startswith(answer)


def test_thinking_can_be_switched_off_in_chat_where_the_template_allows_both(
    thinking_run: Trained,
):
    with chat(thinking_run) as client:
        talk = [{"role": "user", "content": "Who are you?"}]
        off = client.prompt_text(talk, ChatParams(thinking="off"))
        on = client.prompt_text(talk, ChatParams(thinking="auto"))
        assert off.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
        assert on.endswith("<|im_start|>assistant\n")


def test_the_prompt_set_table_keeps_answers_without_their_thinking(thinking_run: Trained):
    with chat(thinking_run) as client:
        (row,) = run_prompt_set(client, params=GREEDY)
    assert row.adapter.startswith(thinking_run.answers["Who are you?"])
    assert "<think>" not in row.adapter and row.adapter_thinking == THOUGHT
    saved = json.loads((thinking_run.run_dir / "prompts.jsonl").read_text().splitlines()[0])
    assert saved["adapter"] == row.adapter and saved["adapter_thinking"] == THOUGHT


def test_a_run_trained_without_thinking_answers_at_once_after_an_empty_thinking_block(
    plain_run: Trained,
):
    args = plain_run.args()
    assert args["template"] == "qwen3" and args["enable_thinking"] is False
    with chat(plain_run) as client:
        assert client.setup.trained_thinking is False
        talk = [{"role": "user", "content": "Who are you?"}]
        assert client.prompt_text(talk).endswith("<think>\n\n</think>\n\n")
        for question, answer in plain_run.answers.items():
            reply = split_thinking(client.answer([{"role": "user", "content": question}], GREEDY))
            assert reply.thinking is None and reply.answer.startswith(answer)


def test_a_qwen3_moe_model_trains_with_template_auto_and_chats(
    tiny_qwen3_moe: Path, tmp_path: Path
):
    run = train(tmp_path, tiny_qwen3_moe, "moe", "off", 6)
    args = run.args()
    assert args["template"] == "qwen3" and args["enable_thinking"] is False
    preflight = json.loads((run.run_dir / "preflight.json").read_text())
    assert preflight["memory_total"] > 0  # sized from the folder's MoE config.json
    adapter = json.loads((run.run_dir / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    with chat(run) as client:
        reply = client.answer([{"role": "user", "content": "hi"}], GREEDY)
        assert isinstance(reply, str)
        assert client.info["template"] == "qwen3"
