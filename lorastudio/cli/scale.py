"""The scale-out part of the CLI: the node flags of `train`/`compile` (``--node-rank 1
--master-addr HOST`` override ``hardware.nodes``), `check` (pre-flight only), `k8s` (render or
submit a Kubeflow PyTorchJob), and what `train` prints besides progress: pre-flight warnings and
the commands for the other nodes."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import TextIO

from lorastudio.checks.preflight import PreflightReport
from lorastudio.checks.validation import check_recipe_file
from lorastudio.cli.exit_codes import ExitCode
from lorastudio.cluster.multinode import NodeFlags, per_node_commands
from lorastudio.errors import Problem
from lorastudio.launch import launcher
from lorastudio.machine.hardware import detect
from lorastudio.models.memory import gib
from lorastudio.recipe.schema import Recipe
from lorastudio.runs.layout import PREFLIGHT_FILE
from lorastudio.runs.status import read_status
from lorastudio.workspace import Workspace


def add_node_flags(command: argparse.ArgumentParser) -> None:
    """``--nnodes/--node-rank/--master-addr/--master-port``: override ``hardware.nodes``."""
    group = command.add_argument_group("multi-node (override hardware.nodes)")
    group.add_argument("--nnodes", type=int, help="machines taking part (hardware.nodes.count)")
    group.add_argument("--node-rank", type=int, help="this machine's rank; 0 on the master")
    group.add_argument("--master-addr", help="address of the rank-0 machine")
    group.add_argument("--master-port", type=int, help="rendezvous port on the rank-0 machine")


def node_overrides(args: argparse.Namespace) -> list[str]:
    """The node flags as ``--set`` overrides (validated like any recipe field)."""
    flags = NodeFlags(args.nnodes, args.node_rank, args.master_addr, args.master_port)
    return flags.overrides()


def _print_problems(title: str, problems: list[Problem], out: TextIO, lang: str) -> None:
    if problems:
        print(title, file=out)
        for problem in problems:
            print(f"  - {problem.text(lang)}", file=out)


def print_launch_notes(run_dir: Path, recipe: Recipe, args: argparse.Namespace, out: TextIO):
    """Pre-flight warnings, and on node 0 of a multi-node run the other nodes' commands."""
    try:
        report = json.loads((run_dir / PREFLIGHT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = {}
    for warning in report.get("warnings", []):
        print(f"warning: {Problem.from_dict(warning).text(args.lang)}", file=out)
    nodes = recipe.hardware.nodes
    if nodes.count > 1 and nodes.rank == 0:
        extra = tuple(a for pair in args.overrides for a in ("--set", pair))
        print(f"node 0 of {nodes.count}; start the other nodes with:", file=out)
        for command in per_node_commands(recipe, args.recipe, extra)[1:]:
            print(f"  {command}", file=out)
    out.flush()


def progress_prefix(run_dir: Path) -> str | None:
    """For a node other than 0, the line shown instead of progress (rank 0 has the progress)."""
    status = read_status(run_dir)
    rank = status.node_rank
    if rank == 0:
        return None
    return (
        f"node {rank} of {status.nnodes}: progress and the adapter are on node 0 "
        f"({status.master_addr})"
    )


def add_scale_commands(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="Pre-flight only: devices, memory estimate, disk, versions (exit 2 on a problem).",
    )
    check.add_argument("recipe")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    check.add_argument("--json", action="store_true", help="machine-readable report")
    add_node_flags(check)
    k8s = sub.add_parser(
        "k8s",
        help="Render a Kubeflow PyTorchJob (+ ConfigMap) for a recipe; --submit sends it.",
    )
    k8s.add_argument("recipe")
    k8s.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    k8s.add_argument("--image", help="container image with LLaMA-Factory 0.9.5")
    k8s.add_argument("--namespace", default="default", help="Kubernetes namespace")
    k8s.add_argument("--pvc", default="lorastudio", help="claim holding data/ and adapters/")
    k8s.add_argument("--device", choices=["cuda", "npu", "cpu"], help="instead of the recipe's")
    k8s.add_argument("--cards-per-node", type=int, help="GPUs/NPUs per pod")
    k8s.add_argument("--nnodes", type=int, help="pods (hardware.nodes.count)")
    k8s.add_argument("--output", "-o", help="write the manifest here instead of stdout")
    k8s.add_argument("--submit", action="store_true", help="send it to the kubeconfig's cluster")
    k8s.add_argument("--context", help="kubeconfig context (default: the current one)")


def _describe_cards(report: PreflightReport) -> str:
    if not report.cards:
        return report.device
    names = ", ".join(dict.fromkeys(c.name for c in report.cards))
    ids = ",".join(str(c.index) for c in report.cards)
    free = min(c.memory_free_mib for c in report.cards) << 20
    return f"{len(report.cards)} × {names} (ids {ids}), at least {gib(free)} free each"


def cmd_check(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    recipe = check_recipe_file(args.recipe, ws, overrides=args.overrides + node_overrides(args))
    hardware = detect()
    target = launcher.plan_target(recipe, hardware)
    report = launcher.preflight(recipe, ws, target, ws.dataset_registry(), hardware)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str), file=out)
        return ExitCode.USAGE if report.problems else ExitCode.OK
    print(f"devices: {_describe_cards(report)}", file=out)
    if report.memory is not None:
        budget = f" of {gib(report.memory_budget)}" if report.memory_budget else ""
        print(f"memory:  {report.memory.describe()} per card{budget}", file=out)
    print(
        f"disk:    {gib(report.disk_free)} free, about {gib(report.disk_needed)} needed", file=out
    )
    versions = {k: v for k, v in report.versions.items() if v not in (None, "")}
    if versions:
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), file=out)
    for note in report.notes:
        print(f"note: {note}", file=out)
    _print_problems("warnings:", report.warnings, out, args.lang)
    _print_problems("problems (nothing would start):", report.problems, out, args.lang)
    if not report.problems:
        print(f"ready: python launch.py train {shlex.quote(args.recipe)}", file=out)
    return ExitCode.USAGE if report.problems else ExitCode.OK


def cmd_k8s(args: argparse.Namespace, ws: Workspace, out: TextIO) -> int:
    """Render the recipe's PyTorchJob + ConfigMap; with --submit, send them and record a run."""
    from lorastudio.cluster.pytorchjob import K8sOptions, draft_run_id, render

    overrides = list(args.overrides)
    if args.nnodes is not None:
        overrides.append(f"hardware.nodes.count={args.nnodes}")
    recipe = check_recipe_file(args.recipe, ws, overrides=overrides)
    options = K8sOptions(
        run_id=draft_run_id(recipe.name),
        image=args.image,
        namespace=args.namespace,
        pvc=args.pvc,
        device=args.device,
        cards_per_node=args.cards_per_node,
    )
    if not args.submit:
        manifest = render(recipe, options, ws, ws.dataset_registry())
        if args.output:
            Path(args.output).write_text(manifest.to_yaml(), encoding="utf-8")
        else:
            print(manifest.to_yaml(), end="", file=out)
        return ExitCode.OK
    from lorastudio.cluster.kubernetes import submit_new_run

    manifest, status = submit_new_run(recipe, options, ws, context=args.context)
    if args.output:
        Path(args.output).write_text(manifest.to_yaml(), encoding="utf-8")
    cluster = status.kubernetes or {}
    print(
        f"run {manifest.run_id} submitted: PyTorchJob {cluster['job']} in namespace "
        f"{cluster['namespace']} at {cluster['server']}",
        file=out,
    )
    print("follow it with: python launch.py runs   (logs: python launch.py logs RUN)", file=out)
    return ExitCode.OK
