"""Owns finding out which accelerators (NVIDIA GPUs, Ascend NPUs) and CPUs this machine has.

Detection runs ``nvidia-smi`` and ``npu-smi`` as subprocesses and parses their text, so this
module never imports torch, torch_npu, transformers or gradio. Nothing runs at import time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from lorastudio import processes
from lorastudio.errors import LoraStudioError, Problem
from lorastudio.messages import Msg, msg

SMI_TIMEOUT_S = 10.0
NVIDIA_SMI_CSV_ARGV = [
    "nvidia-smi",
    "--query-gpu=index,name,memory.total,memory.used",
    "--format=csv,noheader,nounits",
]
NVIDIA_SMI_TABLE_ARGV = ["nvidia-smi"]
NPU_SMI_ARGV = ["npu-smi", "info"]

_TOOLS = {"cuda": "nvidia-smi", "npu": "npu-smi info"}
_VISIBILITY_VARS = {"cuda": "CUDA_VISIBLE_DEVICES", "npu": "ASCEND_RT_VISIBLE_DEVICES"}

# nvidia-smi table: "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:18:00.0 Off |  0 |"
_NV_GPU_CELL = re.compile(r"^(\d+)\s+(.+?)\s+(?:On|Off|N/A|WDDM|TCC)$")
_NV_MEMORY = re.compile(r"(\d+)\s*MiB\s*/\s*(\d+)\s*MiB")
# npu-smi: first row "| 0     910B3   | OK | ...", second row "| 0   [Phy-ID] | 0000:C1:00.0 | ..."
_NPU_NAME_CELL = re.compile(r"^(\d+)\s+(\S.*)$")
_NPU_CHIP_CELL = re.compile(r"^\d+(?:\s+\d+)?$")
_PCI_BUS_ID = re.compile(r"^[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f]$")
_USED_TOTAL = re.compile(r"(\d+)\s*/\s*(\d+)")


@dataclass(frozen=True)
class Accelerator:
    """One accelerator device as a training process would address it.

    Attributes:
        kind: ``"cuda"`` for an NVIDIA GPU, ``"npu"`` for an Ascend NPU chip.
        index: The id to put in ``CUDA_VISIBLE_DEVICES`` / ``ASCEND_RT_VISIBLE_DEVICES``.
        name: Product name as the tool prints it, e.g. ``"NVIDIA H100 80GB HBM3"``, ``"910B3"``.
        memory_total_mib: Device memory in MiB (HBM for NPUs).
        memory_used_mib: Device memory in use, in MiB, when detection ran.
    """

    kind: Literal["cuda", "npu"]
    index: int
    name: str
    memory_total_mib: int
    memory_used_mib: int

    @property
    def memory_free_mib(self) -> int:
        """Memory not in use, in MiB (never negative)."""
        return max(0, self.memory_total_mib - self.memory_used_mib)


@dataclass(frozen=True)
class Hardware:
    """What :func:`detect` found on this machine.

    Attributes:
        cuda: NVIDIA GPUs, in ``nvidia-smi`` order.
        npu: Ascend NPU chips, in ``npu-smi info`` order.
        cpu_count: CPU cores this process may run on.
        kernels: the fast-kernel packages training could use here (``liger`` for
            liger-kernel, ``flash_attn`` for flash-attn), found without importing them.
    """

    cuda: tuple[Accelerator, ...]
    npu: tuple[Accelerator, ...]
    cpu_count: int
    kernels: frozenset[str] = frozenset()  # fast-kernel packages installed: liger, flash_attn

    def devices(self, kind: str) -> tuple[Accelerator, ...]:
        """Returns the accelerators of ``kind`` (cuda, npu; cpu has none: ``()``).

        Raises:
            ValueError: For any other kind.
        """
        if kind not in ("cuda", "npu", "cpu"):
            raise ValueError(f"unknown device kind {kind!r}; expected cuda, npu or cpu")
        return {"cuda": self.cuda, "npu": self.npu}.get(kind, ())


def label(kind: str) -> Msg:
    """What a device kind is called: "NVIDIA GPU", "Ascend NPU"."""
    return msg(f"machine.label.{kind}")


class DeviceUnavailableError(LoraStudioError):
    """An accelerator kind was asked for explicitly but this machine has none.

    Attributes:
        requested: The device kind that was asked for (``"cuda"`` or ``"npu"``).
        hardware: What was found instead.
    """

    def __init__(self, requested: str, hardware: Hardware) -> None:
        self.requested = requested
        self.hardware = hardware
        tool = _TOOLS[requested]
        alternatives = [k for k in ("npu", "cuda") if k != requested and hardware.devices(k)]
        choices: Any = "cpu"
        for choice in reversed([*alternatives, "auto"]):
            choices = msg("machine.or", first=choice, second=choices)
        super().__init__(
            msg(
                "machine.device_unavailable",
                requested=requested,
                label=label(requested),
                tool=tool,
                found=describe(hardware),
            ),
            msg("fix.device_unavailable", choices=choices, tool=tool),
        )

    def problem(self) -> Problem:
        """The error as a problem of the recipe's ``hardware.device``."""
        assert self.fix is not None
        fix = msg("fix.no_device", message=self.message, fix=self.fix)
        return Problem("hardware.device", self.requested, msg("problem.no_device"), fix)


