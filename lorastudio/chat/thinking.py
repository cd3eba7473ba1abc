"""A reply's thinking and its answer, apart: Qwen3 writes `<think>…</think>` before the answer
(the tags are ordinary added tokens, so they reach the text). Works on a reply still streaming:
while the block is open, everything so far is thinking."""

from __future__ import annotations

from dataclasses import dataclass

OPEN, CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class Split:
    """A reply taken apart.

    Attributes:
        thinking: the text inside the thinking block (None: the reply has none; "" for the empty
            block a non-thinking turn may carry).
        answer: what follows it (the whole reply when there is no block).
        thinking_open: the block has begun and not ended yet (a reply still streaming).
    """

    thinking: str | None
    answer: str
    thinking_open: bool = False


def split_thinking(text: str) -> Split:
    """Take a (possibly partial) reply apart into its thinking and its answer.

    A reply that ends a block it did not open is a thinking-only model answering a prompt that
    opened the block for it: what comes before ``</think>`` is its thinking.
    """
    stripped = text.lstrip()
    if stripped.startswith(OPEN):
        body = stripped[len(OPEN) :]
        if CLOSE not in body:
            return Split(body.strip("\n"), "", thinking_open=True)
        thinking, answer = body.split(CLOSE, 1)
        return Split(thinking.strip("\n"), answer.lstrip("\n"))
    if CLOSE in text:
        thinking, answer = text.split(CLOSE, 1)
        return Split(thinking.strip("\n"), answer.lstrip("\n"))
    return Split(None, text)


def answer_only(text: str) -> str:
    """The reply without its thinking block."""
    return split_thinking(text).answer
