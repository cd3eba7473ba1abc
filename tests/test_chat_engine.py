"""The chat worker talks to a loaded run only through the engine interface
(`lorastudio.chat.engine`): a second engine is a module named in ENGINES, and the worker serves it
unchanged; Transformers + PEFT is such a module."""

from __future__ import annotations

import io
import json
import sys
import types

import pytest

from lorastudio.chat import engine
from lorastudio.chat.engine import ChatReply, LoadedChat, LoadFailure
from lorastudio.chat.worker import Worker
from lorastudio.messages import msg


class EchoReply:
    def __init__(self, text: str, should_stop):
        self.text, self.should_stop = text, should_stop
        self.finish_reason, self.new_tokens = "", 0

    def __iter__(self):
        for word in self.text.split(" "):
            if self.should_stop():
                self.finish_reason = "cancelled"
                return
            self.new_tokens += 1
            yield word + " "
        self.finish_reason = "stop"


class EchoRun:
    """An engine that answers with the question, the adapter's side in capitals."""

    def __init__(self, setup):
        self.setup = setup

    def info(self):
        return {"run": self.setup["run_id"], "engine": "echo"}

    def prompt(self, messages, system, thinking):
        text = f"[{system}] " + " | ".join(m["content"] for m in messages)
        return text, len(text.split())

    def reply(self, messages, params, adapter, should_stop):
        last = messages[-1]["content"]
        return EchoReply(last.upper() if adapter else last, should_stop)


def echo_module() -> types.ModuleType:
    module = types.ModuleType("echo_engine")
    module.released = 0

    def load(setup):
        if setup.get("model") == "missing":
            raise LoadFailure("model_missing", msg("chat.not_loaded"), msg("chat.not_loaded"))
        return EchoRun(setup)

    def release_memory():
        module.released += 1

    module.load, module.release_memory = load, release_memory
    return module


@pytest.fixture
def echo(monkeypatch):
    module = echo_module()
    monkeypatch.setitem(sys.modules, "echo_engine", module)
    monkeypatch.setitem(engine.ENGINES, "echo", "echo_engine")
    return module


def serve(*requests: dict) -> list[dict]:
    out = io.StringIO()
    worker = Worker(out)
    for request in [*requests, {"op": "shutdown", "id": 99}]:
        worker.requests.put(request)
    assert worker.serve() == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


SETUP = {"run_id": "r1", "engine": "echo", "model": "m"}
TALK = [{"role": "user", "content": "who are you"}]
PARAMS = {"system": "be brief"}


def test_the_worker_serves_a_second_engine_through_the_interface_alone(echo):
    events = serve(
        {"op": "load", "id": 1, "setup": SETUP},
        {"op": "generate", "id": 2, "messages": TALK, "params": PARAMS, "adapter": True},
        {"op": "generate", "id": 3, "messages": TALK, "params": PARAMS, "adapter": False},
        {"op": "prompt", "id": 4, "messages": TALK, "params": PARAMS},
        {"op": "unload", "id": 5},
    )
    by_id = {}
    for event in events[1:]:
        by_id.setdefault(event["id"], []).append(event)
    assert by_id[1] == [{"id": 1, "event": "loaded", "info": {"run": "r1", "engine": "echo"}}]
    assert "".join(e["text"] for e in by_id[2] if e["event"] == "piece") == "WHO ARE YOU "
    assert by_id[2][-1] == {"id": 2, "event": "done", "finish_reason": "stop", "new_tokens": 3}
    assert "".join(e["text"] for e in by_id[3] if e["event"] == "piece") == "who are you "
    assert by_id[4] == [{"id": 4, "event": "prompt", "text": "[be brief] who are you", "tokens": 5}]
    assert by_id[5] == [{"id": 5, "event": "unloaded"}]
    assert echo.released == 2  # before loading, and on unload


def test_an_engines_load_failure_reaches_the_client_as_a_keyed_refusal(echo):
    events = serve({"op": "load", "id": 1, "setup": SETUP | {"model": "missing"}})
    (refused,) = [e for e in events if e["id"] == 1]
    assert refused["event"] == "error" and refused["kind"] == "model_missing"
    assert refused["message"]["key"] == "chat.not_loaded"


def test_an_engine_run_and_reply_satisfy_the_interface(echo):
    run = echo.load(SETUP)
    assert isinstance(run, LoadedChat)
    assert isinstance(run.reply(TALK, PARAMS, True, lambda: False), ChatReply)


def test_the_transformers_engine_is_the_default_and_has_the_interfaces_members():
    assert engine.ENGINES[engine.DEFAULT_ENGINE] == "lorastudio.chat.model"
    from lorastudio.chat import model  # torch: in the worker process, never at core import

    assert engine.engine_module({}) is model
    assert callable(model.load) and callable(model.release_memory)
    for member in ("info", "prompt", "reply"):
        assert callable(getattr(model.LoadedRun, member))
    assert callable(model.Reply.__iter__)


def test_a_chat_setup_names_its_engine():
    from lorastudio.chat.setup import ChatSetup

    assert ChatSetup.__dataclass_fields__["engine"].default == engine.DEFAULT_ENGINE