def describe_devices(devices: tuple[Accelerator, ...]) -> Msg | None:
    """Says e.g. "8 Ascend NPUs (ids 0-7: 910B3)" (None for no devices)."""
    if not devices:
        return None
    ids = [d.index for d in devices]
    contiguous = ids == list(range(ids[0], ids[0] + len(ids)))
    id_text = f"{ids[0]}-{ids[-1]}" if contiguous and len(ids) > 1 else ", ".join(map(str, ids))
    names = ", ".join(dict.fromkeys(d.name for d in devices))
    key = f"machine.devices.{devices[0].kind}_{'many' if len(devices) > 1 else 'one'}"
    return msg(key, count=len(devices), ids=id_text, names=names)


def describe(hardware: Hardware) -> list[Msg]:
    """What a machine has, accelerators first, one message per kind (said joined by "; ")."""
    parts = [describe_devices(hardware.npu), describe_devices(hardware.cuda)]
    found = [p for p in parts if p is not None] or [msg("machine.no_accelerator")]
    return [*found, msg("machine.cpu_cores", count=hardware.cpu_count)]


def _cells(line: str) -> list[str]:
    """Splits a ``| a | b |`` table row into stripped cells (``[]`` for other lines)."""
    line = line.strip()
    if not (line.startswith("|") and line.endswith("|")) or len(line) < 2:
        return []
    return [cell.strip() for cell in line[1:-1].split("|")]


def _mib(value: str) -> int | None:
    """Reads ``"81559"`` or ``"81559 MiB"``; ``[N/A]`` reads as 0, anything else as None."""
    value = value.strip()
    if value in ("[N/A]", "N/A"):
        return 0
    match = re.fullmatch(r"(\d+)(?:\s*MiB)?", value)
    return int(match.group(1)) if match else None


def parse_nvidia_smi_csv(text: str) -> list[Accelerator]:
    """Parses the output of :data:`NVIDIA_SMI_CSV_ARGV` (``index, name, total, used`` lines).

    Tolerates a header line, ``MiB`` units and extra columns; skips lines that do not parse.
    Returns one accelerator per GPU line, in output order (``[]`` for anything else).
    """
    found: list[Accelerator] = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit() or not parts[1]:
            continue
        total, used = _mib(parts[2]), _mib(parts[3])
        if total is None or used is None:
            continue
        found.append(Accelerator("cuda", int(parts[0]), parts[1], total, used))
    return found


