"""The chat and export commands of the CLI: `python launch.py chat RUN --prompt …` streams a reply
to stdout; `python launch.py export RUN` merges the adapter into adapters/<run>/merged/ as a job
of its own (`lorastudio.chat.export_job`), followed here unless `--detach`; `--stop` stops it."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from pathlib import Path
from typing import Literal, TextIO, get_args, get_origin

from lorastudio.chat.client import ChatClient
from lorastudio.chat.export_job import start_export, stop_export
from lorastudio.chat.params import ChatParams, check_messages, make_params
from lorastudio.chat.prompt_sets import PromptRow, check_prompts, recipe_prompts, run_prompt_set
from lorastudio.chat.setup import resolve_setup
from lorastudio.cli.exit_codes import ExitCode, for_state
from lorastudio.errors import ChatInputError, WorkerCrashedError
from lorastudio.messages import msg
from lorastudio.runs.export_status import (
    ExportState,
    ExportStatus,
    export_state_name,
    reconcile_export,
)
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import CHAT_LOG, EXPORT_LOG, MERGED_DIR, PROMPTS_FILE
from lorastudio.workspace import Workspace

# The export log lines worth showing (LLaMA-Factory's own messages, errors); all go to export.log.
_EXPORT_PROGRESS = re.compile(r"llamafactory\.[\w.]+:\d+ >> (.*)|^(\w*Error\b.*)")


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `chat` and `export` on the CLI's subcommand parser."""
    chat = sub.add_parser(
        "chat",
        help="Ask a trained run something; the reply streams to stdout.",
        description="Ask a trained run something. The base model, template, device and "
        "quantization come from the run's recipe. Exit status: 0 answered, 1 the worker failed, "
        "2 the input or the run was wrong.",
    )
    chat.add_argument("run", help="run id, unique part of it, or 'latest'")
    chat.add_argument("--prompt", help="what to ask (one user turn)")
    answer = chat.add_mutually_exclusive_group()
    answer.add_argument("--base", action="store_true", help="answer with the base model alone")
    answer.add_argument(
        "--both", action="store_true", help="answer with base + adapter, then the base alone"
    )
    answer.add_argument(
        "--prompt-set",
        action="store_true",
        help="answer the recipe's eval.prompts with both and save prompts.jsonl in the run",
    )
    for name, field in ChatParams.model_fields.items():
        choices = get_args(field.annotation) if get_origin(field.annotation) is Literal else None
        chat.add_argument(
            _flag(name),
            type=None if choices else field.annotation,
            choices=choices,
            help=f"{field.description} (default {field.default!r})",
        )
    chat.add_argument("--template", help="chat template (default: the one the run trained with)")
    chat.add_argument(
        "--force-template",
        action="store_true",
        help="use --template even though the adapter was trained with another (experts)",
    )
    chat.add_argument("--device", choices=["cpu", "cuda", "npu"], help="instead of the run's own")
    chat.add_argument("--model", help="another copy of the base model (folder or hub id)")

    export = sub.add_parser(
        "export",
        help="Merge a run's adapter into its base model (adapters/<run>/merged/), as a job.",
        description="Merge a run's adapter into its base model with llamafactory-cli export, "
        "into adapters/<run>/merged/. The export is a job of its own: closing the terminal does "
        "not stop it, and an export already under way is followed. Exit status: 0 merged, "
        "1 the merge failed, 2 the run (or the command) was wrong, 3 stopped.",
    )
    export.add_argument("run", help="run id, unique part of it, or 'latest'")
    export.add_argument("--model", help="another copy of the base model (folder or hub id)")
    how = export.add_mutually_exclusive_group()
    how.add_argument("--detach", action="store_true", help="start it and return at once")
    how.add_argument("--stop", action="store_true", help="stop the run's export under way")


def _params(args: argparse.Namespace) -> ChatParams:
    values = {name: getattr(args, name) for name in ChatParams.model_fields}
    return make_params(**values)


def _input_error(exc: ChatInputError, lang: str) -> int:
    """Each refused value, named by its flag (``--max-new-tokens``) where it has one."""
    flags = [*ChatParams.model_fields, "prompt"]
    for problem in exc.problems:
        field = _flag(problem.field) if problem.field in flags else problem.field
        print(f"error: {dataclasses.replace(problem, field=field).text(lang)}", file=sys.stderr)
    return ExitCode.USAGE


