"""The queue on the CLI: `python launch.py queue` lists the runs waiting for their devices, first
in line first; `python launch.py queue up RUN` moves one up. A queued run is cancelled with
`python launch.py stop RUN`. Every command that looks at runs serves the queue first (`kick`), so
a queue whose supervisor was killed, or that a reboot interrupted, moves on."""

from __future__ import annotations

import argparse
import time
from typing import TextIO

from lorastudio.cli.exit_codes import ExitCode
from lorastudio.messages import msg, say
from lorastudio.runs import queue as run_queue
from lorastudio.runs.index import RunIndex
from lorastudio.workspace import Workspace


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `queue` on the CLI's subcommand parser."""
    queue = sub.add_parser(
        "queue",
        help="List the runs waiting for their devices; `queue up RUN` moves one up.",
        description="Runs started while their devices are busy wait here and start by "
        "themselves, in order, when the devices are free (the CPU is one device, each card "
        "another). `python launch.py stop RUN` cancels a queued run.",
    )
    queue.add_argument("action", nargs="?", choices=["up"], help="up: move RUN one place up")
    queue.add_argument("run", nargs="?", help="run id, unique part of it, or 'latest'")


def queued_line(run_id: str, lang: str, adapters_dir) -> str:
    """What `train` says of a run it queued: where it stands and how to cancel or move it."""
    note = run_queue.queued_note(adapters_dir / run_id)
    if note is None:  # it started meanwhile
        return ""
    return msg("queue.queued", run=run_id, place=note).text(lang)


def cmd_queue(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_queue.kick(ws.adapters_dir)
    if args.action == "up":
        run_dir = RunIndex(ws.adapters_dir).find(args.run or "")
        run_queue.move_up(run_dir)
        note = run_queue.queued_note(run_dir)
        if note is not None:  # else the move let it start at once
            print(msg("queue.moved", run=run_dir.name, place=note).text(args.lang), file=out)
        return ExitCode.OK
    waiting = run_queue.waiting_runs(ws.adapters_dir)
    if not waiting:
        print(msg("queue.empty").text(args.lang), file=out)
        return ExitCode.OK
    places = run_queue.positions(waiting)
    print(msg("queue.columns").text(args.lang), file=out)
    for entry in waiting:
        nth = say(run_queue.ordinal(places[entry.run_dir.name]), args.lang)
        devices = say(entry.claim.describe(), args.lang)
        since = entry.queued_at
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "–"
        print(f"{nth:<6} {entry.run_dir.name:<44} {devices:<8} {when}", file=out)
    return ExitCode.OK


COMMANDS = {"queue": cmd_queue}
