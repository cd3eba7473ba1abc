"""The one way recipe text becomes data, within limits: a recipe file is read only when it is a
regular file of at most 1 MiB, and its YAML is composed by a safe loader that refuses a key
written twice, nesting deeper than `MAX_DEPTH`, more than `MAX_VALUES` values or 1 MiB of text
once aliases (``*name``) are expanded, an alias inside the value it names, and integers longer
than `MAX_INT_DIGITS` digits — each refused with the line it is on, before anything walks the
data. Every reader of user YAML (recipe files, uploads, the studio's editor, ``--set``) goes
through `load_yaml`, so a 500-byte "billion laughs" costs milliseconds, not gigabytes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from lorastudio.errors import Problem, RecipeError
from lorastudio.messages import Msg, msg

MAX_RECIPE_BYTES = 1 << 20  # recipes are a few hundred bytes; anything near this is not one
MAX_DEPTH = 32  # a recipe nests 3 levels deep (hardware.nodes.count)
MAX_VALUES = 10_000  # keys and values after expanding aliases; a recipe holds about a hundred
MAX_INT_DIGITS = 100  # the largest number a recipe takes is a seed of 10 digits


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key written twice in one YAML mapping."""

    def __init__(self, key: Any, mark: yaml.Mark):
        self.key = key
        super().__init__(None, None, f"the key '{key}' is written twice", mark)


class YamlLimitError(yaml.MarkedYAMLError):
    """Text beyond what a recipe can be (too deep, too big once expanded, a number too long):
    what is wrong and the fix, each a keyed message, and where (None: the text as a whole)."""

    def __init__(self, reason: Msg, fix: Msg, mark: yaml.Mark | None = None):
        self.reason, self.fix = reason, fix
        super().__init__(problem=str(reason), problem_mark=mark)


def _too_big(size: int) -> YamlLimitError:
    shown = f"{size / (1 << 20):.1f}"
    return YamlLimitError(
        msg("problem.too_big", size=shown, limit=MAX_RECIPE_BYTES >> 20), msg("fix.recipe_small")
    )