def cmd_chat(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    try:
        params = _params(args)
        if not args.prompt_set:  # a bad prompt is refused before any run is looked at
            check_messages([{"role": "user", "content": args.prompt or ""}])
        run_dir = RunIndex(ws.adapters_dir).find(args.run)
        prompts = check_prompts(recipe_prompts(run_dir)) if args.prompt_set else [args.prompt]
    except ChatInputError as exc:
        return _input_error(exc, args.lang)
    setup = resolve_setup(
        run_dir,
        template=args.template,
        force_template=args.force_template,
        device=args.device,
        model=args.model,
    )
    for note in setup.notes:
        print(f"note: {note.text(args.lang)}", file=sys.stderr)
    print(
        f"loading {setup.run_id} (base {setup.model}, template {setup.template}, {setup.device} "
        f"{setup.dtype})…",
        file=sys.stderr,
        flush=True,
    )
    client = ChatClient(log_path=run_dir / CHAT_LOG)
    try:
        client.load(setup)
        if args.prompt_set:
            _print_prompt_set(run_prompt_set(client, prompts, params), run_dir, out)
            return ExitCode.OK
        messages = [{"role": "user", "content": prompts[0]}]
        columns = [True, False] if args.both else [not args.base]
        for adapter in columns:
            if args.both:
                print("[adapter]" if adapter else "[base]", file=out, flush=True)
            for piece in client.stream(messages, params, adapter=adapter):
                out.write(piece)
                out.flush()
            print(file=out, flush=True)
        return ExitCode.OK
    except WorkerCrashedError as exc:
        print(f"error: {exc.text(args.lang)}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    finally:
        client.close()


def _print_prompt_set(rows: list[PromptRow], run_dir: Path, out: TextIO) -> None:
    for row in rows:  # answers without their thinking (prompts.jsonl keeps it apart)
        print(f"prompt:  {row.prompt}\nadapter: {row.adapter}\nbase:    {row.base}\n", file=out)
    print(f"saved {run_dir / PROMPTS_FILE}", file=out)


def cmd_export(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_dir = RunIndex(ws.adapters_dir).find(args.run)
    lang = args.lang
    if args.stop:
        print(msg("export.cli.stopping", run=run_dir.name).text(lang), file=out, flush=True)
        return _export_report(stop_export(run_dir), run_dir, lang, out)
    current = reconcile_export(run_dir)
    if current.live and not args.detach:  # one under way already: follow it
        state = export_state_name(current.state)
        print(msg("export.cli.following", run=run_dir.name, state=state).text(lang), file=out)
    else:
        start_export(run_dir, model=args.model)
        started = msg(
            "export.cli.started",
            run=run_dir.name,
            path=run_dir / MERGED_DIR,
            log=run_dir / EXPORT_LOG,
        )
        print(started.text(lang), file=out, flush=True)
    if args.detach:
        print(msg("export.cli.detached", run=run_dir.name).text(lang), file=out)
        return ExitCode.OK
    try:
        return _export_report(_follow_export(run_dir, out), run_dir, lang, out)
    except KeyboardInterrupt:
        print("\n" + msg("export.cli.ask").text(lang), end="", file=out, flush=True)
        try:
            choice = sys.stdin.readline()  # a closed stdin (nohup, CI) reads "" and detaches
        except (KeyboardInterrupt, OSError, ValueError):
            choice = "d"
        if choice.strip().lower().startswith("s"):
            print(msg("export.cli.stopping", run=run_dir.name).text(lang), file=out, flush=True)
            return _export_report(stop_export(run_dir), run_dir, lang, out)
        print(msg("export.cli.detached", run=run_dir.name).text(lang), file=out)
        return ExitCode.OK


def _follow_export(run_dir: Path, out: TextIO, interval: float = 0.3) -> ExportStatus:
    """Print LLaMA-Factory's own messages from export.log as they come, until the export ends;
    its final status."""
    offset, rest = 0, b""
    while True:
        status = reconcile_export(run_dir)
        try:
            with (run_dir / EXPORT_LOG).open("rb") as log:
                log.seek(offset)
                chunk = log.read()
        except OSError:
            chunk = b""
        offset += len(chunk)
        *lines, rest = re.split(rb"[\r\n]", rest + chunk)
        for line in lines:
            progress = _EXPORT_PROGRESS.search(line.decode("utf-8", errors="replace"))
            if progress:
                print(f"  {progress.group(1) or progress.group(2)}", file=out, flush=True)
        if not status.live:
            return status
        time.sleep(interval)


def _export_report(status: ExportStatus, run_dir: Path, lang: str, out: TextIO) -> int:
    """The export's end, said; the exit status it makes."""
    if status.state is ExportState.SUCCEEDED:
        done = msg(
            "export.cli.done",
            seconds=f"{status.seconds or 0:.1f}",
            path=run_dir / MERGED_DIR,
            files=", ".join(status.files or []),
            log=run_dir / EXPORT_LOG,
        )
        print(done.text(lang), file=out)
    else:
        state = export_state_name(status.state)
        reason = status.reason or ""
        ended = msg("export.cli.ended", run=run_dir.name, state=state, reason=reason)
        print(ended.text(lang), file=out if status.state is ExportState.STOPPED else sys.stderr)
    return for_state(status.state)


COMMANDS = {"chat": cmd_chat, "export": cmd_export}
