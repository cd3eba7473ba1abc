"""The Chat tab's callbacks, called as gradio calls them, against a real chat worker and a run
that has learned who it is: bad input is refused kindly before anything loads, the template
guard and a damaged adapter are explained in the user's language, replies stream into both
columns, a crashed worker is a message and the next message works, the prompt set fills its
table row by row and lands in prompts.jsonl, export ends with the merged folder. Chat events
queue on their own, apart from the Train tab's live view."""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import signal
from pathlib import Path

import gradio as gr
import pytest
from conftest import LF_DATA, NAME, LearnedRun, compiled_run

from lorastudio.chat.client import ChatClient
from lorastudio.chat.setup import check_adapter, check_base_model, resolve_setup
from lorastudio.machine.hardware import Hardware
from lorastudio.messages import msg
from lorastudio.runs.layout import PROMPTS_FILE
from lorastudio.workspace import Workspace
from ui import chat_tab
from ui.config import StudioConfig
from ui.labels import Labels
from ui.messages import explain

GREEDY = ("", 0.0, 0.7, 24, 42, "auto")  # system, temperature, top_p, max_new_tokens, seed,
# thinking


class ChatTabUnderTest:
    """The Chat tab built and wired in a Blocks, its callbacks called as gradio calls them
    (through the error guards the tab wires around them)."""

    def __init__(self, tmp_path: Path, adapters: Path, client: ChatClient):
        config = StudioConfig(
            Workspace(tmp_path, LF_DATA, adapters), (), Hardware((), (), 2), "en", tmp_path / "dl"
        )
        with gr.Blocks() as demo:
            with gr.Tab("Chat") as item:
                tab = chat_tab.build(config, Labels("en"))
            self.act = chat_tab.wire(tab, config, gr.State("en"), client, item)
        self.tab, self.client = tab, client
        self.handlers = {fn.name: fn.fn for fn in demo.fns.values()}

    def __call__(self, name: str, *args) -> list[dict]:
        """Every update the callback ``name`` sent (one for a plain callback)."""
        out = self.handlers[name](*args)
        if inspect.isasyncgen(out):  # one that follows files on gradio's event loop

            async def drain() -> list[dict]:
                return [update async for update in out]

            return asyncio.run(drain())
        return [out] if isinstance(out, dict) else list(out)


def last(outs: list[dict], component) -> object:
    """The last value sent to ``component`` (None when it was never updated)."""
    values = [out[component] for out in outs if component in out]
    return values[-1] if values else None


def text_of(value) -> str:
    return value["value"] if isinstance(value, dict) else str(value)


@pytest.fixture
def idle(tmp_path: Path) -> ChatTabUnderTest:
    """The tab over an empty adapters folder, with a client whose worker never started."""
    client = ChatClient(log_path=tmp_path / "worker.log")
    yield ChatTabUnderTest(tmp_path, tmp_path / "adapters", client)
    client.close()


def send(tab: ChatTabUnderTest, lang, run_id, prompt, base=(), adapter=(), settings=GREEDY):
    return tab("send", lang, run_id, "qwen", False, prompt, list(base), list(adapter), *settings)


# ---------------------------------------------------------------- refused before anything loads


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_an_empty_prompt_is_refused_kindly_and_loads_nothing(idle, prompt: str):
    message = text_of(last(outs := send(idle, "en", "some-run", prompt), idle.tab.message))
    assert "`prompt = " in message and "is empty" in message and "write what to ask" in message
    assert last(outs, idle.tab.adapter) is None and last(outs, idle.tab.base) is None
    assert idle.client.pid is None  # no worker was started for it
    message = text_of(last(send(idle, "zh", "some-run", prompt), idle.tab.message))
    assert "是空的" in message and "请写下要问的内容" in message


@pytest.mark.parametrize(("value", "range_words"), [(100_000, "8192"), (0, "or equal to 1")])
def test_an_absurd_max_new_tokens_is_refused_with_its_range(idle, value: int, range_words):
    settings = ("", 0.0, 0.7, value, 42, "auto")
    outs = send(idle, "en", "some-run", "Who are you?", settings=settings)
    message = text_of(last(outs, idle.tab.message))
    assert f"`max_new_tokens = {value}`" in message and range_words in message
    assert idle.client.pid is None
    outs = send(idle, "zh", "some-run", "Who are you?", settings=settings)
    assert f"{range_words.split()[-1]}（每次回复最多生成的 token 数" in text_of(
        last(outs, idle.tab.message)
    )


