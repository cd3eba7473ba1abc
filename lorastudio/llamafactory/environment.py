"""The environment a run is launched with: which cards it sees, how LLaMA-Factory's launcher starts
torchrun, and what the collective libraries (HCCL on Ascend, NCCL on NVIDIA, Gloo on CPU) need.
A pure function of the recipe and the resolved target; the compiler puts it into ``Compiled.env``.

What LLaMA-Factory 0.9.5 reads (``llamafactory/launcher.py``): ``FORCE_TORCHRUN`` (or more than one
visible device) re-launches through ``torchrun --nnodes NNODES --node_rank NODE_RANK
--nproc_per_node NPROC_PER_NODE --master_addr MASTER_ADDR --master_port MASTER_PORT``, each read
from the environment with the defaults 1, 0, the device count, 127.0.0.1 and a free port. Its
multi-node docs (docs/source/advanced/distributed.rst and npu_training.rst of LLaMA-Factory-Doc)
give the same five variables, one command per node. The device count is 0 on a CPU, so a CPU run
through torchrun must set NPROC_PER_NODE itself. ``CUDA_VISIBLE_DEVICES`` and
``ASCEND_RT_VISIBLE_DEVICES`` are read by torch and torch_npu, not by LLaMA-Factory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lorastudio.recipe.schema import Recipe

Device = Literal["cpu", "cuda", "npu"]

# Ascend's HCCL_CONNECT_TIMEOUT (seconds; CANN accepts 120-7200, default 120) bounds how long the
# ranks wait for each other when HCCL links them, which happens at the first collective. In a
# LLaMA-Factory run that is the barrier after rank 0 alone has tokenized the dataset
# (main_process_first), and on several nodes it also covers nodes started minutes apart, so the
# default is too short for real datasets. Source: CANN environment variable reference,
# HCCL_CONNECT_TIMEOUT (hiascend.com, .../maintenref/envvar/envref_07_0077.html); 1200 is what
# Ascend's MindSpeed launch scripts use.
HCCL_CONNECT_TIMEOUT_S = 1200

# The variable that picks the network interface, per collective library. HCCL_SOCKET_IFNAME:
# CANN env var reference envref_07_0075 (a name prefix; LLaMA-Factory's NPU multi-node guide
# requires `export HCCL_SOCKET_IFNAME=eth0` on every node). NCCL_SOCKET_IFNAME and
# GLOO_SOCKET_IFNAME: NCCL's and PyTorch's distributed docs; Gloo also carries
# torch.distributed's CPU-side collectives.
_INTERFACE_VARIABLES: dict[str, tuple[str, ...]] = {
    "npu": ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"),
    "cuda": ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"),
    "cpu": ("GLOO_SOCKET_IFNAME",),
}


def is_distributed(recipe: Recipe, processes_per_node: int) -> bool:
    """Whether the run goes through torchrun: several processes, several nodes, or DeepSpeed
    (LLaMA-Factory refuses DeepSpeed outside torchrun)."""
    hardware = recipe.hardware
    return processes_per_node > 1 or hardware.deepspeed != "none" or hardware.nodes.count > 1


def world_size(recipe: Recipe, processes_per_node: int) -> int:
    """Training processes over all nodes."""
    return processes_per_node * recipe.hardware.nodes.count


def visibility(device: Device, ids: list[int] | None) -> dict[str, str]:
    """The device visibility variable for these card ids (CPU runs hide every GPU)."""
    if device == "cpu":
        return {"CUDA_VISIBLE_DEVICES": ""}
    if ids is None:
        return {}
    joined = ",".join(str(i) for i in ids)
    return {"CUDA_VISIBLE_DEVICES" if device == "cuda" else "ASCEND_RT_VISIBLE_DEVICES": joined}


def torchrun_settings(recipe: Recipe, processes_per_node: int) -> dict[str, str]:
    """FORCE_TORCHRUN and the sizes LLaMA-Factory's launcher hands to torchrun."""
    if not is_distributed(recipe, processes_per_node):
        return {}
    nodes = recipe.hardware.nodes
    env = {
        "FORCE_TORCHRUN": "1",
        "NPROC_PER_NODE": str(processes_per_node),
        "NNODES": str(nodes.count),
        "NODE_RANK": str(nodes.rank),
    }
    if nodes.count > 1:
        # Every node must meet at one address. On one machine LLaMA-Factory picks a free port
        # itself, so two runs side by side (GPUs 0-3 and 4-7) do not both claim 29500.
        env |= {"MASTER_ADDR": nodes.master_addr, "MASTER_PORT": str(nodes.master_port)}
    return env


def collective_settings(recipe: Recipe, device: Device, processes_per_node: int) -> dict[str, str]:
    """What HCCL / NCCL / Gloo need: the interface between nodes and, on Ascend, a link timeout
    long enough for rank 0's data preparation."""
    if not is_distributed(recipe, processes_per_node):
        return {}
    env: dict[str, str] = {}
    interface = recipe.hardware.nodes.interface
    if interface and recipe.hardware.nodes.count > 1:
        for variable in _INTERFACE_VARIABLES[device]:
            env[variable] = interface
    if device == "npu" and world_size(recipe, processes_per_node) > 1:
        env["HCCL_CONNECT_TIMEOUT"] = str(HCCL_CONNECT_TIMEOUT_S)
    return env


def environment(
    recipe: Recipe, device: Device, processes_per_node: int, run_dir: Path
) -> dict[str, str]:
    """Every variable the run's command gets on top of the caller's environment."""
    env = {
        # LLaMA-Factory's web-UI mode: SIGABRT makes it stop at the next step and save the adapter.
        "LLAMABOARD_ENABLED": "1",
        "LLAMABOARD_WORKDIR": str(run_dir),
        "PYTHONUNBUFFERED": "1",
    }
    env |= visibility(device, recipe.hardware.devices)
    env |= torchrun_settings(recipe, processes_per_node)
    env |= collective_settings(recipe, device, processes_per_node)
    if recipe.model.hub == "modelscope":
        env["USE_MODELSCOPE_HUB"] = "1"
    return env
