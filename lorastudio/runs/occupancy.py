"""Which live run holds which devices, so two runs share a machine only on different devices
(a run that finds its devices held waits in the queue, `lorastudio.runs.queue`).

A run claims the cards its recipe names (``hardware.devices``), or every card of its kind when
it names none; the CPU counts as one device. A run whose device is not known (a damaged
status.json, a recipe that says ``auto``) claims every device. The CLI's `train`/`resume` and
the studio both start runs through `launcher`, which asks `lorastudio.runs.queue.blocker` under
`launch_lock` before it creates or restarts a run, so two starts at the same moment cannot both
win.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from lorastudio.errors import RunError
from lorastudio.messages import Msg, msg
from lorastudio.runs.index import RunIndex
from lorastudio.runs.layout import RECIPE_FILE
from lorastudio.runs.liveness import reconcile
from lorastudio.runs.status import Backend, RunState, read_status, state_name

LOCK_FILE = ".launch.lock"
ANY = "any"  # the device of a run whose folder does not say: it may hold any of them
KINDS = ("cpu", "cuda", "npu")


@dataclass(frozen=True)
class Claim:
    """Devices a run uses: a kind (cpu, cuda, npu) and card ids (None: every card)."""

    device: str
    ids: frozenset[int] | None = None

    def overlaps(self, other: Claim) -> bool:
        if ANY in (self.device, other.device):
            return True
        if self.device != other.device:
            return False
        if self.ids is None or other.ids is None:
            return True
        return bool(self.ids & other.ids)

    def describe(self) -> str | Msg:
        if self.device == ANY:
            return msg("device.any")
        if self.device == "cpu" or self.ids is None:
            return self.device
        return f"{self.device} {', '.join(str(i) for i in sorted(self.ids))}"


class DeviceBusyError(RunError):
    """A live run already holds (some of) the devices a new run asks for."""

    def __init__(self, claim: Claim, holder: str, state: RunState):
        self.claim, self.holder, self.state = claim, holder, state
        # a queued holder does not hold the devices yet: it is first in line for them
        key = "run.device_queued" if state is RunState.QUEUED else "run.device_busy"
        super().__init__(
            msg(key, devices=claim.describe(), holder=holder, state=state_name(state)),
            msg("fix.device_busy", holder=holder),
        )


def claim_for(device: str, ids: list[int] | None) -> Claim:
    """The claim of a run on ``device`` (resolved: cpu, cuda or npu) with these card ids."""
    if device == "cpu":
        return Claim("cpu")
    return Claim(device, frozenset(ids) if ids else None)


def run_claim(run_dir: Path) -> Claim | None:
    """What a run folder's run holds on this machine: the device in its status, else the one
    its recipe names, else every device; None for a run on a cluster."""
    status = read_status(run_dir)
    if status.backend is not Backend.LOCAL:
        return None
    try:
        recipe = yaml.safe_load((run_dir / RECIPE_FILE).read_text(encoding="utf-8")) or {}
        hardware = recipe.get("hardware") or {}
        named, ids = hardware.get("device"), hardware.get("devices")
    except (OSError, yaml.YAMLError, AttributeError):
        named, ids = None, None
    device = status.device or (named if named in KINDS else ANY)
    return claim_for(device, ids if isinstance(ids, list) else None)


def holder_of(adapters_dir: Path, claim: Claim, exclude: Path | None = None) -> Path | None:
    """The live run (other than ``exclude``) whose devices overlap ``claim``, if any."""
    for run_dir in RunIndex(adapters_dir).run_dirs():
        if exclude is not None and run_dir.resolve() == exclude.resolve():
            continue
        if not reconcile(run_dir).live:
            continue
        held = run_claim(run_dir)
        if held is not None and held.overlaps(claim):
            return run_dir
    return None


def held_claims(adapters_dir: Path) -> list[Claim]:
    """What every live run on this machine holds."""
    held = []
    for run_dir in RunIndex(adapters_dir).run_dirs():
        if reconcile(run_dir).live:
            claim = run_claim(run_dir)
            if claim is not None:
                held.append(claim)
    return held


@contextlib.contextmanager
def launch_lock(adapters_dir: Path) -> Iterator[None]:
    """Serialize check-then-start across processes (studio sessions, CLI) on this machine."""
    adapters_dir.mkdir(parents=True, exist_ok=True)
    with (adapters_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
