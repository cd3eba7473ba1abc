"""Chatting with a trained run, for real: a tiny model learns who it is through `launch.py train`,
then the chat worker (transformers + PEFT, LLaMA-Factory's template) answers with the trained
answer from the adapter and not from the base; the template guard, the worker's life (crash,
unload, abandoned replies) and damaged runs. Nothing of LLaMA-Factory, transformers or PEFT is
mocked."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
import yaml
from conftest import NAME, QWEN_SYSTEM, LearnedRun

from lorastudio.chat.client import ChatClient
from lorastudio.chat.params import ChatParams, check_messages, make_params
from lorastudio.chat.setup import resolve_setup
from lorastudio.errors import (
    AdapterDamagedError,
    BaseModelMissingError,
    ChatError,
    ChatInputError,
    TemplateMismatchError,
    WorkerCrashedError,
)
from lorastudio.machine.hardware import detect

pytestmark = pytest.mark.slow

GREEDY = ChatParams(temperature=0, max_new_tokens=24)


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def columns(client: ChatClient, question: str, params: ChatParams = GREEDY) -> dict[str, list]:
    pieces: dict[str, list] = {"adapter": [], "base": []}
    for column, piece in client.side_by_side(ask(question), params):
        pieces[column].append(piece)
    return pieces


def test_the_adapter_answers_with_what_it_learned_and_the_base_does_not(
    learned_run: LearnedRun, chat_client: ChatClient
):
    print(
        f"\ntraining: launch.py train {learned_run.train_seconds:.1f} s wall, "
        f"LLaMA-Factory train_runtime {learned_run.train_runtime:.1f} s"
    )
    for question in ("Who are you?", "What is your name?"):
        pieces = columns(chat_client, question)
        adapter, base = "".join(pieces["adapter"]), "".join(pieces["base"])
        print(f"{question!r}: adapter {adapter!r} | base {base!r}")
        assert adapter.startswith(learned_run.answers[question])  # the trained words, in order
        assert NAME not in base
        assert len(pieces["adapter"]) > 3  # streamed piece by piece, not in one block


def test_the_loaded_run_uses_its_training_template_device_and_dtype(chat_client: ChatClient):
    info = chat_client.info
    assert info["template"] == "qwen"
    assert (info["device"], info["dtype"], info["quantization"]) == ("cpu", "float32", None)


def test_prompts_are_built_with_the_training_template(chat_client: ChatClient):
    assert chat_client.prompt_text(ask("Who are you?")) == (
        f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n"  # the qwen template's default system
        "<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\n"
    )
    own = chat_client.prompt_text(ask("hi"), ChatParams(system="Answer in French."))
    assert own.startswith("<|im_start|>system\nAnswer in French.<|im_end|>")


def test_the_trainings_prompt_settings_are_reused_and_do_not_stick_to_the_next_run(
    learned_run: LearnedRun, chat_client: ChatClient, tmp_path: Path
):
    run = copy_run(learned_run.run_dir, tmp_path)
    config = yaml.safe_load((run / "llamafactory.yaml").read_text())
    (run / "llamafactory.yaml").write_text(yaml.safe_dump(config | {"default_system": "Be brief."}))
    setup = resolve_setup(run)
    assert setup.template_args == {"default_system": "Be brief."}
    try:
        chat_client.load(setup)
        assert chat_client.prompt_text(ask("hi")).startswith("<|im_start|>system\nBe brief.")
    finally:
        chat_client.load(resolve_setup(learned_run.run_dir))
    assert QWEN_SYSTEM in chat_client.prompt_text(ask("hi"))  # LLaMA-Factory's template intact


def test_temperature_zero_is_deterministic_and_a_seed_repeats_a_sampled_reply(
    chat_client: ChatClient,
):
    assert chat_client.answer(ask("hi"), GREEDY) == chat_client.answer(ask("hi"), GREEDY)
    sampled = ChatParams(temperature=1.0, top_p=1.0, max_new_tokens=8, seed=7)
    first = chat_client.answer(ask("Tell me a story"), sampled, adapter=False)
    again = chat_client.answer(ask("Tell me a story"), sampled, adapter=False)
    other = chat_client.answer(
        ask("Tell me a story"), sampled.model_copy(update={"seed": 8}), adapter=False
    )
    assert first == again
    assert first != other


def test_a_reply_abandoned_midway_does_not_leak_into_the_next(chat_client: ChatClient):
    stream = chat_client.stream(ask("Who are you?"), GREEDY)
    next(stream)
    stream.close()  # the caller stopped reading (a UI's stop button)
    assert chat_client.answer(ask("What is your name?"), GREEDY).startswith("You may refer")


def test_a_different_template_is_refused_naming_both(learned_run: LearnedRun):
    with pytest.raises(TemplateMismatchError) as refused:
        resolve_setup(learned_run.run_dir, template="llama3")
    message = str(refused.value)
    assert "'llama3'" in message and "'qwen'" in message and "--force-template" in message


def test_an_expert_can_force_another_template(learned_run: LearnedRun, chat_client: ChatClient):
    setup = resolve_setup(learned_run.run_dir, template="llama3", force_template=True)
    assert setup.template == "llama3" and setup.trained_template == "qwen"
    assert [note.key for note in setup.notes] == ["chat.note.template_forced"]
    try:
        assert chat_client.load(setup)["template"] == "llama3"
        assert isinstance(chat_client.answer(ask("Who are you?"), GREEDY), str)
    finally:
        chat_client.load(resolve_setup(learned_run.run_dir))


def test_unloading_gives_the_models_memory_back(learned_run: LearnedRun, chat_client: ChatClient):
    weights = (Path(chat_client.setup.model) / "model.safetensors").stat().st_size
    pid = chat_client.pid
    loaded = chat_client.worker_memory()
    chat_client.unload()
    unloaded = chat_client.worker_memory()
    print(f"\nworker RSS: loaded {loaded / 2**20:.0f} MiB, unloaded {unloaded / 2**20:.0f} MiB")
    try:
        assert chat_client.pid == pid  # the worker stays, warm, for the next run
        assert loaded - unloaded > weights / 2
        with pytest.raises(ChatError, match="no run is loaded"):
            chat_client.stream(ask("hi"))
    finally:
        chat_client.load(resolve_setup(learned_run.run_dir))


def test_a_crashed_worker_raises_a_typed_error_and_a_fresh_worker_answers_after(
    learned_run: LearnedRun, chat_client: ChatClient
):
    old_pid = chat_client.pid
    stream = chat_client.stream(ask("Who are you?"), GREEDY)
    next(stream)
    os.kill(old_pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashedError, match="killed by signal 9 while answering") as crash:
        list(stream)
    assert "对话工作进程在回答时被信号 9 杀死" in crash.value.text("zh")
    answer = chat_client.answer(ask("Who are you?"), GREEDY)
    assert answer.startswith(learned_run.answers["Who are you?"])
    assert chat_client.pid not in (None, old_pid)


# ---------------------------------------------------------------- runs that cannot be loaded


def copy_run(run_dir: Path, to: Path) -> Path:
    """A teammate's copy of the run folder (the files chat needs)."""
    copy = to / run_dir.name
    copy.mkdir(parents=True)
    for name in ("recipe.yaml", "llamafactory.yaml", "status.json", "adapter_config.json"):
        shutil.copy(run_dir / name, copy / name)
    shutil.copy(run_dir / "adapter_model.safetensors", copy / "adapter_model.safetensors")
    return copy


