"""Recipe files as text: finding them, reading an uploaded one within limits, and setting one
field in place so the file's comments, key order and layout survive an edit from the studio's
form. Validation stays in `lorastudio.checks.validation`; this module only handles the text."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from lorastudio.errors import Problem, RecipeError
from lorastudio.messages import Msg, msg
from lorastudio.recipe.loader import MAX_RECIPE_BYTES, load_yaml
from lorastudio.recipe.schema import parse_recipe_text

RECIPE_SUFFIXES = (".yaml", ".yml")
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z_][\w.-]*)\s*:(?P<rest>.*)$")
_COMMENT = re.compile(r"\s+#.*$")


def list_recipes(folders: Iterable[Path]) -> list[Path]:
    """The recipe files in these folders (missing folders are skipped), sorted by name."""
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.suffix in RECIPE_SUFFIXES and path.is_file():
                    found.setdefault(path.name, path)
    return [found[name] for name in sorted(found)]


def _file_problem(name: str, message: Msg, fix: Msg) -> RecipeError:
    return RecipeError([Problem("(file)", name, message, fix)])


def read_recipe_upload(path: Path, name: str | None = None) -> str:
    """The text of an uploaded recipe, refused unless it is a small YAML recipe file.

    Args:
        path: where the upload was stored.
        name: the file name the user chose (defaults to ``path.name``).

    Raises:
        RecipeError: with one ``(file)`` problem saying why the file is not a recipe.
    """
    name = name or path.name
    if Path(name).suffix.lower() not in RECIPE_SUFFIXES:
        raise _file_problem(name, msg("problem.not_yaml_file"), msg("fix.upload_yaml"))
    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise _file_problem(
            name,
            msg("problem.too_big", size=f"{size / (1 << 20):.1f}", limit=MAX_RECIPE_BYTES >> 20),
            msg("fix.upload_small"),
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _file_problem(name, msg("problem.not_utf8"), msg("fix.utf8")) from None
    try:
        parse_recipe_text(text, source=name)
    except RecipeError as exc:
        if any(p.field == "(file)" for p in exc.problems):
            raise
    if "schema_version" not in load_yaml(text):
        raise _file_problem(
            name,
            msg("problem.no_schema_version"),
            msg("fix.start_from_shipped"),
        )
    return text


def _flow(value: Any) -> str:
    """One value as a single line of YAML (lists and mappings in flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 20)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index after the last line belonging to a block whose lines are indented beyond
    ``indent`` (blank lines and comments inside it belong to it)."""
    end = start
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(lines[index]) - len(lines[index].lstrip(" ")) <= indent:
            break
        end = index + 1
    return end


def _new_lines(keys: list[str], value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if len(keys) == 1:
        return [f"{pad}{keys[0]}: {_flow(value)}"]
    return [f"{pad}{keys[0]}:", *_new_lines(keys[1:], value, indent + 2)]


def _edit_lines(lines: list[str], keys: list[str], value: Any) -> list[str] | None:
    """Set ``keys`` to ``value`` in block-style YAML lines; None where the layout is unusual."""
    start, end, parent = 0, len(lines), -1
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        child_indent, found = None, None
        for index in range(start, end):
            match = _KEY_LINE.match(lines[index])
            if lines[index].strip().startswith("#") or not lines[index].strip():
                continue
            indent = len(lines[index]) - len(lines[index].lstrip(" "))
            child_indent = indent if child_indent is None else child_indent
            if match and indent == child_indent and match["key"] == key:
                found = (index, match)
                break
        if found is None:
            if value is None:
                return lines  # an absent optional field already means None
            at = _block_end(lines, start, parent) if parent >= 0 else len(lines)
            indent = child_indent if child_indent is not None else parent + 2
            return lines[:at] + _new_lines(keys[depth:], value, max(indent, 0)) + lines[at:]
        index, match = found
        rest = match["rest"]
        comment = _COMMENT.search(rest)
        body = rest[: comment.start()] if comment else rest
        if not last:
            if body.strip():
                return None  # a flow mapping on one line: let the caller re-dump
            start, end, parent = index + 1, _block_end(lines, index + 1, child_indent), child_indent
            continue
        after = _block_end(lines, index + 1, child_indent)
        line = f"{match['indent']}{key}: {_flow(value)}"
        if comment:  # keep the comment in its column where the new value leaves room
            column = len(lines[index]) - len(comment.group(0).lstrip())
            line += " " * max(2, column - len(line)) + comment.group(0).lstrip()
        return [*lines[:index], line, *lines[after:]]
    return None


def _set(raw: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    edited = copy.deepcopy(raw)
    node = edited
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[keys[-1]] = value
    return edited


def _without_nones(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_nones(v) for k, v in data.items() if v is not None}
    return data


def set_field(text: str, path: str, value: Any) -> str:
    """Recipe text with the field at dotted ``path`` set to ``value``.

    The edit is made on the line that holds the field, keeping every comment; where the layout
    does not allow that (flow mappings, odd indentation), the recipe is written out again in
    schema order and its comments are lost.

    Raises:
        RecipeError: the text is not a YAML mapping, so there is nothing to edit.
    """
    try:
        raw = load_yaml(text) if text.strip() else {}
    except yaml.YAMLError:
        parse_recipe_text(text)  # raises a RecipeError naming the line and column
        raise
    if not isinstance(raw, dict):
        raise _file_problem("recipe", msg("problem.not_mapping"), msg("fix.shipped"))
    keys = path.split(".")
    expected = _set(raw, keys, value)
    edited = _edit_lines(text.splitlines(), keys, value)
    if edited is not None:
        candidate = "\n".join(edited) + "\n"
        try:
            if _without_nones(load_yaml(candidate)) == _without_nones(expected):
                return candidate
        except yaml.YAMLError:
            pass
    return yaml.safe_dump(expected, sort_keys=False, allow_unicode=True, default_flow_style=None)


SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$")


def save_recipe_text(text: str, folder: Path, file_name: str, taken: Iterable[str] = ()) -> Path:
    """Save recipe text (as written, comments kept) as ``folder/file_name``, never over a file.

    Args:
        file_name: a plain file name; ``.yaml`` is added when it has no YAML suffix.
        taken: other file names the recipe list already shows (shipped recipes), refused too.

    Raises:
        RecipeError: the name is not a plain YAML file name, a recipe of that name exists (the
            fix names a free one), or the text is not a recipe.
    """
    name = file_name.strip()
    if name and Path(name).suffix.lower() not in RECIPE_SUFFIXES:
        name += ".yaml"
    if not SAVE_NAME.match(name):
        raise _file_problem(file_name, msg("problem.save_name"), msg("fix.save_name"))
    parse_recipe_text(text, source=name)  # what is saved is a recipe (its problems say why not)
    taken = set(taken)
    if (folder / name).exists() or name in taken:
        stem, suffix = Path(name).stem, Path(name).suffix
        free = next(
            f"{stem}-{n}{suffix}"
            for n in range(2, 10_000)
            if f"{stem}-{n}{suffix}" not in taken and not (folder / f"{stem}-{n}{suffix}").exists()
        )
        raise _file_problem(name, msg("problem.save_exists"), msg("fix.save_exists", name=free))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    try:
        with path.open("x", encoding="utf-8") as handle:  # "x": one that appeared meanwhile stays
            handle.write(text)
    except FileExistsError:
        raise _file_problem(name, msg("problem.save_exists"), msg("fix.save_other")) from None
    path.chmod(0o644)
    return path
