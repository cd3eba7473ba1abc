"""The peer side of bench_chat.py: LLaMA-Factory's own ChatModel (HF engine) in a process of its
own, so that its imports and load are timed as the LoRA Studio chat worker's are.

    python benchmarks/chat_peer.py '{"model_name_or_path": ..., "adapter_name_or_path": ...}'

The argument is ChatModel's argument dict. Prints {"event": "ready"} once the model is loaded,
then answers each JSON line on stdin ({"messages": [...], "max_new_tokens": n}) greedily with
stream_chat: {"event": "piece", "text": ...} lines, then {"event": "done", "new_tokens": n}.
Everything else printed (LLaMA-Factory logs to stdout) goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import threading


def main() -> None:
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr

    from llamafactory.chat import ChatModel

    chat = ChatModel(json.loads(sys.argv[1]))
    model = chat.engine.model
    generate = model.generate
    counted: dict[str, int] = {}
    finished = threading.Event()

    def counting_generate(**kwargs):
        """model.generate, recording how many tokens it added (stream_chat returns only text)."""
        output = generate(**kwargs)
        counted["new_tokens"] = output.shape[-1] - kwargs["inputs"].shape[-1]
        finished.set()
        return output

    model.generate = counting_generate

    def send(**event) -> None:
        protocol.write(json.dumps(event, ensure_ascii=False) + "\n")

    send(event="ready")
    for line in sys.stdin:
        request = json.loads(line)
        finished.clear()
        for piece in chat.stream_chat(
            request["messages"], do_sample=False, max_new_tokens=request["max_new_tokens"]
        ):
            if piece:
                send(event="piece", text=piece)
        finished.wait(timeout=60)  # the streamer ends just before generate returns
        send(event="done", new_tokens=counted.get("new_tokens", -1))


if __name__ == "__main__":
    main()
