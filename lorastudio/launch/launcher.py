"""Starts, stops and resumes runs. `create_run` checks the recipe against this machine and lays
out the run folder, queued when its devices are busy (`lorastudio.runs.queue`); `start` hands
it to a detached supervisor; `stop` and `resume` go to the run's backend
(`lorastudio.runs.backends`), and a stop of a queued run cancels it; nothing here waits on
training."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from lorastudio.checks.preflight import PreflightReport, run_preflight
from lorastudio.errors import RecipeError, RunError
from lorastudio.files import write_json_atomic
from lorastudio.llamafactory.compiler import Compiled, Target, compile_recipe
from lorastudio.machine.chips import has_bf16
from lorastudio.machine.hardware import (
    DeviceUnavailableError,
    Hardware,
    detect,
    device_id_problems,
    resolve_device,
)
from lorastudio.messages import msg
from lorastudio.recipe.schema import Recipe
from lorastudio.runs import queue as run_queue
from lorastudio.runs.backends import backend_for
from lorastudio.runs.datasets import record_data
from lorastudio.runs.layout import (
    PREFLIGHT_FILE,
    SUPERVISOR_LOG,
    command_script,
    create_run_dir,
    run_files,
    write_run_files,
)
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.occupancy import DeviceBusyError, claim_for, launch_lock
from lorastudio.runs.outcome import is_no_space
from lorastudio.runs.status import RunState, RunStatus, read_status, state_name, update_status
from lorastudio.workspace import Workspace

STARTED_TIMEOUT_S = 20.0


def plan_target(recipe: Recipe, hardware: Hardware) -> Target:
    """Resolve ``hardware.device`` on this machine and count the processes per node.

    Raises:
        RecipeError: when the recipe asks for devices this machine does not have.
    """
    spec = recipe.hardware
    try:
        device = resolve_device(spec.device, hardware)
    except DeviceUnavailableError as exc:
        raise RecipeError([exc.problem()]) from None
    problems = device_id_problems(device, spec.devices, hardware)
    if problems:
        raise RecipeError(problems)
    if device == "cpu":
        return Target("cpu", 1)
    chosen = [d for d in hardware.devices(device) if not spec.devices or d.index in spec.devices]
    # A card these rules do not know keeps bf16: LLaMA-Factory then decides with torch.
    bf16 = all(has_bf16(device, card.name) is not False for card in chosen)
    count = len(spec.devices) if spec.devices else len(chosen)
    card = min(chosen, key=lambda c: c.memory_free_mib, default=None)
    return Target(device, max(count, 1), bf16=bf16, card=card, kernels=hardware.kernels)


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


def _write_run_files(
    run_dir: Path,
    recipe: Recipe,
    compiled: Compiled,
    target: Target,
    workspace: Workspace,
    queued: dict,
) -> None:
    """The run's files and its first status: starting, or the ``queued`` fields."""
    write_run_files(run_dir, run_files(recipe, compiled, run_dir))
    now = time.time()
    state = queued or {"state": RunState.STARTING, "starting_since": now}
    update_status(
        run_dir,
        id=run_dir.name,
        name=recipe.name,
        **state,
        created_at=now,
        recipe_hash=recipe.content_hash(),
        device=target.device,
        processes_per_node=target.processes_per_node,
        attempt=1,
        **_node_fields(recipe),
        **_card_fields(compiled, target),
    )


def _card_fields(compiled: Compiled, target: Target) -> dict:
    """What the live view needs for MFU: the card's name and the model's parameters."""
    if target.card is None:
        return {}
    params = compiled.plan.model_params if compiled.plan is not None else None
    return {"card_name": target.card.name, "model_params": params}


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


