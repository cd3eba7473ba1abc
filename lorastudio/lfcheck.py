"""Runs LLaMA-Factory's own argument parser on compiled arguments, in a subprocess (it imports
torch and sets global state). `full` runs every check of `get_train_args` (device support,
DeepSpeed launch mode, output folder); otherwise only the dataclass parse: keys, types, choices.

Usage: ``python -m lorastudio.lfcheck ARGS.yaml [--full]`` prints ``OK`` or the parser's error.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml


def check_train_args(
    args: dict, env: dict[str, str] | None = None, full: bool = True
) -> str | None:
    """None when LLaMA-Factory's parser accepts ``args``, else its error message."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "args.yaml"
        path.write_text(yaml.safe_dump(args, sort_keys=False))
        command = [sys.executable, "-m", "lorastudio.lfcheck", str(path)] + (
            ["--full"] if full else []
        )
        result = subprocess.run(
            command, capture_output=True, text=True, env=os.environ | (env or {}), timeout=300
        )
    if result.returncode == 0 and result.stdout.strip().endswith("OK"):
        return None
    lines = [line for line in (result.stdout + result.stderr).strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"parser exited with {result.returncode}"


def _main(argv: list[str]) -> int:
    args = yaml.safe_load(Path(argv[0]).read_text())
    from llamafactory.hparams import parser

    try:
        if "--full" in argv:
            parser.get_train_args(args)
        else:
            parser._parse_train_args(args)
    except (ValueError, TypeError, AssertionError, SystemExit) as exc:
        print(f"{type(exc).__name__}: {exc}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
