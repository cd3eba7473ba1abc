"""How chat reads a run from its folder, without a GPU and without training: it loads the dtype
the run trained in (fp16 on cards without bf16), picks its device by the rule training uses, and
says every reason it refuses a run, as a keyed message, in English and in Chinese."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import compiled_run

from lorastudio.chat.setup import resolve_setup
from lorastudio.errors import (
    AdapterDamagedError,
    BaseModelMissingError,
    ChatError,
    TemplateMismatchError,
)
from lorastudio.machine.hardware import Accelerator, Hardware, resolve_device

CPU_ONLY = Hardware(cuda=(), npu=(), cpu_count=4)
ONE_T4 = Hardware(cuda=(Accelerator("cuda", 0, "Tesla T4", 15360, 0),), npu=(), cpu_count=4)
ONE_910 = Hardware(cuda=(), npu=(Accelerator("npu", 0, "910A", 32768, 0),), cpu_count=4)


# ---------------------------------------------------------------- the dtype the run trained in


def test_a_run_compiled_for_a_card_without_bf16_chats_in_float16(tmp_path: Path):
    run = compiled_run(tmp_path, "cuda", bf16=False)  # train.precision auto, e.g. on a T4
    config = yaml.safe_load((run / "llamafactory.yaml").read_text())
    assert config.get("fp16") is True and not config.get("bf16")
    assert resolve_setup(run, hardware=ONE_T4).dtype == "float16"


def test_a_run_compiled_with_bf16_chats_in_bfloat16(tmp_path: Path):
    run = compiled_run(tmp_path, "cuda", bf16=True)
    assert resolve_setup(run, hardware=ONE_T4).dtype == "bfloat16"


def test_a_run_trained_on_the_cpu_chats_in_float32_even_on_a_gpu(tmp_path: Path):
    run = compiled_run(tmp_path, "cpu", recipe_file="cpu-smoke.yaml")
    assert resolve_setup(run, device="cuda", hardware=ONE_T4).dtype == "float32"


def test_on_the_cpu_any_run_chats_in_float32(tmp_path: Path):
    run = compiled_run(tmp_path, "cuda", bf16=False)
    assert resolve_setup(run, device="cpu", hardware=ONE_T4).dtype == "float32"


# ---------------------------------------------------------------- the device, by training's rule


@pytest.mark.parametrize("hardware", [CPU_ONLY, ONE_T4, ONE_910])
def test_auto_picks_the_device_training_would(tmp_path: Path, hardware: Hardware):
    run = compiled_run(tmp_path)
    chosen = resolve_setup(run, device="auto", hardware=hardware).device
    assert chosen == resolve_device("auto", hardware)


def test_a_run_trained_on_a_device_this_machine_lacks_is_refused_in_both_languages(
    tmp_path: Path,
):
    run = compiled_run(tmp_path, "cuda")
    with pytest.raises(ChatError) as refused:
        resolve_setup(run, hardware=CPU_ONLY)
    assert refused.value.message.key == "chat.no_device"
    assert refused.value.text("en") == (
        "run qwen2.5-0.5b-lora was trained on cuda, which this machine does not have. "
        "Fix: chat on the CPU (--device cpu); it is slower but gives the same answers"
    )
    assert "本机没有该设备。修正：在 CPU 上对话（--device cpu）" in refused.value.text("zh")


# ------------------------------------------------------------ refusals, keyed, in both languages


def _truncate_weights(run: Path) -> None:
    weights = run / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-2])


def _unreadable_config(run: Path) -> None:
    (run / "adapter_config.json").write_text("{not json")


def _no_adapter_yet(run: Path) -> None:
    (run / "adapter_config.json").unlink()
    (run / "adapter_model.safetensors").unlink()


def _base_moved(run: Path) -> None:
    config = yaml.safe_load((run / "llamafactory.yaml").read_text())
    config["model_name_or_path"] = "/nonexistent/models/qwen"
    (run / "llamafactory.yaml").write_text(yaml.safe_dump(config))


REFUSALS: list[tuple[Callable[[Path], None], type, str, str, str]] = [
    (_truncate_weights, AdapterDamagedError, "chat.adapter_weights", "header describes", "被截断"),
    (_unreadable_config, AdapterDamagedError, "chat.adapter_json", "is not valid JSON", "不是合法"),
    (_no_adapter_yet, ChatError, "chat.no_adapter", "has no adapter", "没有适配器"),
    (_base_moved, BaseModelMissingError, "chat.base_folder_missing", "does not exist", "不存在"),
    (lambda run: (run / "recipe.yaml").unlink(), ChatError, "chat.not_a_run", "readable", "可读"),
]


@pytest.mark.parametrize(("damage", "kind", "key", "english", "chinese"), REFUSALS)
def test_a_run_chat_cannot_load_is_refused_with_a_keyed_message_in_both_languages(
    tmp_path: Path, damage, kind: type, key: str, english: str, chinese: str
):
    run = compiled_run(tmp_path)
    damage(run)
    with pytest.raises(kind) as refused:
        resolve_setup(run, hardware=ONE_T4)
    assert refused.value.message.key == key
    assert english in refused.value.text("en")
    said = refused.value.text("zh")
    assert chinese in said and english not in said


def test_a_run_that_has_no_adapter_says_its_state_and_how_to_go_on(tmp_path: Path):
    run = compiled_run(tmp_path, status={"state": "failed", "reason": "out of memory"})
    _no_adapter_yet(run)
    with pytest.raises(ChatError) as refused:
        resolve_setup(run, hardware=ONE_T4)
    assert refused.value.text("en") == (
        f"run {run.name} has no adapter: it is failed (out of memory). Fix: resume or re-run it"
    )
    assert refused.value.text("zh") == (
        f"运行 {run.name} 没有适配器：状态为 失败（out of memory）。修正：继续或重新运行它"
    )


def test_another_template_is_refused_naming_both_in_either_language(tmp_path: Path):
    run = compiled_run(tmp_path)
    with pytest.raises(TemplateMismatchError) as refused:
        resolve_setup(run, template="llama3", hardware=ONE_T4)
    english = refused.value.text("en")
    assert "'llama3'" in english and "('qwen')" in english and "(--force-template)" in english
    assert "模板 'llama3' 不是运行" in refused.value.text("zh")


def test_a_forced_template_is_noted_in_the_users_language_and_crosses_to_the_worker(
    tmp_path: Path,
):
    setup = resolve_setup(
        compiled_run(tmp_path), template="llama3", force_template=True, hardware=ONE_T4
    )
    (note,) = setup.notes
    assert note.text("en") == "template 'llama3' forced; the adapter was trained with 'qwen'"
    assert note.text("zh") == "已强制使用模板 'llama3'；适配器训练时用的是 'qwen'"
    sent = json.loads(json.dumps(setup.to_json()))  # what the worker receives, as JSON
    assert sent["notes"] == [note.as_dict()] and sent["dtype"] == "bfloat16"


def test_an_unknown_forced_template_is_refused(tmp_path: Path):
    with pytest.raises(ChatError) as refused:
        resolve_setup(compiled_run(tmp_path), template="nosuch", force_template=True)
    assert refused.value.message.key == "chat.unknown_template"
    assert "不是 LLaMA-Factory 认识的模板" in refused.value.text("zh")