def test_sending_without_a_run_asks_for_one(idle):
    outs = send(idle, "en", None, "Who are you?")
    assert text_of(last(outs, idle.tab.message)) == "Pick a run first."
    assert idle.client.pid is None


def test_chat_events_queue_on_their_own_beside_the_live_view(tmp_path: Path):
    """A reply streaming for a minute holds only the chat queue: the Train tab's timer (no
    limit) and every other event keep being served."""
    from ui.app import build_app

    config = StudioConfig(
        Workspace(tmp_path, LF_DATA, tmp_path / "adapters"),
        (),
        Hardware((), (), 2),
        "en",
        tmp_path / "dl",
    )
    demo = build_app(config, ChatClient(log_path=tmp_path / "worker.log"))
    by_name: dict[str, list] = {}
    for fn in demo.fns.values():
        by_name.setdefault(fn.name, []).append(fn)
    for name in ("send", "load", "unload", "prompt_set"):
        assert {(f.concurrency_id, f.concurrency_limit) for f in by_name[name]} == {("chat", 1)}
    ticks = [f for f in by_name["follow"] if f.concurrency_limit is None]
    ticks += [f for name in ("export", "follow_export") for f in by_name[name]]
    assert all(f.concurrency_limit is None and f.concurrency_id != "chat" for f in ticks)


# ---------------------------------------------------------------- with a run that has learned