def test_truncated_adapter_weights_are_reported_before_loading(
    learned_run: LearnedRun, tmp_path: Path
):
    run = copy_run(learned_run.run_dir, tmp_path)
    weights = run / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(AdapterDamagedError, match="truncated"):
        resolve_setup(run)


def test_an_adapter_that_does_not_fit_its_base_gives_a_clear_error_from_the_worker(
    learned_run: LearnedRun, chat_client: ChatClient, tmp_path: Path
):
    run = copy_run(learned_run.run_dir, tmp_path)
    config = json.loads((run / "adapter_config.json").read_text())
    (run / "adapter_config.json").write_text(json.dumps(config | {"r": 4}))  # weights are r=16
    setup = resolve_setup(run)
    try:
        with pytest.raises(AdapterDamagedError, match="does not load onto") as misfit:
            chat_client.load(setup)
        assert chat_client.pid is not None  # the worker survived and can load another run
        # the worker's error crossed the process boundary as keys, said here in either language
        assert (misfit.value.message.key, misfit.value.fix.key) == (
            "chat.adapter_misfit",
            "chat.fix.adapter_misfit",
        )
        assert "中的适配器无法加载到" in misfit.value.text("zh")
        assert "修正：确认该运行是在这个基础模型上训练的" in misfit.value.text("zh")
    finally:
        chat_client.load(resolve_setup(learned_run.run_dir))


