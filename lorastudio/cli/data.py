"""The data commands of the CLI: `python launch.py demo-data` puts LLaMA-Factory's demo datasets,
which the shipped recipes train on, into the data folder."""

from __future__ import annotations

import argparse
from typing import TextIO

from lorastudio.cli.exit_codes import ExitCode
from lorastudio.data import demo as demo_data
from lorastudio.workspace import Workspace

_OUTCOMES = {
    "fetched": "fetched",
    "filled": "placeholders filled",
    "present": "already there",
    "kept": "kept: it differs from LLaMA-Factory's (--force replaces it)",
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `demo-data` on the CLI's subcommand parser."""
    demo = sub.add_parser(
        "demo-data",
        help="Fetch LLaMA-Factory's demo datasets (identity, alpaca_en_demo, alpaca_zh_demo), "
        "which the shipped recipes use, into the data folder.",
        description="Fetch LLaMA-Factory v0.9.5's demo datasets into the data folder, each "
        "checked against that release's SHA-256, and register them in its dataset_info.json.",
    )
    demo.add_argument(
        "--from",
        dest="source",
        metavar="URL_OR_FOLDER",
        help="where to take them from: a mirror of LLaMA-Factory's data/ or a folder that has "
        "the files, e.g. a LLaMA-Factory checkout's data/ (default: $LORASTUDIO_DEMO_DATA_FROM, "
        "else its GitHub repository)",
    )
    demo.add_argument("--name", help="your assistant's name, for identity's {{name}}")
    demo.add_argument("--author", help="who made it, for identity's {{author}}")
    demo.add_argument(
        "--force", action="store_true", help="replace files that differ from LLaMA-Factory's"
    )


def cmd_demo_data(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    results = demo_data.fetch_demo_data(
        ws.data_dir, args.source, name=args.name, author=args.author, force=args.force
    )
    for item in results:
        print(f"{item.dataset:<16} {item.path}  {_OUTCOMES[item.outcome]}", file=out)
    print(f"registered in {ws.registry_path}", file=out)
    identity = ws.data_dir / demo_data.DEMO_FILES["identity"][0]
    if "{{name}}" in identity.read_text(encoding="utf-8"):
        print(
            "identity.json still says {{name}} and {{author}}; a self-cognition tune teaches "
            "the model those words. Fill them with: python launch.py demo-data --name 小助手 "
            "--author 示例团队",
            file=out,
        )
    return ExitCode.OK


COMMANDS = {"demo-data": cmd_demo_data}
