"""What one row must hold to be a training example under a mapping, checked the way
LLaMA-Factory's converters will read it: the mapped columns are there and hold text, every turn
has content, roles alternate user/assistant after an optional system turn, and a conversation
ends with an assistant turn to learn. Each problem names the row (and line) and the fix."""

from __future__ import annotations

from typing import Any

from lorastudio.data.formats import REQUIRED, Mapping, layout_of
from lorastudio.data.problems import DataProblem
from lorastudio.data.reader import Row
from lorastudio.messages import Msg, msg

NAMES = {"prompt": "instruction", "query": "input", "response": "output"}  # as people say them


def where(row: Row) -> Msg:
    """ "row 12 (line 40)", or "row 12" where lines mean nothing (Parquet)."""
    if row.line is None:
        return msg("data.at_row", row=row.number)
    return msg("data.at_row_line", row=row.number, line=row.line)


def check_row(row: Row, mapping: Mapping) -> DataProblem | None:
    """The first problem of ``row`` under ``mapping`` (None when LLaMA-Factory can train on it)."""
    value = row.value
    if mapping.format == "text":
        return _text_problem(row, mapping)
    if not isinstance(value, dict):
        return DataProblem(
            msg("data.not_object", at=where(row), kind=type(value).__name__),
            msg("fix.json_layout"),
        )
    required = [mapping.columns[c] for c in REQUIRED[mapping.format]]
    missing = [column for column in required if column not in value]
    if missing:
        found = layout_of(value)
        mixed = row.number > 1 and found is not None  # rows before it fit the mapping
        if mixed and _family(found) != _family(mapping.format):
            return DataProblem(
                msg("data.mixed", at=where(row), found=found, expected=mapping.format),
                msg("fix.one_layout"),
            )
        return DataProblem(
            msg("data.no_column", at=where(row), column=missing[0], has=_keys(value)),
            msg("fix.map_column"),
        )
    if mapping.format == "alpaca":
        return _alpaca_problem(row, mapping)
    return _conversation_problem(row, mapping)


def _family(fmt: str) -> str:
    return "conversation" if fmt in ("sharegpt", "openai") else fmt


def _keys(value: dict[str, Any]) -> str:
    return ", ".join(value) or "—"


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _text_problem(row: Row, mapping: Mapping) -> DataProblem | None:
    value = row.value
    if isinstance(value, dict):
        column = mapping.columns["prompt"]
        if column not in value:
            found = layout_of(value)
            if row.number > 1 and found is not None and found != "text":
                return DataProblem(
                    msg("data.mixed", at=where(row), found=found, expected="text"),
                    msg("fix.one_layout"),
                )
            return DataProblem(
                msg("data.no_column", at=where(row), column=column, has=_keys(value)),
                msg("fix.map_column"),
            )
        value = value[column]
    if value is not None and not isinstance(value, str):
        return DataProblem(
            msg("data.not_text", at=where(row), column=mapping.columns["prompt"]),
            msg("fix.text_value"),
        )
    return None  # an empty text is a note (see `is_blank`), not an error


def is_blank(row: Row, mapping: Mapping) -> bool:
    """A plain-text row with nothing in it (LLaMA-Factory trains it as a bare end-of-text)."""
    value = row.value
    if isinstance(value, dict):
        value = value.get(mapping.columns.get("prompt", ""))
    return mapping.format == "text" and not (isinstance(value, str) and value.strip())


