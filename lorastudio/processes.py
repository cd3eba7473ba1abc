"""Every process LoRA Studio starts, started one way: argv lists (never a shell), with an
environment in which a child Python imports this very lorastudio (whatever its working folder)
and finds the tools of this interpreter's environment (`llamafactory-cli`, `torchrun`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder that holds lorastudio/


def python_module(module: str, *args: str) -> list[str]:
    """The argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def tool(name: str) -> str:
    """A console script of this interpreter's environment (``llamafactory-cli``) by its full
    path when it is there, else its bare name for PATH to find."""
    script = Path(sys.executable).with_name(name)
    return str(script) if script.exists() else name


def child_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """This process's environment (or ``base``, another one's), plus what a child needs:
    lorastudio importable (PYTHONPATH) and this environment's tools first on PATH (LLaMA-Factory
    runs bare ``torchrun``)."""
    env = dict(os.environ if base is None else base)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(PACKAGE_ROOT) + (os.pathsep + path if path else "")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env | dict(extra or {})


def run(argv: Sequence[str], timeout: float, **options: Any) -> subprocess.CompletedProcess:
    """Run ``argv`` to its end (at most ``timeout`` seconds), its output captured as text."""
    options.setdefault("env", child_env())
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, **options
    )


def start(argv: Sequence[str], **options: Any) -> subprocess.Popen:
    """Start ``argv`` and return at once; stdin is closed unless the caller pipes it."""
    options.setdefault("env", child_env())
    options.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(list(argv), **options)