def create_run(
    recipe: Recipe, workspace: Workspace, hardware: Hardware | None = None, queue: bool = True
) -> Path:
    """Check the recipe against this machine and lay out its run folder (nothing runs yet):
    state ``starting``, or ``queued`` when a live run holds its devices or an earlier queued
    run waits for them. The pre-flight report, warnings included, is written to its
    preflight.json.

    Args:
        queue: False refuses a run that would wait (a node of a multi-node run never waits:
            its nodes start together).

    Raises:
        RecipeError: a problem found before anything was created.
        DeviceBusyError: its devices are busy and it may not wait for them.
    """
    registry = workspace.dataset_registry()
    hardware = hardware if hardware is not None else detect()
    target = plan_target(recipe, hardware)
    report = preflight(recipe, workspace, target, registry, hardware)
    if report.problems:
        raise RecipeError(report.problems)
    nodes = recipe.hardware.nodes
    suffix = f"-node{nodes.rank}" if nodes.rank > 0 else ""
    adapters = workspace.adapters_dir
    with no_space_said(adapters), launch_lock(adapters):
        claim = claim_for(target.device, recipe.hardware.devices)
        blocked = run_queue.blocker(adapters, claim)
        if blocked is not None and (not queue or nodes.count > 1):
            raise DeviceBusyError(claim, *blocked)
        queued = run_queue.queue_fields(adapters, time.time()) if blocked is not None else {}
        run_dir = create_run_dir(adapters, recipe.name + suffix)
        try:
            compiled = compile_recipe(
                recipe, target=target, run_dir=run_dir, workspace=workspace, registry=registry
            )
            if queued:
                run_queue.keep_environment(run_dir)
            _write_run_files(run_dir, recipe, compiled, target, workspace, queued)
            record_data(run_dir, recipe, workspace)
            write_json_atomic(run_dir / PREFLIGHT_FILE, report.as_dict())
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # no half-made run folder is left behind
            raise
    return run_dir


@contextlib.contextmanager
def no_space_said(folder: Path) -> Iterator[None]:
    """A full disk met inside, said as a RunError naming the folder and the fix."""
    try:
        yield
    except OSError as exc:
        if not is_no_space(exc):
            raise
        raise RunError(msg("run.no_space", path=str(folder)), msg("fix.free_space")) from None


def start(run_dir: Path, timeout: float = STARTED_TIMEOUT_S) -> RunStatus:
    """Hand the run to a detached supervisor and return once it has taken over."""
    run_queue.spawn_supervisor(run_dir)
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = read_status(run_dir)
        if status.supervisor_pid and status.state is not RunState.STARTING:
            return status
        time.sleep(0.05)
    raise RunError(
        msg("run.no_supervisor", seconds=f"{timeout:.0f}"),
        msg("fix.see_log", path=str(run_dir / SUPERVISOR_LOG)),
    )


def launch(
    recipe: Recipe, workspace: Workspace, hardware: Hardware | None = None, queue: bool = True
) -> Path:
    """Create a run and start it; returns its folder as soon as the supervisor has it, or at
    once when the run is queued (its state says which; `lorastudio.runs.queue` starts it when
    its devices are free). Queued runs that are due go first.

    Raises:
        RecipeError: a problem found before anything was created.
        DeviceBusyError: its devices are busy and ``queue`` is False.
    """
    run_queue.kick(workspace.adapters_dir)  # a queue nobody served (a reboot) goes first
    run_dir = create_run(recipe, workspace, hardware, queue)
    if read_status(run_dir).state is RunState.QUEUED:
        return run_dir
    start(run_dir)
    return run_dir


def is_queued(run_dir: Path) -> bool:
    """Whether the run waits in the queue for its devices."""
    return read_status(run_dir).state is RunState.QUEUED


def wait_until_final(run_dir: Path, timeout: float | None = None) -> RunStatus:
    deadline = None if timeout is None else time.time() + timeout
    while True:
        status = reconcile(run_dir)
        if status.final:
            return status
        if deadline is not None and time.time() > deadline:
            return status
        time.sleep(0.2)


def stop(run_dir: Path, wait: bool = True, timeout: float | None = None) -> RunStatus:
    """Ask the run to stop: it saves the adapter trained so far, then every process ends. A
    queued run is cancelled (it never starts).

    Raises:
        RunError: the run is neither live nor queued.
    """
    status = reconcile(run_dir)
    if status.state is RunState.QUEUED:
        cancelled = run_queue.cancel(run_dir)
        if cancelled is not None:
            return cancelled
        status = reconcile(run_dir)  # it started meanwhile: stopped as any live run
    if not status.live:
        raise RunError(msg("run.not_running", run=run_dir.name, state=state_name(status.state)))
    return backend_for(status.backend).stop(run_dir, status, wait, timeout)


def resume(run_dir: Path) -> RunStatus:
    """Continue a stopped or failed run from its last checkpoint, keeping the step count and
    loss curve (how is its backend's business).

    Raises:
        RunError: the run is live, finished well, or has no checkpoint.
        DeviceBusyError: another live run holds its devices.
    """
    status = reconcile(run_dir)
    return backend_for(status.backend).resume(run_dir, status)
