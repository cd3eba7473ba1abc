"""How busy a run's cards are, sampled while it trains: memory in use and utilisation, from
``nvidia-smi``'s query (NVIDIA) or ``npu-smi info``'s table (Ascend: HBM and AICore %). Nothing is
imported from torch; a missing or failing tool gives no sample (the live view then says nothing
rather than a guess)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lorastudio import processes
from lorastudio.machine.hardware import _PCI_BUS_ID, _USED_TOTAL, NPU_SMI_ARGV, _cells, _run_text

NVIDIA_USAGE_ARGV = [
    "nvidia-smi",
    "--query-gpu=index,memory.used,memory.total,utilization.gpu",
    "--format=csv,noheader,nounits",
]
_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class CardUsage:
    """One card at one moment: its index (as the tools number them), memory in MiB, and
    utilisation in percent (GPU busy time; AICore on Ascend)."""

    index: int
    memory_used_mib: int
    memory_total_mib: int
    utilization: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_nvidia_usage(text: str) -> list[CardUsage]:
    """``nvidia-smi --query-gpu=index,memory.used,memory.total,utilization.gpu`` (CSV, no
    header, no units); rows that do not read are skipped ("[N/A]" utilisation is None)."""
    found = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != 4 or not all(_NUMBER.match(c) for c in cells[:3]):
            continue
        utilization = int(cells[3]) if _NUMBER.match(cells[3]) else None
        found.append(CardUsage(int(cells[0]), int(cells[1]), int(cells[2]), utilization))
    return found


def parse_npu_usage(text: str) -> list[CardUsage]:
    """``npu-smi info``: per chip row (the one with the PCI bus id), AICore % and the last
    ``used / total`` pair (HBM); chips numbered in table order, as `parse_npu_smi` numbers them."""
    found = []
    chips = 0
    for line in text.splitlines():
        if "Process id" in line or "Process name" in line:
            break
        cells = _cells(line)
        if len(cells) < 3 or not _PCI_BUS_ID.match(cells[1]):
            continue
        pairs = _USED_TOTAL.findall(cells[2])
        first = cells[2].split()[0] if cells[2].split() else ""
        if pairs:
            used, total = (int(n) for n in pairs[-1])
            utilization = int(first) if _NUMBER.match(first) else None
            found.append(CardUsage(chips, used, total, utilization))
        chips += 1
    return found


def sample(
    device: str, indices: list[int] | None, run: Callable[..., Any] = processes.run
) -> list[CardUsage]:
    """The cards ``indices`` (all when None) of ``device`` (cuda, npu) now; [] on a CPU or when
    the tool gives nothing."""
    if device == "cuda":
        text = _run_text(run, NVIDIA_USAGE_ARGV)
        cards = parse_nvidia_usage(text) if text else []
    elif device == "npu":
        text = _run_text(run, NPU_SMI_ARGV)
        cards = parse_npu_usage(text) if text else []
    else:
        return []
    return [card for card in cards if indices is None or card.index in indices]


def visible_indices(env: dict[str, str]) -> list[int] | None:
    """The cards a run's environment makes visible (None: all of them)."""
    for name in ("CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES"):
        value = env.get(name)
        if value is not None:
            ids = [part.strip() for part in value.split(",") if part.strip()]
            return [int(part) for part in ids if part.isdigit()]
    return None