def parse_nvidia_smi_table(text: str) -> list[Accelerator]:
    """Parses the table plain ``nvidia-smi`` prints, up to its MIG or Processes section.

    Each GPU block has a row with index, name and persistence mode, then ``used / total MiB``.
    Returns one accelerator per GPU block, in output order (``[]`` for anything else).
    """
    found: list[Accelerator] = []
    pending: tuple[int, str] | None = None
    for line in text.splitlines():
        if "Processes:" in line or "MIG devices:" in line:
            break
        cells = _cells(line)
        if not cells:
            continue
        gpu = _NV_GPU_CELL.match(cells[0])
        if gpu:
            pending = (int(gpu.group(1)), gpu.group(2))
            continue
        memory = _NV_MEMORY.search(line)
        if pending and memory:
            index, name = pending
            found.append(
                Accelerator("cuda", index, name, int(memory.group(2)), int(memory.group(1)))
            )
            pending = None
    return found


def parse_npu_smi(text: str) -> list[Accelerator]:
    """Parses ``npu-smi info``; returns one accelerator per chip, in table order (or ``[]``).

    Each chip takes two rows: ``NPU  Name | Health | ...`` then ``Chip [Phy-ID] | Bus-Id |
    AICore(%)  Memory-Usage(MB)  HBM-Usage(MB)``. Memory is the last ``used / total`` pair of
    the second row (HBM on 910 cards). Parsing stops at the process table.

    Index decision: ``ASCEND_RT_VISIBLE_DEVICES`` takes logical device ids, one per chip,
    numbered 0..N-1 over the chips the process can see, in the order ``npu-smi`` lists them.
    So ``index`` is the chip's position in the table, not the NPU (card) id: on one-chip
    cards (910B) it equals the NPU id when all cards are visible; on Atlas A3 (two chips per
    NPU card, header ``Chip Phy-ID``) NPU 0 is chips 0 and 1, NPU 1 is chips 2 and 3, and so
    on, which matches the Phy-ID column; in a container that mounts only some cards (NPU ids
    e.g. 4 and 5) the logical ids are still 0 and 1.
    """
    found: list[Accelerator] = []
    pending_name: str | None = None
    chips = 0  # counts every chip row, so one unreadable row does not shift later indices
    for line in text.splitlines():
        if "Process id" in line or "Process name" in line:
            break
        cells = _cells(line)
        if len(cells) < 3:
            continue
        first = _NPU_NAME_CELL.match(cells[0])
        if not _PCI_BUS_ID.match(cells[1]):
            pending_name = first.group(2) if first else None
            continue
        pairs = _USED_TOTAL.findall(cells[2])
        if pending_name and _NPU_CHIP_CELL.match(cells[0]):
            if pairs:
                used, total = (int(n) for n in pairs[-1])
                found.append(Accelerator("npu", chips, pending_name, total, used))
            chips += 1
        pending_name = None
    return found


