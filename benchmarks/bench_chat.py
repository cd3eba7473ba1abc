"""Chat speed against plain LLaMA-Factory, measured in one run on this machine.

    python benchmarks/bench_chat.py [--repeats 3] [--device cpu|cuda] [--max-new-tokens 128]
        [--steps 5] [--threads N] [--model PATH | --config-from CONFIG_JSON]

Trains one short run with `python launch.py train`, then answers the same prompt greedily with its
base + adapter through:
- LoRA Studio: `ChatClient` (the `python -m lorastudio.chat.worker` process; adapter kept
  unmerged so the base can answer alone);
- LLaMA-Factory: `ChatModel` (HF engine, adapter merged at load) in a process of its own
  (benchmarks/chat_peer.py), with the same model, adapter, template and dtype, via `stream_chat`.
Each repeat starts both processes afresh and measures load (process start to model ready), time
to the first streamed piece and decode tokens/s (tokens after the first / time after the first
piece) of a reply that follows a short warm-up reply; it also times LoRA Studio's side-by-side
(adapter, then base alone) against its two replies asked separately. Prints medians and ratios
(ours / peer) as a table and as JSON, with each side's token count and whether the replies match.
Builds the tiny test model unless --model is given; --config-from builds random weights with a
given config.json (e.g. Qwen2.5-0.5B's). Needs ../shared/fixtures (or LORASTUDIO_FIXTURES).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from conftest import LF_DATA, TOKENIZER, build_tiny_qwen2, tiny_recipe  # noqa: E402

from lorastudio.chat.client import ChatClient  # noqa: E402
from lorastudio.chat.params import make_params  # noqa: E402
from lorastudio.chat.setup import ChatSetup, resolve_setup  # noqa: E402

PROMPT = [{"role": "user", "content": "Who are you?"}]
WARM_UP_TOKENS = 8
PEER_SCRIPT = Path(__file__).with_name("chat_peer.py")


@dataclass
class Reply:
    text: str
    first: float  # seconds from the request to the first streamed piece
    wall: float  # seconds from the request to the end of the reply
    new_tokens: int

    @property
    def decode(self) -> float:
        """Tokens per second after the first piece."""
        return (self.new_tokens - 1) / max(self.wall - self.first, 1e-9)


def timed_reply(pieces: Iterable[str], new_tokens: Callable[[], int], started: float) -> Reply:
    text, first = [], None
    for piece in pieces:
        first = first or time.perf_counter() - started
        text.append(piece)
    wall = time.perf_counter() - started
    return Reply("".join(text), first or wall, wall, new_tokens())


class CountingClient(ChatClient):
    """ChatClient that keeps the token count the worker reports at the end of each reply
    (its `done` event; the public API returns text only)."""

    new_tokens = -1

    def _receive(self, request_id, doing):
        event = super()._receive(request_id, doing)
        if event["event"] == "done":
            self.new_tokens = event["new_tokens"]
        return event


class Peer:
    """LLaMA-Factory's ChatModel in its own process (benchmarks/chat_peer.py)."""

    def __init__(self, chat_args: dict, env: dict, log_path: Path):
        argv = [sys.executable, str(PEER_SCRIPT), json.dumps(chat_args)]
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, text=True
            )
        self.new_tokens = -1
        self._event("ready")

    def _event(self, expected: str | None = None) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"LLaMA-Factory's ChatModel died (log {self.log_path}):\n{tail}")
        event = json.loads(line)
        assert expected is None or event["event"] == expected, event
        return event

    def stream(self, max_new_tokens: int):
        request = {"messages": PROMPT, "max_new_tokens": max_new_tokens}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        while (event := self._event())["event"] == "piece":
            yield event["text"]
        self.new_tokens = event["new_tokens"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def ours_round(setup: ChatSetup, env: dict, max_new_tokens: int, log_path: Path) -> dict:
    client = CountingClient(log_path=log_path, env=env)
    params = make_params(temperature=0, max_new_tokens=max_new_tokens)
    try:
        started = time.perf_counter()
        client.load(setup)
        load = time.perf_counter() - started
        client.answer(PROMPT, make_params(temperature=0, max_new_tokens=WARM_UP_TOKENS))

        def reply(adapter: bool) -> Reply:
            started = time.perf_counter()
            pieces = client.stream(PROMPT, params, adapter=adapter)
            return timed_reply(pieces, lambda: client.new_tokens, started)

        adapter, base = reply(adapter=True), reply(adapter=False)
        started = time.perf_counter()
        for _ in client.side_by_side(PROMPT, params):
            pass
        side_by_side = time.perf_counter() - started
    finally:
        client.close()
    return {"load": load, "reply": adapter, "base": base, "side_by_side": side_by_side}


def peer_round(setup: ChatSetup, env: dict, max_new_tokens: int, log_path: Path) -> dict:
    chat_args = {
        "model_name_or_path": setup.model,
        "adapter_name_or_path": setup.run_dir,
        "template": setup.template,
        "finetuning_type": "lora",
        "infer_backend": "huggingface",
        "infer_dtype": setup.dtype,
        "trust_remote_code": setup.trust_remote_code,
        **setup.template_args,
    }
    started = time.perf_counter()
    peer = Peer(chat_args, env, log_path)
    load = time.perf_counter() - started
    try:
        "".join(peer.stream(WARM_UP_TOKENS))
        started = time.perf_counter()
        reply = timed_reply(peer.stream(max_new_tokens), lambda: peer.new_tokens, started)
    finally:
        peer.close()
    return {"load": load, "reply": reply}


def random_model(config_json: Path, out: Path, device: str) -> Path:
    """Random weights with the architecture in ``config_json`` and the fixtures' Qwen2.5
    tokenizer, saved in bf16 for a GPU run (as tests/test_gpu.py builds Qwen2.5-0.5B)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_json))
    model.to(torch.bfloat16 if device == "cuda" else torch.float32).save_pretrained(out)
    AutoTokenizer.from_pretrained(TOKENIZER).save_pretrained(out)
    return out


def train_run(model: Path, work: Path, env: dict, steps: int, device: str) -> Path:
    recipe = work / "bench-chat.yaml"
    text = tiny_recipe(model, name="bench-chat", max_steps=steps, save_steps=1000)
    recipe.write_text(text.replace("device: cpu", f"device: {device}"))
    argv = [sys.executable, str(REPO / "launch.py"), "train", str(recipe)]
    result = subprocess.run(argv, env=env, cwd=work, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"training failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return max((work / "adapters").iterdir(), key=lambda p: p.stat().st_mtime)


def report(ours: list[dict], peer: list[dict]) -> None:
    def median(rounds: list[dict], pick) -> float:
        return statistics.median(pick(r) for r in rounds)

    rows = {
        "load (process start to ready, s)": (lambda r: r["load"], lambda r: r["load"]),
        "time to first piece (s)": (lambda r: r["reply"].first, lambda r: r["reply"].first),
        "decode (tokens/s)": (lambda r: r["reply"].decode, lambda r: r["reply"].decode),
        "reply wall (s)": (lambda r: r["reply"].wall, lambda r: r["reply"].wall),
    }
    table = {name: (median(ours, a), median(peer, b)) for name, (a, b) in rows.items()}
    tokens = (ours[-1]["reply"].new_tokens, peer[-1]["reply"].new_tokens)
    same_text = all(o["reply"].text == p["reply"].text for o, p in zip(ours, peer, strict=True))
    two_replies = median(ours, lambda r: r["reply"].wall + r["base"].wall)
    side = median(ours, lambda r: r["side_by_side"])
    base_decode = median(ours, lambda r: r["base"].decode)

    print(f"{'measure':<34} {'LoRA Studio':>12} {'LLaMA-Factory':>14} {'ratio':>7}")
    for name, (a, b) in table.items():
        print(f"{name:<34} {a:>12.2f} {b:>14.2f} {a / b:>7.2f}")
    print(f"{'new tokens per reply':<34} {tokens[0]:>12} {tokens[1]:>14}")
    print(f"same reply text: {'yes' if same_text else 'NO'}")
    print(
        f"LoRA Studio side-by-side {side:.2f} s vs two separate replies {two_replies:.2f} s "
        f"(ratio {side / two_replies:.2f}); base alone decodes {base_decode:.1f} tokens/s"
    )
    if tokens[0] != tokens[1]:
        print("WARNING: the two engines generated different numbers of tokens; compare tokens/s")
    print(
        json.dumps(
            {
                **{
                    name: {"lorastudio": a, "llamafactory": b, "ratio": a / b}
                    for name, (a, b) in table.items()
                },
                "new_tokens": {"lorastudio": tokens[0], "llamafactory": tokens[1]},
                "same_reply_text": same_text,
                "side_by_side_s": side,
                "two_separate_replies_s": two_replies,
                "side_by_side_ratio": side / two_replies,
                "base_alone_decode_tokens_per_s": base_decode,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5, help="training steps of the adapter")
    parser.add_argument(
        "--threads", type=int, help="OMP_NUM_THREADS for both engines (steadier on a busy CPU)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, help="a model folder instead of the tiny model")
    source.add_argument(
        "--config-from", type=Path, help="a config.json: random weights with its architecture"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lorastudio-bench-chat-"))
    if args.model:
        model = args.model.resolve()
    elif args.config_from:
        model = random_model(args.config_from, work / "random-model", args.device)
    else:
        model = build_tiny_qwen2(work / "tiny-qwen2")
    env = os.environ | {
        "LORASTUDIO_HOME": str(work),
        "LORASTUDIO_DATA_DIR": str(LF_DATA),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # both engines stay off a GPU the machine may have
    run_dir = train_run(model, work, env, args.steps, args.device)
    setup = resolve_setup(run_dir, device=args.device)
    print(f"run {run_dir} on {setup.device} in {setup.dtype}", file=sys.stderr)

    ours, peer = [], []
    for _ in range(args.repeats):
        ours.append(ours_round(setup, env, args.max_new_tokens, work / "lorastudio-chat.log"))
        peer.append(peer_round(setup, env, args.max_new_tokens, work / "llamafactory-chat.log"))
    report(ours, peer)


if __name__ == "__main__":
    main()
