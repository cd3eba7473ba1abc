"""`python launch.py [--host H] [--port P] [--auth user:pass] [--lang en|zh]`: the studio's own
options, and the rule that exposure is deliberate (a non-loopback address needs a password).
Importing this module imports no gradio; `main` does, once the options are sound."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path

from lorastudio.cli.exit_codes import ExitCode

DEFAULT_PORT = 7860


def parser() -> argparse.ArgumentParser:
    studio = argparse.ArgumentParser(
        prog="python launch.py",
        description="Open LoRA Studio in the browser (http://127.0.0.1:7860 by default).",
    )
    studio.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1, this machine only; any other needs --auth)",
    )
    studio.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 7860)")
    studio.add_argument(
        "--auth",
        metavar="USER:PASS",
        help="require this login (or set LORASTUDIO_AUTH=user:pass)",
    )
    studio.add_argument(
        "--lang",
        choices=["en", "zh"],
        default=os.environ.get("LORASTUDIO_LANG", "en"),
        help="language a new browser gets (en or zh; each browser can switch)",
    )
    return studio


def is_studio_call(argv: list[str]) -> bool:
    """True when argv holds no command, only studio options (``--help`` is the CLI's; a leading
    ``--lang`` is both's: ``--lang zh validate R`` is the CLI's)."""
    rest = list(argv)
    if rest[:1] == ["--lang"]:
        rest = rest[2:]
    elif rest and rest[0].startswith("--lang="):
        rest = rest[1:]
    return not rest or (rest[0].startswith("-") and rest[0] not in ("-h", "--help"))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """``user:pass`` as a pair; None when not given.

    Raises:
        ValueError: the text is not ``user:pass`` with both parts non-empty.
    """
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ValueError(text)
    return user, password


def exposure_problem(host: str, auth: tuple[str, str] | None) -> str | None:
    """Why the studio must not start with these settings, or None."""
    if is_loopback(host) or auth is not None:
        return None
    return (
        f"refusing to serve LoRA Studio on {host} without a login: anyone who can reach this "
        "address could start training and read your recipes. Enable a login with "
        f"`python launch.py --host {host} --auth user:password` (or set "
        "LORASTUDIO_AUTH=user:password), or keep the default --host 127.0.0.1."
    )


def main(argv: list[str], root: Path) -> int:
    """Check the options, then build and serve the studio (blocks until interrupted)."""
    started = time.monotonic()
    args = parser().parse_args(argv)
    try:
        auth = parse_auth(args.auth or os.environ.get("LORASTUDIO_AUTH"))
    except ValueError:
        print("error: --auth / LORASTUDIO_AUTH must look like user:password", file=sys.stderr)
        return ExitCode.USAGE
    problem = exposure_problem(args.host, auth)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return ExitCode.USAGE
    from lorastudio.machine.hardware import detect
    from lorastudio.workspace import Workspace
    from ui.app import serve  # gradio is imported here, never by the CLI's commands
    from ui.config import StudioConfig

    workspace = Workspace.from_env(root)
    config = StudioConfig(
        workspace=workspace,
        recipe_dirs=(root / "recipes", workspace.root / "recipes"),
        hardware=detect(),
        lang=args.lang,
        downloads_dir=Path(tempfile.gettempdir()) / f"lorastudio-{os.getuid()}" / "downloads",
    )
    return serve(config, args.host, args.port, auth, started)
