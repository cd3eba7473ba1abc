"""Every process LoRA Studio starts, started one way: argv lists (never a shell), with an
environment in which a child Python imports this very lorastudio (whatever its working folder)
and finds the tools of this interpreter's environment (`llamafactory-cli`, `torchrun`); and the
one way a supervisor leaves whoever started it (`daemonize`)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
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


def daemonize(log_path: Path, work: Callable[[], int]) -> None:
    """Run ``work`` in a daemon and return at once: a double fork re-parents it to init in a
    session of its own (no terminal, no hang-up, nothing of the caller's process group), with
    stdin from /dev/null and stdout and stderr appended to ``log_path``. The daemon exits with
    ``work``'s return code, whatever it raises; the caller goes on as it was."""
    first = os.fork()
    if first > 0:
        os.waitpid(first, 0)  # the middle process exits at once; nothing is left a zombie
        return
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
    except BaseException:
        os._exit(1)
    code = 1
    try:
        code = work()
    finally:
        for stream in (sys.stdout, sys.stderr):  # os._exit flushes nothing itself
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
