"""Runs LLaMA-Factory's own argument parser on compiled arguments, in a subprocess (it imports
torch, about 6 s, and sets global state), one subprocess for a whole batch where the machine
allows it. Three levels, each doing everything the one before does:

- ``types``: every key is a LLaMA-Factory training argument, every value parses as its type and
  is one of its choices, as ``llamafactory-cli train --key value`` parses them (HfArgumentParser's
  argparse layer; skipped for fields like ``str | bool`` that argparse narrows to one type). No
  dataclass is built, so nothing depends on this machine's devices.
- ``parse``: the dataclass parse ``llamafactory-cli train args.yaml`` does (``_parse_train_args``):
  every ``__post_init__``. transformers refuses ``bf16`` there on a machine without a bf16
  device, and a ``deepspeed`` key needs DeepSpeed installed.
- ``full``: every check of ``get_train_args`` (devices, DeepSpeed launch mode, output folder).

Each check runs with its own environment added. A check whose environment says the run is started
through torchrun (``FORCE_TORCHRUN=1``) runs as rank 0 of a one-process torchrun world, as each
worker of the real launch would.

Usage: ``python -m lorastudio.llamafactory.parser_check ARGS.yaml [--types | --full]`` prints
``OK`` or the error; ``python -m lorastudio.llamafactory.parser_check --batch CHECKS.json
RESULTS.json`` is what `check_train_args_many` runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import io
import json
import os
import socket
import sys
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lorastudio import processes
from lorastudio.errors import LoraStudioError
from lorastudio.machine.hardware import Hardware, detect
from lorastudio.messages import msg

Level = Literal["types", "parse", "full"]
LEVELS: tuple[Level, ...] = ("types", "parse", "full")
MODULE = "lorastudio.llamafactory.parser_check"
BATCH_TIMEOUT_S = 600.0
_TORCHRUN_WORKER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")
_VISIBILITY_VARS = ("CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES")
USAGE = "usage: python -m lorastudio.llamafactory.parser_check ARGS.yaml [--types | --full]"


class ParserUnavailableError(LoraStudioError):
    """LLaMA-Factory's parser could not be run at all (not installed, or its subprocess died)."""


@dataclass(frozen=True)
class ArgsCheck:
    """One set of training arguments to check.

    Attributes:
        args: the arguments, as written into llamafactory.yaml.
        env: variables the run gets on top of this environment (``Compiled.env``).
        level: how far to check: ``types``, ``parse`` or ``full`` (see the module docstring).
    """

    args: dict[str, Any]
    env: Mapping[str, str] = field(default_factory=dict)
    level: Level = "parse"


def check_train_args_many(checks: Sequence[ArgsCheck]) -> list[str | None]:
    """Check every set of arguments, in as few subprocesses as this machine allows: one, unless
    it has GPUs or NPUs and the checks make different ones visible (see `_process_groups`).

    Returns:
        For each check, in order: None when LLaMA-Factory's parser accepts the arguments, else
        its error as one line (``ValueError: Please specify dataset for training.``).

    Raises:
        ValueError: a check names an unknown level.
        ParserUnavailableError: a subprocess died without answering (its last line says why).
    """
    for check in checks:
        if check.level not in LEVELS:
            raise ValueError(f"unknown level {check.level!r}; expected one of {', '.join(LEVELS)}")
    if not checks:
        return []
    results: list[str | None] = [None] * len(checks)
    for group in _process_groups(checks, detect()):
        for index, result in zip(group, _run_batch([checks[i] for i in group]), strict=True):
            results[index] = result
    return results


def _process_groups(checks: Sequence[ArgsCheck], hardware: Hardware) -> list[list[int]]:
    """Indices of the checks, one list per subprocess. torch reads the device visibility variables
    once per process, so on a machine with GPUs or NPUs the checks that build the trainer's
    arguments (parse, full) get a subprocess per visibility; `types` checks touch no device."""
    has_accelerators = bool(hardware.cuda or hardware.npu)
    groups: dict[tuple[str | None, ...], list[int]] = {}
    for index, check in enumerate(checks):
        key: tuple[str | None, ...] = ()
        if has_accelerators and check.level != "types":
            key = tuple(check.env.get(name, os.environ.get(name)) for name in _VISIBILITY_VARS)
        groups.setdefault(key, []).append(index)
    if len(groups) > 1 and () in groups:  # device-free checks ride along with another group
        riders = groups.pop(())
        first = next(iter(groups))
        groups[first] = sorted(groups[first] + riders)
    return list(groups.values())


def _run_batch(checks: Sequence[ArgsCheck]) -> list[str | None]:
    with tempfile.TemporaryDirectory() as tmp:
        request, answer = Path(tmp) / "checks.json", Path(tmp) / "results.json"
        payload = [asdict(check) | {"env": dict(check.env)} for check in checks]
        request.write_text(json.dumps(payload))
        command = processes.python_module(
            "lorastudio.llamafactory.parser_check", "--batch", str(request), str(answer)
        )
        result = processes.run(command, timeout=BATCH_TIMEOUT_S)
        if result.returncode == 0 and answer.is_file():
            return json.loads(answer.read_text())
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    reason = lines[-1] if lines else msg("machine.parser_exit", code=result.returncode)
    raise ParserUnavailableError(msg("error.parser_unavailable", reason=reason))