class RecipeLoader(yaml.SafeLoader):
    """YAML's safe loader, counting as it composes: depth, values and scalar text, an alias
    counting as everything it names, so limits hold after expansion and are checked before the
    data exists. Keys are unique (YAML says so; PyYAML would silently keep the last)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._values = 0
        self._chars = 0
        # id(node) -> (values, characters, depth) of the whole subtree, once composed
        self._weights: dict[int, tuple[int, int, int]] = {}

    def _count(self, values: int, chars: int, mark: yaml.Mark) -> None:
        self._values += values
        self._chars += chars
        if self._values > MAX_VALUES:
            raise YamlLimitError(
                msg("recipe.too_many_values", limit=MAX_VALUES), msg("fix.expand_less"), mark
            )
        if self._chars > MAX_RECIPE_BYTES:
            raise YamlLimitError(
                msg("recipe.too_much_text", limit=MAX_RECIPE_BYTES >> 20),
                msg("fix.expand_less"),
                mark,
            )

    def _too_deep(self, mark: yaml.Mark) -> YamlLimitError:
        return YamlLimitError(msg("recipe.too_deep", limit=MAX_DEPTH), msg("fix.too_deep"), mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            named = self.anchors.get(event.anchor)
            if named is not None:  # an undefined alias is PyYAML's own error
                weight = self._weights.get(id(named))
                if weight is None:  # the alias sits inside the value it names
                    raise YamlLimitError(
                        msg("recipe.alias_loop", name=event.anchor),
                        msg("fix.alias_loop"),
                        event.start_mark,
                    )
                if self._depth + weight[2] > MAX_DEPTH:
                    raise self._too_deep(event.start_mark)
                self._count(weight[0], weight[1], event.start_mark)
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise self._too_deep(event.start_mark)
        text = event.value if isinstance(event, yaml.ScalarEvent) else ""
        self._count(1, len(text), event.start_mark)
        self._depth += 1
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._weights[id(node)] = self._weigh(node)
        return node

    def _weigh(self, node: yaml.Node) -> tuple[int, int, int]:
        if isinstance(node, yaml.ScalarNode):
            return 1, len(node.value), 1
        children = node.value if isinstance(node, yaml.SequenceNode) else _flat(node.value)
        weights = [self._weights[id(child)] for child in children]
        return (
            1 + sum(w[0] for w in weights),
            sum(w[1] for w in weights),
            1 + max((w[2] for w in weights), default=0),
        )

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # "<<: *base", merged by PyYAML
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise DuplicateKeyError(key, key_node.start_mark)
            seen.add(key) if isinstance(key, str | int | float | bool) else None
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        written = node.value.lstrip("+-")
        written = written[2:] if written[:2].lower() in ("0x", "0o", "0b") else written
        digits = sum(char.isalnum() for char in written)
        if digits > MAX_INT_DIGITS:  # Python itself refuses to read one of 4300
            raise YamlLimitError(
                msg("recipe.long_integer", digits=digits, limit=MAX_INT_DIGITS),
                msg("fix.long_integer"),
                node.start_mark,
            )
        return super().construct_yaml_int(node)


def _flat(pairs: list[tuple[yaml.Node, yaml.Node]]) -> list[yaml.Node]:
    return [node for pair in pairs for node in pair]


RecipeLoader.add_constructor("tag:yaml.org,2002:int", RecipeLoader.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """User YAML as data (a recipe, an editor's text, a ``--set`` value), within the limits.

    Raises:
        yaml.YAMLError: the text is not YAML; `YamlLimitError` (one) when it is beyond what a
            recipe can be, and `DuplicateKeyError` for a key written twice.
    """
    if len(text) > MAX_RECIPE_BYTES:
        raise _too_big(len(text.encode("utf-8", "replace")))
    return yaml.load(text, Loader=RecipeLoader)  # a SafeLoader subclass


def load_mapping(text: str) -> dict[str, Any] | None:
    """The mapping recipe text holds, or None when it is not YAML, not a mapping, or beyond the
    limits (for the studio's views of text being typed, which show problems elsewhere)."""
    try:
        raw = load_yaml(text or "")
    except yaml.YAMLError:
        return None
    return raw if isinstance(raw, dict) else None


def yaml_problem(exc: yaml.YAMLError, source: str) -> Problem:
    """Text `load_yaml` refused as a ``(file)`` problem: where, why (a key written twice and the
    limits in our words, anything else in PyYAML's own, quoted as its words) and the fix."""
    mark = getattr(exc, "problem_mark", None)
    where = (
        msg("recipe.at_line", line=mark.line + 1, column=mark.column + 1)
        if mark
        else msg("recipe.unknown_place")
    )
    if isinstance(exc, YamlLimitError):
        said = msg("problem.yaml_limit", where=where, reason=exc.reason) if mark else exc.reason
        return Problem("(file)", source, said, exc.fix)
    if isinstance(exc, DuplicateKeyError):
        reason = msg("recipe.duplicate_key", name=exc.key)
    else:
        reason = msg("recipe.parser_said", text=getattr(exc, "problem", None) or str(exc))
    said = msg("problem.bad_yaml", where=where, reason=reason)
    return Problem("(file)", source, said, msg("fix.yaml_syntax"))


def read_recipe_file(path: str | Path) -> str:
    """The text of a recipe file, read only when it is a regular file (a pipe would block, a
    device never end) of at most `MAX_RECIPE_BYTES`.

    Raises:
        RecipeError: with one ``(file)`` problem saying why the file cannot be a recipe.
    """
    path = Path(path)

    def refuse(message: Msg, fix: Msg | None = None) -> RecipeError:
        return RecipeError([Problem("(file)", str(path), message, fix or msg("fix.check_path"))])

    try:
        kind = path.stat().st_mode
        if stat.S_ISDIR(kind):
            raise IsADirectoryError
        if not stat.S_ISREG(kind):
            raise refuse(msg("problem.not_regular_file"))
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
        with os.fdopen(os.open(path, flags), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the stat
                raise refuse(msg("problem.not_regular_file"))
            data = handle.read(MAX_RECIPE_BYTES + 1)
            size = max(len(data), os.fstat(handle.fileno()).st_size)
    except OSError as exc:
        raise refuse(msg("problem.unreadable", reason=why_unreadable(exc))) from None
    if size > MAX_RECIPE_BYTES:
        too_big = _too_big(size)
        raise refuse(too_big.reason, too_big.fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise refuse(msg("problem.not_utf8"), msg("fix.utf8")) from None


_UNREADABLE = {
    FileNotFoundError: "recipe.no_such_file",
    IsADirectoryError: "recipe.is_a_folder",
    PermissionError: "recipe.permission_denied",
}


def why_unreadable(exc: OSError) -> Msg:
    """Why a file could not be read: the usual reasons in words of our own, any other in the
    system's."""
    key = next((key for kind, key in _UNREADABLE.items() if isinstance(exc, kind)), None)
    if key is not None:
        return msg(key)
    return msg("text.verbatim", text=exc.strerror or str(exc))