def _run_text(run: Callable[..., Any], argv: list[str]) -> str | None:
    """Runs a tool and returns its stdout, or None if it is missing, fails or hangs."""
    try:
        result = run(argv, timeout=SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    if getattr(result, "returncode", 1) != 0:
        return None
    out = getattr(result, "stdout", None)
    if isinstance(out, bytes):
        out = out.decode("utf-8", errors="replace")
    return out if isinstance(out, str) else None


def _cpu_count() -> int:
    """CPU cores this process may use (respects affinity where the OS exposes it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def detect(run: Callable[..., Any] = processes.run) -> Hardware:
    """Finds the GPUs, NPUs and CPU cores of this machine.

    Runs the ``nvidia-smi`` CSV query (falling back to the plain ``nvidia-smi`` table when it
    runs but lists nothing parseable) and ``npu-smi info``. A missing tool, a nonzero exit,
    a timeout or unreadable output all mean "none of that kind". Indices are the ones the
    tools report; ``CUDA_VISIBLE_DEVICES`` set in this process is not applied.

    Args:
        run: Stand-in for :func:`lorastudio.processes.run` (``run(argv, timeout=…)``), for tests.
    """
    csv_text = _run_text(run, NVIDIA_SMI_CSV_ARGV)
    cuda = parse_nvidia_smi_csv(csv_text) if csv_text is not None else []
    if csv_text is not None and not cuda:
        table_text = _run_text(run, NVIDIA_SMI_TABLE_ARGV)
        cuda = parse_nvidia_smi_table(table_text) if table_text else []
    npu_text = _run_text(run, NPU_SMI_ARGV)
    npu = parse_npu_smi(npu_text) if npu_text else []
    return Hardware(cuda=tuple(cuda), npu=tuple(npu), cpu_count=_cpu_count(), kernels=kernels())


KERNEL_PACKAGES = {"liger": "liger_kernel", "flash_attn": "flash_attn"}


def kernels() -> frozenset[str]:
    """The fast-kernel packages installed for this Python (found, not imported)."""
    return frozenset(
        name for name, module in KERNEL_PACKAGES.items() if importlib.util.find_spec(module)
    )


def resolve_device(requested: str, hardware: Hardware) -> str:
    """Turns the configured device into the one to train on.

    Args:
        requested: ``"auto"``, ``"cuda"``, ``"npu"`` or ``"cpu"`` (case and spaces ignored).
        hardware: What :func:`detect` found.

    Returns:
        ``"npu"``, ``"cuda"`` or ``"cpu"``. ``"auto"`` picks NPU if any, else CUDA if any,
        else CPU.

    Raises:
        DeviceUnavailableError: ``"cuda"`` or ``"npu"`` was asked for and none was found.
        ValueError: ``requested`` is not one of the values above.
    """
    choice = requested.strip().lower()
    if choice == "auto":
        return "npu" if hardware.npu else "cuda" if hardware.cuda else "cpu"
    if choice == "cpu":
        return "cpu"
    if choice in ("cuda", "npu"):
        if not hardware.devices(choice):
            raise DeviceUnavailableError(choice, hardware)
        return choice
    raise ValueError(f"hardware.device is {requested!r}; expected one of auto, cuda, npu, cpu")


def check_device_ids(kind: str, ids: list[int] | None, hardware: Hardware) -> list[Msg]:
    """Checks chosen device ids against the devices of that kind on this machine.

    Args:
        kind: ``"cuda"``, ``"npu"`` or ``"cpu"`` (resolve ``"auto"`` first).
        ids: Ids for the visibility variable; ``None`` or ``[]`` means "all", always fine.
        hardware: What :func:`detect` found.

    Returns:
        One keyed message per problem (unknown or duplicate id, or ids for the CPU);
        empty if the ids are fine.

    Raises:
        ValueError: ``kind`` is not cuda, npu or cpu.
    """
    devices = hardware.devices(kind)
    if not ids:
        return []
    if kind == "cpu":
        return [msg("machine.ids_for_cpu", ids=ids)]
    variable = _VISIBILITY_VARS[kind]
    found = describe_devices(devices) or msg("machine.none_of", label=label(kind))
    known = {d.index for d in devices}
    problems: list[Msg] = []
    for device_id in dict.fromkeys(ids):
        if ids.count(device_id) > 1:
            problems.append(msg("machine.id_twice", kind=kind, id=device_id))
        if device_id not in known:
            problems.append(
                msg("machine.no_such_id", kind=kind, id=device_id, variable=variable, found=found)
            )
    return problems


def device_id_problems(kind: str, ids: list[int] | None, hardware: Hardware) -> list[Problem]:
    """`check_device_ids` as problems of the recipe's ``hardware.devices``."""
    return [
        Problem("hardware.devices", ids, msg("problem.device_ids"), message)
        for message in check_device_ids(kind, ids, hardware)
    ]
