"""The headless face of LoRA Studio:
`python launch.py validate|compile|train|runs|queue|logs|stop|resume|check|k8s|chat|export|
demo-data|data|models`.
Same engine as the studio; bad input exits with status 2 and a message, never a traceback, in
English or Chinese (`--lang zh` or LORASTUDIO_LANG=zh)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

import yaml

from lorastudio.checks.validation import check_recipe_file
from lorastudio.cli import chat as cli_chat
from lorastudio.cli import data as cli_data
from lorastudio.cli import datasets as cli_datasets
from lorastudio.cli import models as cli_models
from lorastudio.cli import queue as cli_queue
from lorastudio.cli.exit_codes import ExitCode, for_state
from lorastudio.cli.scale import (
    add_node_flags,
    add_scale_commands,
    cmd_check,
    cmd_k8s,
    node_overrides,
    print_launch_notes,
    progress_prefix,
)
from lorastudio.data.registry import pin_warnings
from lorastudio.errors import LoraStudioError, RecipeError
from lorastudio.launch import launcher
from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import Compiled, Target, compile_recipe
from lorastudio.llamafactory.speed import as_comment
from lorastudio.machine.hardware import detect
from lorastudio.messages import DEFAULT_LANGUAGE, LANGUAGES, msg, say
from lorastudio.recipe.schema import Recipe, recipe_fields
from lorastudio.runs import queue as run_queue
from lorastudio.runs.backends import backend_for
from lorastudio.runs.datasets import run_data
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import LOG_FILE, TRAINER_LOG, has_adapter
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.metrics import TrainerLogReader, tail_text
from lorastudio.runs.status import RunState, RunStatus, read_status
from lorastudio.workspace import Workspace

LANGUAGE_ENV = "LORASTUDIO_LANG"  # the language of messages when --lang is not given


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python launch.py",
        description="LoRA Studio: LoRA fine-tuning of Qwen models with LLaMA-Factory. "
        "Without a command, opens the studio in the browser.",
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=_language_from_env(),
        help=f"language of problems and errors (default: ${LANGUAGE_ENV}, else en); "
        "give it before the command: python launch.py --lang zh validate RECIPE",
    )
    sub = parser.add_subparsers(dest="command")

    def recipe_command(name: str, help_text: str, many: bool = False) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "recipes" if many else "recipe",
            nargs="+" if many else None,
            help="recipe YAML file" + ("s" if many else ""),
        )
        command.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a field, e.g. train.max_steps=50",
        )
        return command

    recipe_command("validate", "Check recipes; list every problem (exit 2 if any).", many=True)
    compile_cmd = recipe_command("compile", "Print the LLaMA-Factory config, command and env.")
    compile_cmd.add_argument(
        "--device",
        choices=["cpu", "cuda", "npu"],
        help="compile for this device instead of this machine's",
    )
    compile_cmd.add_argument(
        "--check",
        action="store_true",
        help="also run LLaMA-Factory's own argument parser on the result",
    )
    add_node_flags(compile_cmd)
    train = recipe_command("train", "Start a training run (foreground with progress, or detached).")
    train.add_argument("--detach", action="store_true", help="return at once with the run id")
    train.add_argument(
        "--no-queue",
        action="store_true",
        help="refuse, rather than queue, when a live run holds the devices it needs",
    )
    add_node_flags(train)

    runs = sub.add_parser("runs", help="List runs: id, name, status, steps, loss, adapter.")
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    logs = sub.add_parser("logs", help="Show a run's log.")
    logs.add_argument("run", help="run id, unique part of it, or 'latest'")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    stop = sub.add_parser(
        "stop", help="Stop a run (the adapter trained so far is saved), or cancel a queued one."
    )
    stop.add_argument("run")
    stop.add_argument("--no-wait", action="store_true", help="return without waiting")
    resume = sub.add_parser("resume", help="Continue a stopped or failed run from its checkpoint.")
    resume.add_argument("run")
    resume.add_argument("--detach", action="store_true")
    add_scale_commands(sub)
    cli_chat.add_commands(sub)
    cli_data.add_commands(sub)
    cli_datasets.add_commands(sub)
    cli_models.add_commands(sub)
    cli_queue.add_commands(sub)
    sub.add_parser("templates", help="List the chat templates LLaMA-Factory knows.")
    sub.add_parser("fields", help="List every recipe field with its default and help text.")
    return parser


def _language_from_env() -> str:
    language = os.environ.get(LANGUAGE_ENV, "").strip().lower()
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _load(path: str, overrides: list[str], workspace: Workspace) -> Recipe:
    return check_recipe_file(path, workspace, overrides=overrides)


def cmd_validate(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    status = ExitCode.OK
    for path in args.recipes:
        try:
            recipe = _load(path, args.overrides, ws)
        except RecipeError as exc:
            print(f"{path}: {exc.text(args.lang)}", file=out)
            status = ExitCode.USAGE
        else:
            print(f"{path}: OK ({recipe.name}, hash {recipe.content_hash()})", file=out)
            for warning in pin_warnings(recipe.data.datasets, ws):
                print(f"  warning: {warning}", file=out)
    return status


def cmd_compile(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    recipe = _load(args.recipe, args.overrides + node_overrides(args), ws)
    if args.device:
        count = len(recipe.hardware.devices or []) or 1
        target = Target(args.device, 1 if args.device == "cpu" else count)
    else:
        target = launcher.plan_target(recipe, detect())
    run_dir = ws.adapters_dir / "<run-id>"
    compiled = compile_recipe(
        recipe, target=target, run_dir=run_dir, workspace=ws, registry=ws.dataset_registry()
    )
    print(f"# {run_dir}/llamafactory.yaml", file=out)
    if compiled.plan is not None:
        print(as_comment(compiled.plan.describe(), args.lang), end="", file=out)
    print(yaml.safe_dump(compiled.args, sort_keys=False, allow_unicode=True), file=out)
    print(f"# {run_dir}/dataset_info.json", file=out)
    print(json.dumps(compiled.dataset_info, indent=2, ensure_ascii=False), file=out)
    if compiled.deepspeed:
        print(f"\n# {run_dir}/ds_config.json", file=out)
        print(json.dumps(compiled.deepspeed, indent=2), file=out)
    print("\n# command (run in the run folder)", file=out)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in compiled.env.items())
    print(f"{env} {shlex.join(compiled.argv)}", file=out)
    if args.check:
        return _check_with_llamafactory(compiled, target, out)
    return ExitCode.OK


def _check_with_llamafactory(compiled: Compiled, target: Target, out: TextIO) -> int:
    """Run LLaMA-Factory's parser as far as this machine can: a GPU/NPU recipe checked where
    that device is missing gets the device-free level (transformers refuses bf16 there)."""
    from lorastudio.llamafactory.parser_check import ArgsCheck, check_train_args_many

    if target.device == "cpu":
        level, checked = "full", "every check"
    elif detect().devices(target.device):
        level, checked = "parse", "the dataclass parse"
    else:
        level, checked = "types", f"keys, types and choices; no {target.device} here for more"
    (error,) = check_train_args_many([ArgsCheck(compiled.args, compiled.env, level)])
    print(f"\n# LLaMA-Factory's parser ({checked}): {error or 'accepted'}", file=out)
    return ExitCode.USAGE if error else ExitCode.OK


def _progress_line(reader: TrainerLogReader, state: str) -> str:
    if not reader.points:
        return f"[{state}] loading model and data…"
    last = reader.points[-1]
    losses = [p.loss for p in reader.points if p.loss is not None]
    total = max(last.total_steps, 1)
    filled = int(24 * min(last.step, total) / total)
    bar = "█" * filled + "░" * (24 - filled)
    loss = f"loss {losses[-1]:.4f}" if losses else "loss –"
    clock = reader.clock()  # over every attempt of a resumed run
    return (
        f"[{state}] {last.step}/{last.total_steps} {bar} {100 * last.step / total:3.0f}%  "
        f"{loss}  elapsed {clock.elapsed or '–'}  ETA {clock.remaining or '–'}"
    )


KICK_SECONDS = 2.0  # how often a run waiting in the queue serves the queue itself


def _queued_line(run_dir: Path, lang: str) -> str | None:
    """The line of a run waiting in the queue (None once it is not)."""
    note = run_queue.queued_note(run_dir)
    return msg("queue.waiting", place=note).text(lang) if note is not None else None


def follow_run(run_dir: Path, out: TextIO, interval: float = 0.5, lang: str = "en") -> RunStatus:
    """Print progress until the run ends; returns its final status. While the run is queued
    it serves the queue now and then, so it starts even if no supervisor hands over."""
    reader = TrainerLogReader(run_dir / TRAINER_LOG)
    tty = out.isatty()
    printed = None
    elsewhere = progress_prefix(run_dir)
    kicked = 0.0
    while True:
        reader.poll()
        status = reconcile(run_dir)
        state = status.state.value
        queued = _queued_line(run_dir, lang) if status.state is RunState.QUEUED else None
        if queued is not None and time.monotonic() - kicked >= KICK_SECONDS:
            kicked = time.monotonic()
            if run_queue.kick(run_dir.parent):
                continue  # started: show its state at once
        line = f"[{state}] {elsewhere}" if elsewhere else _progress_line(reader, state)
        line = queued or line
        if line != printed:
            print(
                ("\r\x1b[2K" + line) if tty else line, end="" if tty else "\n", file=out, flush=True
            )
            printed = line
        if status.final:
            if tty:
                print(file=out)
            return status
        time.sleep(interval)


def _report(status: RunStatus, run_dir: Path, out: TextIO) -> int:
    lang = _language_from_env()
    reason = status.reason_text(lang)
    if status.fell_back is not None:  # the safer plan after an early out-of-memory
        print(status.fell_back.text(lang), file=out)
    print(f"run {run_dir.name}: {status.state}" + (f" — {reason}" if reason else ""), file=out)
    if status.final and status.node_rank == 0 and has_adapter(run_dir):
        print(f"adapter: {run_dir}", file=out)
    return for_state(status.state)


def _watch(run_dir: Path, out: TextIO, lang: str = "en") -> int:
    """Follow a run in the foreground; Ctrl-C asks whether to stop it or detach from it."""
    try:
        return _report(follow_run(run_dir, out, lang=lang), run_dir, out)
    except KeyboardInterrupt:
        if launcher.is_queued(run_dir):
            return _leave_the_queue(run_dir, out, lang)
        print(
            "\nStop the run (s) or detach and leave it running (d)? [d] ",
            end="",
            file=out,
            flush=True,
        )
        try:
            choice = sys.stdin.readline()  # a closed stdin (nohup, CI) reads "" and detaches
        except (KeyboardInterrupt, OSError, ValueError):
            choice = "d"
        if choice.strip().lower().startswith("s"):
            print(f"stopping {run_dir.name} (saving the adapter trained so far)…", file=out)
            return _report(launcher.stop(run_dir), run_dir, out)
        print(
            f"\ndetached; the run goes on. Follow it with: python launch.py logs {run_dir.name} "
            "--follow",
            file=out,
        )
        return ExitCode.OK


def _leave_the_queue(run_dir: Path, out: TextIO, lang: str) -> int:
    """Ctrl-C while the run waits in the queue: cancel it, or leave it queued."""
    print("\n" + msg("queue.interrupted").text(lang) + " ", end="", file=out, flush=True)
    try:
        choice = sys.stdin.readline()  # a closed stdin (nohup, CI) reads "" and leaves it
    except (KeyboardInterrupt, OSError, ValueError):
        choice = "d"
    if choice.strip().lower().startswith("c"):
        return _report(launcher.stop(run_dir), run_dir, out)
    print(msg("queue.left", run=run_dir.name).text(lang), file=out)
    return ExitCode.OK


def cmd_train(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    recipe = _load(args.recipe, args.overrides + node_overrides(args), ws)
    run_dir = launcher.launch(recipe, ws, queue=not args.no_queue)
    queued = cli_queue.queued_line(run_dir.name, args.lang, ws.adapters_dir)
    print(queued or f"run {run_dir.name} started ({run_dir})", file=out, flush=True)
    print_launch_notes(run_dir, recipe, args, out)
    if args.detach:
        print(run_dir.name, file=out)
        return ExitCode.OK
    return _watch(run_dir, out, args.lang)


def cmd_runs(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_queue.kick(ws.adapters_dir)  # a queue nobody served (a killed supervisor) moves on
    infos = RunIndex(ws.adapters_dir).sync()
    places = run_queue.positions(run_queue.waiting_runs(ws.adapters_dir))
    if args.json:
        rows = [
            asdict(i)
            | {"duration": i.duration, "data": run_data(ws.adapters_dir / i.id)}
            | {"queue_position": places.get(i.id)}
            for i in infos
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False), file=out)
        return ExitCode.OK
    if not infos:
        print(
            "no runs yet; start one with: python launch.py train recipes/cpu-smoke.yaml", file=out
        )
        return ExitCode.OK
    print(f"{'RUN':<44} {'STATUS':<14} {'STEPS':>11} {'LOSS':>8}  ADAPTER", file=out)
    for info in infos:
        loss = f"{info.final_loss:.4f}" if info.final_loss is not None else "–"
        steps = f"{info.step}/{info.total_steps}"
        adapter = "yes" if info.adapter else "–"
        state = info.state.value
        if info.id in places:  # queued: its place in line for its devices
            state += f" ({say(run_queue.ordinal(places[info.id]), args.lang)})"
        print(f"{info.id:<44} {state:<14} {steps:>11} {loss:>8}  {adapter}", file=out)
    for info in infos:  # a status.json that could not be read: where it is, what was done
        reason = info.reason_message
        if reason is not None and reason.key == "reason.status_damaged":
            print(f"{info.id}: {reason.text(args.lang)}", file=out)
    return ExitCode.OK


def cmd_logs(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_dir = RunIndex(ws.adapters_dir).find(args.run)
    status = read_status(run_dir)
    remote = backend_for(status.backend).log_text(run_dir, status)
    if remote is not None:  # a run on a cluster: its master pod's log
        print(remote, end="" if remote.endswith("\n") else "\n", file=out)
        return ExitCode.OK
    log = run_dir / LOG_FILE
    print(tail_text(log), end="", file=out, flush=True)
    if not args.follow:
        return ExitCode.OK
    offset = log.stat().st_size if log.exists() else 0
    kicked = 0.0
    while True:
        status = reconcile(run_dir)
        if status.state is RunState.QUEUED and time.monotonic() - kicked >= KICK_SECONDS:
            kicked = time.monotonic()  # it waits for its turn, and serves the queue meanwhile
            run_queue.kick(run_dir.parent)
        final = status.final
        size = log.stat().st_size if log.exists() else 0
        if size > offset:
            with log.open("rb") as handle:
                handle.seek(offset)
                print(
                    handle.read(size - offset).decode("utf-8", "replace"),
                    end="",
                    file=out,
                    flush=True,
                )
            offset = size
        if final:
            return _report(reconcile(run_dir), run_dir, out)
        time.sleep(0.3)


def cmd_stop(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_dir = RunIndex(ws.adapters_dir).find(args.run)
    status = launcher.stop(run_dir, wait=not args.no_wait)
    return _report(status, run_dir, out) if not args.no_wait else ExitCode.OK


def cmd_resume(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    run_dir = RunIndex(ws.adapters_dir).find(args.run)
    status = launcher.resume(run_dir)
    print(
        f"run {run_dir.name} resumed (attempt {status.attempt}, from {status.resumed_from})",
        file=out,
        flush=True,
    )
    return ExitCode.OK if args.detach else _watch(run_dir, out)


def cmd_templates(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    print("\n".join(sorted(llamafactory_spec.known_templates())), file=out)
    return ExitCode.OK


def cmd_fields(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    for field in recipe_fields():
        default = "(required)" if field.required else json.dumps(field.default)
        print(f"{field.path:<24} {field.type_name:<34} {default:<14} {field.help}", file=out)
    return ExitCode.OK


COMMANDS = {
    "validate": cmd_validate,
    "compile": cmd_compile,
    "train": cmd_train,
    "runs": cmd_runs,
    "logs": cmd_logs,
    "stop": cmd_stop,
    "resume": cmd_resume,
    "check": cmd_check,
    "k8s": cmd_k8s,
    "templates": cmd_templates,
    "fields": cmd_fields,
    **cli_chat.COMMANDS,
    **cli_data.COMMANDS,
    **cli_datasets.COMMANDS,
    **cli_models.COMMANDS,
    **cli_queue.COMMANDS,
}


def main(argv: list[str] | None = None, root: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Run one CLI command; returns the process exit status."""
    args = _parser().parse_args(argv)
    workspace = Workspace.from_env(root)
    if args.command is None:
        _parser().print_help(out)
        return ExitCode.OK
    try:
        return COMMANDS[args.command](args, workspace, out)
    except RecipeError as exc:
        print(exc.text(args.lang), file=sys.stderr)
        return ExitCode.USAGE
    except LoraStudioError as exc:
        print(f"error: {exc.text(args.lang)}", file=sys.stderr)
        return ExitCode.USAGE
