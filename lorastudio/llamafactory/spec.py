"""What the installed LLaMA-Factory accepts — chat template names, training argument names and
their types — read from its source files with `ast`, so checking a recipe never imports torch.

The real argument parser (which does import torch) is run in a subprocess by
`lorastudio.llamafactory.parser_check`; this module is the fast, import-free first line.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
from pathlib import Path

from lorastudio.errors import LoraStudioError
from lorastudio.messages import msg


class LlamaFactoryMissingError(LoraStudioError):
    """LLaMA-Factory (or a package whose sources it reads) is not installed in this environment."""


def _package_file(distribution: str, relative: str) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise LlamaFactoryMissingError(
            msg("error.not_installed", package=distribution), msg("fix.install_studio")
        ) from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise LlamaFactoryMissingError(
            msg("error.package_file_missing", package=distribution, file=relative),
            msg("fix.install_studio"),
        )
    return path


def llamafactory_version() -> str:
    """The installed LLaMA-Factory version, e.g. ``0.9.5``."""
    try:
        return importlib.metadata.version("llamafactory")
    except importlib.metadata.PackageNotFoundError:
        raise LlamaFactoryMissingError(
            msg("error.not_installed", package="llamafactory"), msg("fix.install_studio")
        ) from None


@functools.cache
def known_templates() -> frozenset[str]:
    """Names passed to ``register_template(name=...)`` in llamafactory/data/template.py."""
    tree = ast.parse(_package_file("llamafactory", "llamafactory/data/template.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_template":
            for keyword in node.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    names.add(keyword.value.value)
    return frozenset(names)


def _dataclass_fields(path: Path) -> dict[str, str]:
    """Field name → its annotation as written (``"Optional[float]"``, ``"bool"``)."""
    fields = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                    fields[statement.target.id] = ast.unparse(statement.annotation)
    return fields


_ARGUMENT_SOURCES = (
    ("llamafactory", "llamafactory/hparams/model_args.py"),
    ("llamafactory", "llamafactory/hparams/data_args.py"),
    ("llamafactory", "llamafactory/hparams/training_args.py"),
    ("llamafactory", "llamafactory/hparams/finetuning_args.py"),
    ("llamafactory", "llamafactory/hparams/generating_args.py"),
    ("transformers", "transformers/training_args.py"),
    ("transformers", "transformers/training_args_seq2seq.py"),
)


@functools.cache
def train_argument_types() -> dict[str, str]:
    """Every key `llamafactory-cli train` accepts in its YAML (dataclass fields of its parser),
    with its annotation as written; LLaMA-Factory's own classes win over transformers'."""
    fields: dict[str, str] = {}
    for distribution, relative in reversed(_ARGUMENT_SOURCES):
        fields |= _dataclass_fields(_package_file(distribution, relative))
    return {name: kind for name, kind in fields.items() if not name.startswith("_")}


@functools.cache
def known_train_arguments() -> frozenset[str]:
    """Every key `llamafactory-cli train` accepts in its YAML."""
    return frozenset(train_argument_types())