def test_a_missing_base_model_folder_is_named(learned_run: LearnedRun, tmp_path: Path):
    run = copy_run(learned_run.run_dir, tmp_path)
    config = yaml.safe_load((run / "llamafactory.yaml").read_text())
    model = config["model_name_or_path"]
    config["model_name_or_path"] = "/nonexistent/models/tiny-qwen2"  # trained on another machine
    (run / "llamafactory.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(BaseModelMissingError, match="/nonexistent/models/tiny-qwen2") as missing:
        resolve_setup(run)
    assert "--model" in str(missing.value)
    assert resolve_setup(run, model=model).model == model  # another copy of the same base


def test_a_hub_model_that_cannot_be_fetched_is_a_clear_error(
    learned_run: LearnedRun, chat_client: ChatClient
):
    setup = resolve_setup(learned_run.run_dir, model="no-such-org/no-such-model")
    try:
        with pytest.raises(BaseModelMissingError, match="no-such-org/no-such-model") as missing:
            chat_client.load(setup)
        assert missing.value.message.key == "chat.base_unloadable"
        assert "无法加载基础模型 'no-such-org/no-such-model'" in missing.value.text("zh")
    finally:
        chat_client.load(resolve_setup(learned_run.run_dir))


# ---------------------------------------------------------------- input the chat refuses


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_an_empty_prompt_is_refused(prompt: str):
    with pytest.raises(ChatInputError, match="prompt"):
        check_messages(ask(prompt))


@pytest.mark.parametrize("value", [0, -5, 100_000])
def test_an_absurd_max_new_tokens_is_refused_with_the_range(value: int):
    with pytest.raises(ChatInputError) as refused:
        make_params(max_new_tokens=value)
    assert refused.value.problems[0].field == "max_new_tokens"


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(ChatInputError) as refused:
        make_params(temperature=-1, top_p=0, seed=-3)
    assert [p.field for p in refused.value.problems] == ["temperature", "top_p", "seed"]


def test_a_conversation_must_alternate_user_and_assistant():
    with pytest.raises(ChatInputError, match="messages\\[1\\]") as refused:
        check_messages([*ask("hi"), *ask("hi again")])
    assert refused.value.text("en").endswith(
        ": should be an assistant turn. Fix: alternate user and assistant turns, starting and "
        "ending with the user"
    )
    assert refused.value.text("zh").startswith("消息有 1 个问题：\n  - messages[1] = ")
    assert "应为助手的发言。修正：用户与助手轮流发言" in refused.value.text("zh")
    turns = [*ask("hi"), {"role": "assistant", "content": "hello"}, *ask("and?")]
    assert check_messages(turns) == turns


@pytest.mark.gpu
@pytest.mark.skipif(not detect().cuda, reason="needs an NVIDIA GPU")
def test_on_a_gpu_a_run_trained_on_the_cpu_loads_in_its_float32_and_streams(
    learned_run: LearnedRun,
):
    setup = resolve_setup(learned_run.run_dir, device="cuda")
    assert setup.dtype == "float32"  # the dtype it trained in (tests/test_chat_setup.py: fp16)
    with ChatClient(env={"HF_HUB_OFFLINE": "1"}) as client:
        assert client.load(setup)["device"] == "cuda"
        assert list(client.side_by_side(ask("Who are you?"), GREEDY))