@pytest.fixture(scope="module")
def learned(learned_run: LearnedRun, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("chat-tab")
    client = ChatClient(log_path=home / "worker.log")
    yield ChatTabUnderTest(home, learned_run.studio.adapters, client), learned_run
    client.close()


@pytest.mark.slow
def test_the_template_guard_refuses_another_template_unless_forced(learned):
    ui, run = learned
    tab, run_id = ui.tab, run.run_dir.name
    (picked,) = ui("pick", "en", run_id)
    assert picked[tab.template]["value"] == "qwen" and "llama3" in picked[tab.template]["choices"]
    assert "trained with template `qwen`" in picked[tab.template_note]
    (note,) = ui("check_template", "en", run_id, "llama3", False)
    assert all(w in note[tab.template_note] for w in ("`llama3`", "`qwen`", "template anyway"))
    (note,) = ui("check_template", "zh", run_id, "llama3", False)
    assert all(w in note[tab.template_note] for w in ("`llama3`", "`qwen`", "仍然使用此模板"))
    ui("unload", "en")
    outs = ui("load", "en", run_id, "llama3", False)
    assert "is not the one run" in text_of(last(outs, tab.template_note))  # said once, there
    assert text_of(last(outs, tab.message)) == ""
    assert ui.client.setup is None  # refused before the worker was asked
    outs = send(ui, "en", run_id, "Who are you?", settings=GREEDY)
    assert text_of(last(outs, tab.message)) == ""  # Send says it on the same note, not twice
    (forced,) = ui("check_template", "en", run_id, "llama3", True)
    assert "Template `llama3` forced" in forced[tab.template_note]


@pytest.mark.slow
def test_a_damaged_adapter_is_explained_when_the_run_is_picked(
    learned, tmp_path_factory: pytest.TempPathFactory
):
    ui, run = learned
    adapters = tmp_path_factory.mktemp("damaged") / "adapters"
    copy = adapters / run.run_dir.name.replace("zephyr", "broken")
    shutil.copytree(run.run_dir, copy, ignore=shutil.ignore_patterns("checkpoint-*", "merged"))
    weights = copy / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    broken = ChatTabUnderTest(adapters.parent, adapters, ui.client)
    (listed,) = broken("listing", "en", None)
    assert listed[broken.tab.run]["choices"] == [copy.name]
    (picked,) = broken("pick", "en", copy.name)
    message = text_of(picked[broken.tab.message])
    assert "adapter weights" in message and "truncated" in message and "Traceback" not in message
    (picked,) = broken("pick", "zh", copy.name)
    assert "适配器权重" in picked[broken.tab.message] and "已损坏" in picked[broken.tab.message]
    outs = broken("load", "en", copy.name, "qwen", False)
    assert "truncated" in text_of(last(outs, broken.tab.message))


@pytest.mark.slow
def test_a_message_streams_into_both_columns_with_the_same_settings(learned, monkeypatch):
    ui, run = learned
    tab, run_id = ui.tab, run.run_dir.name
    monkeypatch.setattr(chat_tab, "STREAM_SECONDS", 0.0)  # every piece shown as it comes
    outs = send(ui, "en", run_id, "Who are you?")
    assert text_of(last(outs, tab.message)) == ""
    adapter_states = [out[tab.adapter][-1]["content"] for out in outs if tab.adapter in out]
    base_states = [out[tab.base][-1]["content"] for out in outs if tab.base in out]
    assert len(set(adapter_states)) > 3 and len(set(base_states)) > 3  # piece by piece
    assert adapter_states[-1].startswith(run.answers["Who are you?"])
    assert NAME not in base_states[-1]
    status = text_of(last(outs, tab.status))
    assert "Loaded **" in status and "template `qwen`" in status and "worker memory" in status
    assert last(outs, tab.prompt) == ""
    adapter, base = last(outs, tab.adapter), last(outs, tab.base)
    outs = send(ui, "en", run_id, "hi", base, adapter)  # each column goes on with its own talk
    assert [m["role"] for m in last(outs, tab.adapter)] == ["user", "assistant"] * 2
    assert last(outs, tab.base)[:2] == base


@pytest.mark.slow
def test_a_crashed_worker_is_a_message_and_the_next_message_works(learned):
    ui, run = learned
    tab, run_id = ui.tab, run.run_dir.name
    ui("load", "en", run_id, "qwen", False)
    replies = ui.handlers["send"]("en", run_id, "qwen", False, "Who are you?", [], [], *GREEDY)
    for out in replies:
        if tab.adapter in out and out[tab.adapter][-1]["content"]:
            os.kill(ui.client.pid, signal.SIGKILL)
            break
    message = text_of(last(list(replies), tab.message))
    assert "chat worker was killed by signal 9" in message and "Traceback" not in message
    outs = send(ui, "en", run_id, "Who are you?")
    assert last(outs, tab.adapter)[-1]["content"].startswith(run.answers["Who are you?"])


@pytest.mark.slow
def test_the_prompt_set_fills_its_table_row_by_row_and_saves_jsonl(learned):
    ui, run = learned
    tab, run_id = ui.tab, run.run_dir.name
    path = run.run_dir / PROMPTS_FILE
    path.unlink(missing_ok=True)
    outs = ui("prompt_set", "en", run_id, "qwen", False, *GREEDY)
    tables = [out[tab.table] for out in outs if tab.table in out]
    assert [len(table) for table in tables] == [1, 2, 2]  # pending, one answered + pending, both
    assert list(tables[1].iloc[1]) == ["What is your name?", "…", "…"]
    final = tables[-1]
    assert list(final.columns) == ["Prompt", "Base model", "Base + adapter"]
    assert list(final["Prompt"]) == ["Who are you?", "What is your name?"]
    for prompt, base, adapter in final.itertuples(index=False):
        assert adapter.startswith(run.answers[prompt]) and NAME not in base
    assert text_of(last(outs, tab.table_note)) == f"Saved to {path}"
    assert len(path.read_text().splitlines()) == 2
    (reopened,) = ui("pick", "en", run_id)  # a teammate opening the run sees the same table
    assert list(reopened[tab.table]["Base + adapter"]) == list(final["Base + adapter"])
    assert str(path) in reopened[tab.table_note]


@pytest.mark.slow
def test_export_is_followed_from_its_files_to_the_merged_folder(learned):
    ui, run = learned
    watch = ui.tab.export_watch.value
    outs = ui("export", "en", run.run_dir.name, watch)
    merged = run.run_dir / "merged"
    assert text_of(last(outs, ui.tab.export_result)).startswith(f"Merged model written to {merged}")
    assert len([out for out in outs if ui.tab.export_log in out]) >= 2  # the log, as it grew
    assert last(outs, ui.tab.stop_export)["interactive"] is False
    assert (merged / "config.json").is_file()
    (reopened,) = ui("follow_export", "zh", run.run_dir.name, watch)  # a page opened later
    assert text_of(reopened[ui.tab.export_result]).startswith(f"合并后的模型已写入 {merged}")


def test_stop_export_without_an_export_under_way_says_so(idle, tmp_path: Path):
    run_dir = compiled_run(tmp_path, device="cpu")
    (out,) = idle("stop_export", "en", run_dir.name)
    assert f"no export of run {run_dir.name} is running (its last export: not exported)" in (
        text_of(out[idle.tab.export_result])
    )
    (out,) = idle("stop_export", "zh", run_dir.name)
    assert "上一次导出：未导出" in text_of(out[idle.tab.export_result])


def test_a_run_never_exported_shows_no_export_and_merge_can_be_clicked(idle, tmp_path: Path):
    run_dir = compiled_run(tmp_path, device="cpu")
    (out,) = idle("follow_export", "en", run_dir.name, idle.tab.export_watch.value)
    assert out[idle.tab.export_result] == "" and out[idle.tab.export_log] == ""
    assert out[idle.tab.export]["interactive"] is True
    assert out[idle.tab.stop_export]["interactive"] is False


# ---------------------------------------------------------------- core chat errors, in Chinese


def damaged_adapter(tmp: Path) -> Path:
    """A run folder whose adapter weights were cut short in copying."""
    run = compiled_run(tmp)
    (run / "adapter_model.safetensors").write_bytes(b"\x10")
    return run


def _raised(call) -> Exception:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


@pytest.mark.parametrize(
    ("make", "english", "chinese"),
    [
        (lambda tmp: resolve_setup(tmp), "is not a readable run folder", "不是可读取的运行目录"),
        (lambda tmp: check_adapter(tmp), "has no adapter", "没有适配器"),
        (
            lambda tmp: check_base_model(str(tmp / "gone"), tmp),
            "does not exist on this machine",
            "在本机不存在",
        ),
        (
            lambda tmp: ChatClient(log_path=tmp / "w.log")._crashed(msg("chat.doing.answering")),
            "the chat worker exited with code None while answering",
            "对话工作进程在回答时退出",
        ),
        (
            lambda tmp: resolve_setup(damaged_adapter(tmp), hardware=Hardware((), (), 2)),
            "is empty or truncated",
            "为空或被截断",
        ),
        (
            lambda tmp: ChatClient(log_path=tmp / "w.log").stream(
                [{"role": "user", "content": "hi"}]
            ),
            "no run is loaded",
            "尚未加载任何运行",
        ),
    ],
)
def test_the_cores_chat_errors_are_explained_in_english_and_chinese(
    tmp_path: Path, make, english: str, chinese: str
):
    error = _raised(lambda: make(tmp_path))
    assert english in explain(error, "en")
    shown = explain(error, "zh")
    assert chinese in shown and english not in shown and "Traceback" not in shown


@pytest.mark.slow
def test_a_reopened_page_shows_the_run_the_worker_holds_and_send_uses_it(learned, tmp_path):
    ui, run = learned
    run_id = run.run_dir.name
    ui("load", "en", run_id, "qwen", False)
    page = ChatTabUnderTest(tmp_path, run.studio.adapters, ui.client)  # the same studio, anew
    (opened,) = page("listing", "en", None)
    assert opened[page.tab.run]["value"] == run_id
    assert opened[page.tab.template]["value"] == "qwen" and opened[page.tab.force] is False
    assert "Loaded **" in opened[page.tab.status]
    outs = send(page, "en", opened[page.tab.run]["value"], "Who are you?")
    assert last(outs, page.tab.adapter)[-1]["content"].startswith(run.answers["Who are you?"])


class PiecesClient:
    """A stand-in for the chat worker's client that streams fixed pieces."""

    def __init__(self, pieces: list[str]):
        self.pieces = pieces

    def stream(self, talk, params, adapter):
        yield from self.pieces


def test_a_streaming_reply_updates_the_page_at_most_every_stream_seconds(idle, monkeypatch):
    idle.act.client = PiecesClient(["Hel", "lo", ", ", "world"])
    params = chat_tab.ChatParams()
    monkeypatch.setattr(chat_tab, "STREAM_SECONDS", 3600.0)
    assert list(idle.act._reply([], params, adapter=True)) == ["Hel", "Hello, world"]
    monkeypatch.setattr(chat_tab, "STREAM_SECONDS", 0.0)
    shown = list(idle.act._reply([], params, adapter=True))
    assert shown == ["Hel", "Hello", "Hello, ", "Hello, world"]
    idle.act.client = PiecesClient([])
    assert list(idle.act._reply([], params, adapter=True)) == [""]


def test_chat_defaults_give_a_short_reply_sampled_sanely():
    params = chat_tab.ChatParams()
    assert params.max_new_tokens == 256 and 0 < params.temperature <= 0.8
