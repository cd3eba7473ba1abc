"""What one chat turn may ask: the sampling settings (each default declared once, with its range
and help text, read by the CLI and the Chat tab) and the checks on a prompt and a conversation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lorastudio.errors import ChatInputError, Problem
from lorastudio.messages import msg
from lorastudio.schema_problems import problems_from_validation

MAX_NEW_TOKENS_CAP = 8192
Message = dict[str, str]


class ChatParams(BaseModel):
    """Sampling settings of one reply; base and adapter answer with the same ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str = Field(
        "",
        description="System prompt; empty uses the template's default, as training did.",
        json_schema_extra={"zh": "系统提示词；留空则使用模板的默认值，与训练时一致。"},
    )
    temperature: float = Field(
        0.7,  # Qwen2.5's own generation_config default
        ge=0.0,
        le=2.0,
        description="Randomness of sampling; 0 is greedy (deterministic).",
        json_schema_extra={"zh": "采样的随机程度；0 为贪心解码（结果确定）。"},
    )
    top_p: float = Field(
        0.7,
        gt=0.0,
        le=1.0,
        description="Sample from the most likely tokens that add up to this.",
        json_schema_extra={"zh": "只在累计概率达到该值的最可能的 token 中采样。"},
    )
    max_new_tokens: int = Field(
        256,  # a reply in seconds, not minutes, on a CPU; raise it for long answers
        ge=1,
        le=MAX_NEW_TOKENS_CAP,
        description="Tokens generated at most per reply; more take longer, on a CPU much longer.",
        json_schema_extra={"zh": "每次回复最多生成的 token 数；越多越慢，在 CPU 上会慢很多。"},
    )
    seed: int = Field(
        42,
        ge=0,
        lt=2**32,
        description="Random seed; the same seed makes the same sampled reply.",
        json_schema_extra={"zh": "随机种子；相同的种子给出相同的采样回复。"},
    )
    thinking: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Qwen3 thinking: auto as the run trained, on to think before answering, off "
        "to answer at once (templates that think only).",
        json_schema_extra={
            "zh": "Qwen3 的思考：auto 与训练时一致，on 先思考再回答，"
            "off 直接回答（仅限会思考的模板）。"
        },
    )


def make_params(**values: Any) -> ChatParams:
    """ChatParams from user input; values left as None take the schema's default.

    Raises:
        ChatInputError: listing every refused value (field, value and fix).
    """
    try:
        return ChatParams(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise ChatInputError(problems_from_validation(exc, ChatParams)) from None


def check_messages(messages: list[Message]) -> list[Message]:
    """A conversation the template can encode: user and assistant turns in turn, ending with a
    user message that says something.

    Raises:
        ChatInputError: the conversation is empty, malformed, or its last prompt is blank.
    """
    if not messages:
        raise ChatInputError([_empty_prompt("")])
    checked = []
    for index, message in enumerate(messages):
        role = "user" if index % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != role:
            wrong = msg(f"chat.wrong_turn.{role}")
            problem = Problem(f"messages[{index}]", message, wrong, msg("chat.fix.alternate"))
            raise ChatInputError([problem])
        content = message.get("content")
        if not isinstance(content, str):
            field = f"messages[{index}].content"
            problem = Problem(field, content, msg("chat.not_text"), msg("chat.fix.send_text"))
            raise ChatInputError([problem])
        checked.append({"role": role, "content": content})
    if checked[-1]["role"] != "user" or not checked[-1]["content"].strip():
        raise ChatInputError([_empty_prompt(checked[-1]["content"])])
    return checked


def _empty_prompt(value: str) -> Problem:
    return Problem("prompt", value, msg("chat.empty"), msg("chat.fix.write_prompt"))
