"""The chat worker process, `python -m lorastudio.chat.worker`: holds one run's base model and
adapter and answers JSON-line requests on stdin with JSON-line events on stdout.

Requests (client → worker), one JSON object per line, each with an integer ``id``:
    {"op": "load", "id": 1, "setup": {...ChatSetup...}}  → loaded {"info": {...}}
    {"op": "generate", "id": 2, "messages": [...], "params": {...}, "adapter": true}
                                                          → piece {"text": "..."} …, done
    {"op": "cancel", "id": 2}                             (stops request 2 at its next token)
    {"op": "prompt", "id": 5, "messages": [...], "params": {...}}
                                                          → prompt {"text": "...", "tokens": n}
    {"op": "unload", "id": 3}                             → unloaded
    {"op": "shutdown", "id": 4}                           → bye, and the worker exits
Events (worker → client): {"id": …, "event": "loaded" | "piece" | "done" | "unloaded" | "bye" |
"error", …}; the first line is {"id": null, "event": "ready", "pid": …}. An error carries
``kind`` (model_missing, adapter_damaged, not_loaded, bad_request, internal), ``message`` and
``fix`` (null or) as keyed messages, ``{"key": …, "args": {…}}`` (``Msg.as_dict``), which the
client says in the user's language. The worker exits when stdin closes, so it never outlives its
client.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import traceback
from typing import Any, TextIO

from lorastudio.chat.engine import LoadedChat, LoadFailure, engine_module
from lorastudio.messages import Msg, msg


def _claim_stdout() -> TextIO:
    """Keep the real stdout for protocol lines; anything else printed goes to stderr (the log)."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


class Worker:
    """The request loop: one request at a time, except cancel, which is read as it arrives."""

    def __init__(self, out: TextIO):
        self.out = out
        self.out_lock = threading.Lock()
        self.requests: queue.Queue[dict[str, Any]] = queue.Queue()
        self.cancelled: set[int] = set()
        self.client_gone = False
        self.run: LoadedChat | None = None  # the loaded run, through the engine interface
        self.setup: dict[str, Any] = {}  # what it was loaded from (which engine, too)

    def send(self, **event: Any) -> None:
        with self.out_lock:
            self.out.write(json.dumps(event, ensure_ascii=False) + "\n")
            self.out.flush()

    def refuse(self, request_id: Any, kind: str, message: Msg, fix: Msg | None = None) -> None:
        """An error event: what went wrong and the fix, as keys and arguments."""
        fix_data = fix.as_dict() if fix else None
        self.send(id=request_id, event="error", kind=kind, message=message.as_dict(), fix=fix_data)

    def read_requests(self, stream: TextIO) -> None:
        for line in stream:
            try:
                request = json.loads(line)
            except ValueError:
                self.refuse(None, "bad_request", msg("chat.worker_not_json"))
                continue
            if request.get("op") == "cancel":
                self.cancelled.add(request.get("id"))
            else:
                self.requests.put(request)
        self.client_gone = True  # stops a reply being generated, then the loop shuts down
        self.requests.put({"op": "shutdown", "id": None})

    def serve(self) -> int:
        self.send(id=None, event="ready", pid=os.getpid())
        while True:
            request = self.requests.get()
            op, request_id = request.get("op"), request.get("id")
            if op == "shutdown":
                self.send(id=request_id, event="bye")
                return 0
            try:
                self.handle(op, request_id, request)
            except Exception as exc:
                traceback.print_exc()
                if isinstance(exc, LoadFailure):
                    self.refuse(request_id, exc.kind, exc.message, exc.fix)
                else:
                    error = msg("text.verbatim", text=f"{type(exc).__name__}: {exc}"[:1000])
                    self.refuse(request_id, "internal", msg("chat.worker_failed", error=error))

    def handle(self, op: str, request_id: int, request: dict[str, Any]) -> None:
        if op in ("generate", "prompt") and self.run is None:
            self.refuse(request_id, "not_loaded", msg("chat.not_loaded"))
        elif op == "load":
            engine = engine_module(request["setup"])
            self.run = None
            engine.release_memory()
            self.run, self.setup = engine.load(request["setup"]), request["setup"]
            self.send(id=request_id, event="loaded", info=self.run.info())
        elif op == "unload":
            self.run = None
            engine_module(self.setup).release_memory()
            self.send(id=request_id, event="unloaded")
        elif op == "generate":
            self.generate(request_id, request)
        elif op == "prompt":
            params = request["params"]
            thinking = params.get("thinking", "auto")
            text, tokens = self.run.prompt(request["messages"], params["system"], thinking)
            self.send(id=request_id, event="prompt", text=text, tokens=tokens)
        else:
            self.refuse(request_id, "bad_request", msg("chat.worker_unknown_op", op=op))

    def generate(self, request_id: int, request: dict[str, Any]) -> None:
        assert self.run is not None
        reply = self.run.reply(
            request["messages"],
            request["params"],
            bool(request.get("adapter", True)),
            lambda: request_id in self.cancelled or self.client_gone,
        )
        for piece in reply:
            self.send(id=request_id, event="piece", text=piece)
        self.cancelled.discard(request_id)
        self.send(
            id=request_id,
            event="done",
            finish_reason=reply.finish_reason,
            new_tokens=reply.new_tokens,
        )


def main() -> int:
    worker = Worker(_claim_stdout())
    threading.Thread(target=worker.read_requests, args=(sys.stdin,), daemon=True).start()
    return worker.serve()


if __name__ == "__main__":
    sys.exit(main())
