"""Chat with a trained run from any process without loading torch into it: a client that starts
the chat worker lazily, loads a run into it and streams its replies.

    client = ChatClient()
    client.load(resolve_setup(run_dir))
    for piece in client.stream([{"role": "user", "content": "Who are you?"}], ChatParams()):
        print(piece, end="")
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import psutil

from lorastudio.chat.params import ChatParams, Message, check_messages
from lorastudio.chat.setup import ChatSetup
from lorastudio.errors import (
    AdapterDamagedError,
    BaseModelMissingError,
    ChatError,
    WorkerCrashedError,
)
from lorastudio.messages import Msg, msg
from lorastudio.processes import child_env, python_module, start

Column = Literal["adapter", "base"]


_ERRORS = {
    "model_missing": BaseModelMissingError,
    "adapter_damaged": AdapterDamagedError,
}


class ChatClient:
    """Talks to one chat worker process (`python -m lorastudio.chat.worker`) over JSON lines.

    The worker starts on the first load or reply, holds one run at a time, and is restarted
    (and the run reloaded) after a crash. Safe to share between threads: replies are served one
    at a time.
    """

    def __init__(self, log_path: Path | None = None, env: dict[str, str] | None = None):
        """Args:
        log_path: where the worker's own log (stderr) goes; a temporary file when None.
        env: environment variables for the worker on top of this process's own
            (e.g. ``HF_HUB_OFFLINE``, ``CUDA_VISIBLE_DEVICES``).
        """
        self.env = dict(env or {})
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="lorastudio-chat-worker-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        self.log_path = Path(log_path)
        self._proc: subprocess.Popen | None = None
        self._setup: ChatSetup | None = None
        self._info: dict[str, Any] | None = None  # what the worker reported when it loaded
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- state

    @property
    def pid(self) -> int | None:
        """The worker's process id, or None when none runs."""
        return self._proc.pid if self._proc and self._proc.poll() is None else None

    @property
    def setup(self) -> ChatSetup | None:
        """The run chats go to (reloaded automatically after a worker crash)."""
        return self._setup

    @property
    def info(self) -> dict[str, Any] | None:
        """What the worker reported when it loaded the run (None when nothing is loaded)."""
        return self._info

    def worker_memory(self) -> int | None:
        """Resident memory of the worker in bytes (None when no worker runs)."""
        try:
            return psutil.Process(self.pid).memory_info().rss if self.pid else None
        except psutil.NoSuchProcess:
            return None

    # ---------------------------------------------------------------- public calls

    def load(self, setup: ChatSetup) -> dict[str, Any]:
        """Load a run's base model and adapter (dropping the one loaded before).

        Returns:
            The worker's report: model, template, device, dtype, load seconds.

        Raises:
            BaseModelMissingError, AdapterDamagedError, WorkerCrashedError, ChatError.
        """
        with self._lock:
            self._setup, self._info = setup, None
            try:
                return self._ensure_loaded()
            except ChatError:
                self._setup = None  # a run that failed to load is not retried behind the caller
                raise

    def unload(self) -> None:
        """Drop the loaded model; the worker's memory goes back to what its imports need."""
        with self._lock:
            self._setup, self._info = None, None
            if self.pid:
                self._request({"op": "unload"}, msg("chat.doing.unloading"))

    def close(self) -> None:
        """Stop the worker (the model's memory is freed with it)."""
        with self._lock:
            self._setup, self._info = None, None
            proc, self._proc = self._proc, None
            if proc is None:
                return
            try:
                if proc.poll() is None:
                    self._write(proc, {"op": "shutdown", "id": next(self._ids)})
                    proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            finally:
                for stream in (proc.stdin, proc.stdout):
                    if stream:
                        stream.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stream(
        self, messages: list[Message], params: ChatParams | None = None, *, adapter: bool = True
    ) -> Iterator[str]:
        """Stream one reply, piece by piece, from base + adapter (or the base alone).

        The input is checked at once (before the first piece is asked for).

        Raises:
            ChatInputError: empty prompt or malformed conversation (at call time).
            WorkerCrashedError: the worker died mid-reply (while iterating).
        """
        checked = check_messages(messages)
        if self._setup is None:
            raise ChatError(msg("chat.not_loaded"))
        return self._pieces(checked, params or ChatParams(), adapter)

    def answer(
        self, messages: list[Message], params: ChatParams | None = None, *, adapter: bool = True
    ) -> str:
        """The whole reply as one string."""
        return "".join(self.stream(messages, params, adapter=adapter))

    def prompt_text(self, messages: list[Message], params: ChatParams | None = None) -> str:
        """The prompt exactly as the model sees it (the training template, special tokens
        included), for checking what a reply answers."""
        checked = check_messages(messages)
        if self._setup is None:
            raise ChatError(msg("chat.not_loaded"))
        request = {
            "op": "prompt",
            "messages": checked,
            "params": (params or ChatParams()).model_dump(),
        }
        with self._lock:
            self._ensure_loaded()
            return self._request(request, msg("chat.doing.prompt"))["text"]

    def side_by_side(
        self, messages: list[Message], params: ChatParams | None = None
    ) -> Iterator[tuple[Column, str]]:
        """The same prompt answered by base + adapter, then by the base alone, with the same
        sampling and seed; yields ``(column, piece)``."""
        adapter_pieces = self.stream(messages, params, adapter=True)
        base_pieces = self.stream(messages, params, adapter=False)
        for piece in adapter_pieces:
            yield "adapter", piece
        for piece in base_pieces:
            yield "base", piece

    # ---------------------------------------------------------------- worker plumbing

    def _pieces(self, messages: list[Message], params: ChatParams, adapter: bool):
        with self._lock:
            self._ensure_loaded()
            request = {
                "op": "generate",
                "messages": messages,
                "params": params.model_dump(),
                "adapter": adapter,
            }
            request_id = self._send(request)
            finished = False
            try:
                while True:
                    try:
                        event = self._receive(request_id, msg("chat.doing.answering"))
                    except ChatError:
                        finished = True  # the worker reported the end of this request
                        raise
                    if event["event"] == "piece":
                        yield event["text"]
                    elif event["event"] == "done":
                        finished = True
                        return
            finally:
                if not finished and self.pid:  # the caller stopped reading: stop generating
                    self._cancel(request_id)

    def _cancel(self, request_id: int) -> None:
        try:
            self._write(self._proc, {"op": "cancel", "id": request_id})
            while self._receive(request_id, msg("chat.doing.stopping"))["event"] != "done":
                pass
        except (OSError, ChatError):
            pass  # a worker that died meanwhile is restarted by the next request

    def _ensure_loaded(self) -> dict[str, Any]:
        if self.pid is None:
            self._start()
        if self._info is None and self._setup is not None:
            loading = msg("chat.doing.loading", run=self._setup.run_id)
            request = {"op": "load", "setup": self._setup.to_json()}
            self._info = self._request(request, loading)["info"]
        return self._info or {}

    def _start(self) -> None:
        env = child_env({"TOKENIZERS_PARALLELISM": "false"} | dict(self.env))
        with self.log_path.open("ab") as log:
            self._proc = start(
                python_module("lorastudio.chat.worker"),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                text=True,
                encoding="utf-8",
                bufsize=1,
                start_new_session=True,  # Ctrl-C in a terminal reaches the client, not the worker
            )
        self._info = None
        self._receive(None, msg("chat.doing.starting"))

    def _write(self, proc: subprocess.Popen, message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message, ensure_ascii=False) + "\n")
        proc.stdin.flush()

    def _send(self, message: dict[str, Any]) -> int:
        request_id = next(self._ids)
        try:
            self._write(self._proc, message | {"id": request_id})
        except OSError:
            self._crashed(msg("chat.doing.sending"))
        return request_id

    def _request(self, message: dict[str, Any], doing: Msg) -> dict[str, Any]:
        return self._receive(self._send(message), doing)

    def _receive(self, request_id: int | None, doing: Msg) -> dict[str, Any]:
        """The next event for ``request_id`` (events of abandoned requests are skipped)."""
        assert self._proc is not None and self._proc.stdout is not None
        while True:
            line = self._proc.stdout.readline()
            if not line:
                self._crashed(doing)
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not a protocol line
            if event.get("id") != request_id:
                continue  # a late event of a reply that was stopped
            if event["event"] == "error":
                raise _worker_error(event)
            return event

    def _crashed(self, doing: Msg) -> None:
        proc, self._proc, self._info = self._proc, None, None
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        where = {"doing": doing, "log": self.log_path, "tail": _log_tail(self.log_path)}
        if code and code < 0:
            raise WorkerCrashedError(msg("chat.worker_killed", signal=-code, **where))
        raise WorkerCrashedError(msg("chat.worker_exited", code=code, **where))


def _worker_error(event: dict[str, Any]) -> ChatError:
    """The error the worker reported, as its type, with its message and fix (keyed)."""
    message = Msg.from_dict(event.get("message")) or msg("chat.worker_failed", error="?")
    return _ERRORS.get(event.get("kind"), ChatError)(message, Msg.from_dict(event.get("fix")))


def _log_tail(path: Path, lines: int = 3) -> Msg:
    """The last lines of the worker's log, as it wrote them (each cut to a readable length)."""
    try:
        tail = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:]
    except OSError:
        tail = []
    return msg("text.verbatim", text="".join(f"\n  {line[:300]}" for line in tail))
