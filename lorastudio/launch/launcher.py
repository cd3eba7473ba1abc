"""Starts, stops and resumes runs. `create_run` checks the recipe against this machine and lays
out the run folder; `start` hands it to a detached supervisor; nothing here waits on training.
This is the one module that spawns the supervisor (argv lists, never a shell)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import time
from pathlib import Path

import yaml

from lorastudio import processes
from lorastudio.checks.preflight import PreflightReport, run_preflight
from lorastudio.errors import Problem, RecipeError, RunError
from lorastudio.llamafactory.compiler import (
    CONFIG_FILE,
    DATASET_INFO_FILE,
    DEEPSPEED_FILE,
    Compiled,
    Target,
    compile_recipe,
)
from lorastudio.machine.chips import has_bf16
from lorastudio.machine.hardware import (
    DeviceUnavailableError,
    Hardware,
    check_device_ids,
    detect,
    resolve_device,
)
from lorastudio.recipe.schema import Recipe, dump_recipe
from lorastudio.runs.datasets import record_data
from lorastudio.runs.index import (
    COMMAND_FILE,
    FINAL_STATES,
    LAUNCH_FILE,
    LIVE_STATES,
    PREFLIGHT_FILE,
    RECIPE_FILE,
    create_run_dir,
    read_status,
    reconcile,
    update_status,
    write_json_atomic,
    write_text_atomic,
)
from lorastudio.runs.occupancy import claim_for, ensure_free, launch_lock, run_claim
from lorastudio.workspace import Workspace


def plan_target(recipe: Recipe, hardware: Hardware) -> Target:
    """Resolve ``hardware.device`` on this machine and count the processes per node.

    Raises:
        RecipeError: when the recipe asks for devices this machine does not have.
    """
    spec = recipe.hardware
    try:
        device = resolve_device(spec.device, hardware)
    except DeviceUnavailableError as exc:
        raise RecipeError(
            [
                Problem(
                    "hardware.device",
                    spec.device,
                    "is not available here",
                    str(exc).replace(". Fix: ", "; ", 1),  # Problem says "Fix:" itself
                )
            ]
        ) from None
    problems = [
        Problem("hardware.devices", spec.devices, "does not match this machine", message)
        for message in check_device_ids(device, spec.devices, hardware)
    ]
    if problems:
        raise RecipeError(problems)
    if device == "cpu":
        return Target("cpu", 1)
    chosen = [d for d in hardware.devices(device) if not spec.devices or d.index in spec.devices]
    # A card these rules do not know keeps bf16: LLaMA-Factory then decides with torch.
    bf16 = all(has_bf16(device, card.name) is not False for card in chosen)
    count = len(spec.devices) if spec.devices else len(chosen)
    return Target(device, max(count, 1), bf16=bf16)


def preflight(
    recipe: Recipe,
    workspace: Workspace,
    target: Target,
    registry: dict,
    hardware: Hardware | None = None,
) -> PreflightReport:
    """What would make the run fail on this machine, found before anything starts (see
    `lorastudio.checks.preflight`); ``report.problems`` stop a launch, warnings do not."""
    hardware = hardware if hardware is not None else detect()
    return run_preflight(recipe, workspace, target, hardware, registry)


def command_script(compiled: Compiled, run_dir: Path) -> str:
    """The exact command the supervisor runs, as a shell script a person can read or re-run."""
    lines = [
        "#!/usr/bin/env bash",
        "# The command LoRA Studio's supervisor runs for this run (re-run it by hand if you like).",
        f"cd {shlex.quote(str(run_dir))}",
        *(f"export {key}={shlex.quote(value)}" for key, value in compiled.env.items()),
        "exec " + shlex.join(compiled.argv),
    ]
    return "\n".join(lines) + "\n"


def _write_run_files(run_dir: Path, recipe: Recipe, compiled: Compiled, target: Target) -> None:
    write_text_atomic(run_dir / RECIPE_FILE, dump_recipe(recipe))
    write_text_atomic(
        run_dir / CONFIG_FILE, yaml.safe_dump(compiled.args, sort_keys=False, allow_unicode=True)
    )
    write_json_atomic(run_dir / DATASET_INFO_FILE, compiled.dataset_info)
    if compiled.deepspeed is not None:
        write_json_atomic(run_dir / DEEPSPEED_FILE, compiled.deepspeed)
    write_json_atomic(
        run_dir / LAUNCH_FILE, {"argv": compiled.argv, "env": compiled.env, "cwd": str(run_dir)}
    )
    write_text_atomic(run_dir / COMMAND_FILE, command_script(compiled, run_dir))
    update_status(
        run_dir,
        id=run_dir.name,
        name=recipe.name,
        state="starting",
        starting_since=time.time(),
        created_at=time.time(),
        recipe_hash=recipe.content_hash(),
        device=target.device,
        processes_per_node=target.processes_per_node,
        attempt=1,
        **_node_fields(recipe),
    )


def _node_fields(recipe: Recipe) -> dict:
    """What a run folder records about its place among several nodes."""
    nodes = recipe.hardware.nodes
    if nodes.count == 1:
        return {}
    return {
        "node_rank": nodes.rank,
        "nnodes": nodes.count,
        "master_addr": nodes.master_addr,
        "master_port": nodes.master_port,
    }


def preview(recipe: Recipe, workspace: Workspace, hardware: Hardware) -> tuple[Compiled, str]:
    """What a run of this recipe would be given on this machine: the compiled config and the
    exact command script, with ``<run-id>`` where the run's folder name will go.

    Raises:
        RecipeError: the recipe asks for devices this machine does not have.
    """
    target = plan_target(recipe, hardware)
    run_dir = workspace.adapters_dir / "<run-id>"
    compiled = compile_recipe(
        recipe,
        target=target,
        run_dir=run_dir,
        workspace=workspace,
        registry=workspace.dataset_registry(),
    )
    return compiled, command_script(compiled, run_dir)


def create_run(recipe: Recipe, workspace: Workspace, hardware: Hardware | None = None) -> Path:
    """Check the recipe against this machine and lay out its run folder (nothing runs yet).
    The pre-flight report, warnings included, is written to its preflight.json.

    Raises:
        RecipeError: a problem found before anything was created.
        DeviceBusyError: a live run holds the devices this run needs.
    """
    registry = workspace.dataset_registry()
    hardware = hardware if hardware is not None else detect()
    target = plan_target(recipe, hardware)
    report = preflight(recipe, workspace, target, registry, hardware)
    if report.problems:
        raise RecipeError(report.problems)
    nodes = recipe.hardware.nodes
    suffix = f"-node{nodes.rank}" if nodes.rank > 0 else ""
    with launch_lock(workspace.adapters_dir):
        ensure_free(workspace.adapters_dir, claim_for(target.device, recipe.hardware.devices))
        run_dir = create_run_dir(workspace.adapters_dir, recipe.name + suffix)
        try:
            compiled = compile_recipe(
                recipe, target=target, run_dir=run_dir, workspace=workspace, registry=registry
            )
            _write_run_files(run_dir, recipe, compiled, target)
            record_data(run_dir, recipe, workspace)
            write_json_atomic(run_dir / PREFLIGHT_FILE, report.as_dict())
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run folder is left behind
            raise
    return run_dir


def start(run_dir: Path, timeout: float = 20.0) -> dict:
    """Hand the run to a detached supervisor and return once it has taken over."""
    started = processes.run(
        processes.python_module("lorastudio.runs.supervisor", "--daemon", str(run_dir)), 60
    )
    if started.returncode != 0:
        raise RunError(f"the run's supervisor could not be started: {started.stderr.strip()}")
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = read_status(run_dir)
        if status.get("supervisor_pid") and status.get("state") != "starting":
            return status
        time.sleep(0.05)
    raise RunError(
        f"the run's supervisor did not start within {timeout:.0f} s; see "
        f"{run_dir / 'supervisor.log'}"
    )


def launch(recipe: Recipe, workspace: Workspace, hardware: Hardware | None = None) -> Path:
    """Create a run and start it; returns its folder as soon as the supervisor has it."""
    run_dir = create_run(recipe, workspace, hardware)
    start(run_dir)
    return run_dir


def wait_until_final(run_dir: Path, timeout: float | None = None) -> dict:
    deadline = None if timeout is None else time.time() + timeout
    while True:
        status = reconcile(run_dir)
        if status.get("state") in FINAL_STATES:
            return status
        if deadline is not None and time.time() > deadline:
            return status
        time.sleep(0.2)


def stop(run_dir: Path, wait: bool = True, timeout: float | None = None) -> dict:
    """Ask the run to stop: it saves the adapter trained so far, then every process ends.

    Raises:
        RunError: the run is not live.
    """
    status = reconcile(run_dir)
    if status.get("state") not in LIVE_STATES:
        raise RunError(f"run {run_dir.name} is not running (it is {status.get('state')})")
    if status.get("backend") == "kubernetes":
        from lorastudio.cluster.kubernetes import stop as stop_job

        return stop_job(run_dir)
    supervisor = status.get("supervisor_pid")
    try:
        os.kill(supervisor, signal.SIGTERM)
    except (ProcessLookupError, TypeError):
        # No supervisor (it was killed): end the trainer's group ourselves and record it.
        pgid = status.get("pgid")
        if isinstance(pgid, int):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        return update_status(
            run_dir,
            state="stopped",
            ended_at=time.time(),
            reason="stopped by request (its supervisor was gone; trainer killed)",
        )
    return wait_until_final(run_dir, timeout) if wait else read_status(run_dir)


def latest_checkpoint(run_dir: Path) -> Path | None:
    checkpoints = [
        p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()
    ]
    return max(checkpoints, key=lambda p: int(p.name.split("-")[-1]), default=None)


def resume(run_dir: Path) -> dict:
    """Continue a stopped or failed run from its last checkpoint (LLaMA-Factory resumes by
    itself when the output folder has one), keeping the step count and loss curve.

    Raises:
        RunError: the run is live, finished well, or has no checkpoint.
        DeviceBusyError: another live run holds its devices.
    """
    status = reconcile(run_dir)
    state = status.get("state")
    if status.get("backend") == "kubernetes":
        raise RunError(
            f"run {run_dir.name} ran on Kubernetes; submit its recipe again with "
            f"`python launch.py k8s {run_dir / RECIPE_FILE} --submit`"
        )
    if status.get("nnodes", 1) > 1:
        raise RunError(
            f"run {run_dir.name} is one node of a multi-node run, which cannot be resumed yet: "
            "every node keeps its own run folder, and only node 0's checkpoints hold the adapter "
            "and optimizer state; start the run again on every node"
        )
    if state in LIVE_STATES:
        raise RunError(f"run {run_dir.name} is still {state}")
    if state == "succeeded":
        raise RunError(f"run {run_dir.name} already finished; start a new run to train more")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        recipe = yaml.safe_load((run_dir / RECIPE_FILE).read_text())
        every = recipe.get("train", {}).get("save_steps")
        raise RunError(
            f"run {run_dir.name} has no checkpoint to resume from (one is written every "
            f"train.save_steps={every} steps); start it again with `python launch.py train`"
        )
    claim = run_claim(run_dir)
    with launch_lock(run_dir.parent):
        if claim is not None:
            ensure_free(run_dir.parent, claim, exclude=run_dir)
        _mark_resuming(run_dir, status, checkpoint)
    return start(run_dir)


def _mark_resuming(run_dir: Path, status: dict, checkpoint: Path) -> None:
    update_status(
        run_dir,
        state="starting",
        starting_since=time.time(),
        attempt=int(status.get("attempt", 1)) + 1,
        resumed_from=checkpoint.name,
        resumed_from_step=int(checkpoint.name.split("-")[-1]),
        reason="",
        ended_at=None,
        exit_code=None,
        stop_requested_at=None,
        supervisor_pid=None,
    )
