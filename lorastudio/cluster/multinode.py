"""Training on several machines with LLaMA-Factory's own launcher: the command each node runs
(`python launch.py train recipe.yaml` on node 0, the same with ``--node-rank N --master-addr
HOST`` on the others), the command-line flags that override ``hardware.nodes``, and the checks
only a node itself can make (is the rendezvous port free here, is the master address this
machine). Rank 0 writes progress and the adapter; every node's run folder records its rank.
"""

from __future__ import annotations

import contextlib
import ipaddress
import shlex
import socket
from dataclasses import dataclass

import psutil

from lorastudio.errors import Problem
from lorastudio.recipe.schema import Recipe

LAUNCH = "python launch.py"


@dataclass(frozen=True)
class NodeFlags:
    """``hardware.nodes`` as overridden on the command line (None: keep the recipe's value)."""

    nnodes: int | None = None
    node_rank: int | None = None
    master_addr: str | None = None
    master_port: int | None = None

    def overrides(self) -> list[str]:
        """The flags as ``--set`` overrides, so they are validated like recipe fields."""
        pairs = [
            ("count", self.nnodes),
            ("rank", self.node_rank),
            ("master_addr", self.master_addr),
            ("master_port", self.master_port),
        ]
        return [f"hardware.nodes.{key}={value}" for key, value in pairs if value is not None]


def per_node_commands(
    recipe: Recipe, recipe_path: str, extra_args: tuple[str, ...] = ()
) -> list[str]:
    """The command to run on each node, rank 0 first, ready to copy.

    Args:
        recipe: the recipe as node 0 runs it (its ``hardware.nodes`` says how many nodes and
            where node 0 is).
        recipe_path: the recipe file as the nodes see it (the same file on every node).
        extra_args: other arguments every node must repeat (``--set`` overrides).
    """
    nodes = recipe.hardware.nodes
    base = [*shlex.split(LAUNCH), "train", recipe_path, *extra_args]
    commands = [shlex.join(base)]
    for rank in range(1, nodes.count):
        flags = ["--node-rank", str(rank), "--master-addr", nodes.master_addr]
        if nodes.master_port != 29500:
            flags += ["--master-port", str(nodes.master_port)]
        commands.append(shlex.join([*base, *flags]))
    return commands


def port_is_free(port: int) -> bool:
    """Whether this machine can listen on ``port`` (what torchrun's store on node 0 does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds: connections of an earlier run still in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def local_addresses() -> set[str]:
    """Every IP address of this machine, and its host names."""
    found = {socket.gethostname(), "localhost"}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                found.add(address.address.split("%")[0])
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def _resolves_here(host: str, here: set[str]) -> bool:
    if host in here or _is_loopback(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return any(info[4][0] in here for info in infos)


def node_problems(recipe: Recipe) -> tuple[list[Problem], list[Problem]]:
    """What this node can check about a multi-node run before it starts.

    Returns:
        (problems, warnings): problems stop the launch (node 0 cannot listen on the port);
        warnings are printed (an address the other nodes may not reach).
    """
    nodes = recipe.hardware.nodes
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if nodes.count == 1:
        return problems, warnings
    if nodes.rank == 0 and not port_is_free(nodes.master_port):
        problems.append(
            Problem(
                "hardware.nodes.master_port",
                nodes.master_port,
                "is already in use on this machine (another run, or another program), so node 0 "
                "cannot host the rendezvous there",
                f"pick a free port, e.g. --master-port {free_port()} on every node (or set "
                "hardware.nodes.master_port)",
            )
        )
    if nodes.rank == 0 and _is_loopback(nodes.master_addr):
        warnings.append(
            Problem(
                "hardware.nodes.master_addr",
                nodes.master_addr,
                "is a loopback address: only nodes on this same machine can reach it",
                "set it to this machine's address on the network the nodes share",
            )
        )
    elif nodes.rank == 0 and not _resolves_here(nodes.master_addr, local_addresses()):
        warnings.append(
            Problem(
                "hardware.nodes.master_addr",
                nodes.master_addr,
                "is not an address of this machine, but this is node 0 (the master)",
                "run node 0 on the machine with that address, or set --master-addr to this one's",
            )
        )
    if nodes.interface and nodes.interface not in psutil.net_if_addrs():
        problems.append(
            Problem(
                "hardware.nodes.interface",
                nodes.interface,
                f"is not a network interface of this machine (it has "
                f"{', '.join(sorted(psutil.net_if_addrs()))})",
                "name the interface the nodes reach each other on, or remove it",
            )
        )
    return problems, warnings