def check_train_args(
    args: dict[str, Any], env: Mapping[str, str] | None = None, full: bool = True
) -> str | None:
    """None when LLaMA-Factory's parser accepts ``args``, else its error (``full``: every check
    of ``get_train_args``; otherwise the dataclass parse)."""
    level: Level = "full" if full else "parse"
    return check_train_args_many([ArgsCheck(args, env or {}, level)])[0]


# ---------------------------------------------------------------- inside the subprocess


def _argv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict) else str(value)


def _argparse_speaks_for(hint: Any) -> bool:
    """Whether argparse's one type for a field is the whole truth: yes for a plain or optional
    type, and for an enum-or-str union (``__post_init__`` turns the str into the enum); no for
    unions like ``str | bool``, whose other members only the YAML (dict) path can pass."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return True
    members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return len(members) == 1 or any(
        isinstance(member, type) and issubclass(member, enum.Enum) for member in members
    )


def _types_problem(args: dict[str, Any]) -> str | None:
    """Unknown keys, wrong types and values outside their choices, found by HfArgumentParser's
    argparse layer (the one ``llamafactory-cli train --key value`` goes through)."""
    from llamafactory.extras.misc import is_env_enabled
    from llamafactory.hparams import parser as lf_parser
    from transformers import HfArgumentParser

    parser = HfArgumentParser(lf_parser._TRAIN_ARGS, allow_abbrev=False, exit_on_error=False)
    hints = {}
    for dtype in parser.dataclass_types:
        declared = typing.get_type_hints(dtype)
        hints |= {f.name: declared[f.name] for f in dataclasses.fields(dtype) if f.init}
    unknown = [key for key in args if key not in hints]
    if unknown and not is_env_enabled("ALLOW_EXTRA_ARGS"):
        return f"ValueError: Some keys are not used by the HfArgumentParser: {sorted(unknown)}"
    actions = {option: action for action in parser._actions for option in action.option_strings}
    argv: list[str] = []
    for key, value in args.items():
        action = actions.get(f"--{key}")
        if action is None or value is None or value == [] or not _argparse_speaks_for(hints[key]):
            continue
        if isinstance(value, list):
            argv += [f"--{key}", *(_argv_text(item) for item in value)]
        else:
            argv.append(f"--{key}={_argv_text(value)}")
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            _, rest = parser.parse_known_args(argv)
    except Exception as exc:  # argparse.ArgumentError: a bad type or choice
        return f"ArgumentError: {exc}"
    except SystemExit:
        lines = stderr.getvalue().strip().splitlines()
        return f"ArgumentError: {lines[-1] if lines else 'the arguments do not parse'}"
    return f"ValueError: unrecognized arguments {rest}" if rest else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _environment(env: Mapping[str, str], level: Level) -> Iterator[None]:
    """This check's environment; a torchrun launch gets rank 0 of a one-process world."""
    saved = dict(os.environ)
    os.environ.update(env)
    torchrun = os.environ.get("FORCE_TORCHRUN", "").lower() in ("true", "y", "1")
    if level == "full" and torchrun and "LOCAL_RANK" not in os.environ:
        os.environ |= dict.fromkeys(_TORCHRUN_WORKER_VARS, "0")
        # A one-process world on this machine: a multi-node recipe's MASTER_ADDR is another host.
        os.environ |= {"WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1", "MASTER_PORT": str(_free_port())}
        os.environ["MASTER_ADDR"] = "127.0.0.1"
    try:
        yield
    finally:
        import torch.distributed

        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        os.environ.clear()
        os.environ.update(saved)


def _check_one(args: dict[str, Any], env: Mapping[str, str], level: Level) -> str | None:
    with _environment(env, level):
        problem = _types_problem(args)
        if problem or level == "types":
            return problem
        from llamafactory.hparams import parser

        try:
            if level == "full":
                parser.get_train_args(dict(args))
            else:
                parser._parse_train_args(dict(args))
        except (Exception, SystemExit) as exc:  # the parser raises whatever it meets
            text = " ".join(str(exc).split())
            return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return None


def _main(argv: list[str]) -> int:
    if argv[:1] == ["--batch"] and len(argv) == 3:
        checks = json.loads(Path(argv[1]).read_text())
        results = [_check_one(c["args"], c["env"], c["level"]) for c in checks]
        Path(argv[2]).write_text(json.dumps(results))
        return 0
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    level: Level = "full" if "--full" in argv else "types" if "--types" in argv else "parse"
    problem = _check_one(yaml.safe_load(Path(argv[0]).read_text()), {}, level)
    print(problem or "OK")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