def _alpaca_problem(row: Row, mapping: Mapping) -> DataProblem | None:
    value, columns = row.value, mapping.columns
    for role in ("prompt", "query", "response", "system"):
        name = columns.get(role)
        if name and value.get(name) is not None and not isinstance(value[name], str):
            return DataProblem(
                msg("data.not_text", at=where(row), column=name), msg("fix.text_value")
            )
    query = columns.get("query")
    if not _is_text(value[columns["prompt"]]) and not (query and _is_text(value.get(query))):
        return DataProblem(
            msg("data.empty_turn", at=where(row), role=columns["prompt"]), msg("fix.fill_turn")
        )
    if not _is_text(value[columns["response"]]):
        return DataProblem(
            msg("data.no_answer", at=where(row), column=columns["response"]), msg("fix.fill_turn")
        )
    history = columns.get("history")
    if history and value.get(history) is not None:
        pairs = value[history]
        ok = isinstance(pairs, list) and all(
            isinstance(p, list | tuple) and len(p) == 2 and all(_is_text(x) for x in p)
            for p in pairs
        )
        if not ok:
            return DataProblem(
                msg("data.bad_history", at=where(row), column=history), msg("fix.history")
            )
    return None


def _conversation_problem(row: Row, mapping: Mapping) -> DataProblem | None:
    turns = row.value[mapping.columns["messages"]]
    if not isinstance(turns, list) or not turns:
        return DataProblem(
            msg("data.no_turns", at=where(row), column=mapping.columns["messages"]),
            msg("fix.turns"),
        )
    tags = mapping.tags
    roles = {tags.get(k) for k in ("user_tag", "assistant_tag", "system_tag", "observation_tag")}
    roles |= {tags.get("function_tag")}
    roles.discard(None)
    system = tags.get("system_tag")
    start = 1 if isinstance(turns[0], dict) and turns[0].get(tags["role_tag"]) == system else 0
    for index, turn in enumerate(turns):
        problem = _turn_problem(row, mapping, index, turn, roles)
        if problem is None and index >= start:
            problem = _order_problem(row, mapping, index, index - start, turn)
        if problem is not None:
            return problem
    answers = (tags.get("assistant_tag"), tags.get("function_tag"))
    if not any(t.get(tags["role_tag"]) in answers for t in turns):
        return DataProblem(msg("data.no_assistant", at=where(row)), msg("fix.add_assistant"))
    if (len(turns) - start) % 2:
        return DataProblem(msg("data.ends_unanswered", at=where(row)), msg("fix.add_assistant"))
    tools = mapping.columns.get("tools")
    if tools and row.value.get(tools) not in (None, "") and not isinstance(row.value[tools], str):
        return DataProblem(
            msg("data.tools_not_text", at=where(row), column=tools), msg("fix.tools")
        )
    return None


def _turn_problem(
    row: Row, mapping: Mapping, index: int, turn: Any, roles: set[str]
) -> DataProblem | None:
    tags, number = mapping.tags, index + 1
    if not isinstance(turn, dict) or tags["role_tag"] not in turn:
        return DataProblem(
            msg("data.turn_no_role", at=where(row), turn=number, field=tags["role_tag"]),
            msg("fix.turns"),
        )
    role = turn[tags["role_tag"]]
    if role not in roles:
        return DataProblem(
            msg(
                "data.unknown_role",
                at=where(row),
                turn=number,
                role=role,
                roles=", ".join(sorted(roles)),
            ),
            msg("fix.map_roles"),
        )
    if turn.get("tool_calls"):
        return DataProblem(msg("data.tool_calls", at=where(row), turn=number), msg("fix.tools"))
    if not _is_text(turn.get(tags["content_tag"])):
        return DataProblem(
            msg("data.empty_turn_n", at=where(row), turn=number, role=role), msg("fix.fill_turn")
        )
    return None


def _order_problem(
    row: Row, mapping: Mapping, index: int, position: int, turn: dict[str, Any]
) -> DataProblem | None:
    """LLaMA-Factory's rule: user (or observation) turns at odd places, assistant (or function)
    turns at even ones, after an optional first system turn."""
    tags = mapping.tags
    asks = (tags.get("user_tag"), tags.get("observation_tag"))
    answers = (tags.get("assistant_tag"), tags.get("function_tag"))
    wanted = asks if position % 2 == 0 else answers
    role = turn[tags["role_tag"]]
    if role in wanted:
        return None
    return DataProblem(
        msg("data.role_order", at=where(row), turn=index + 1, role=role, expected=wanted[0]),
        msg("fix.role_order"),
    )
