"""What one node of a multi-node run can check about it before it starts: node 0 must be able to
listen on the rendezvous port, the master address should be this machine and reachable by the
others, and a named network interface must exist here."""

from __future__ import annotations

from lorastudio.errors import Problem
from lorastudio.machine.network import (
    free_port,
    interface_names,
    is_loopback,
    port_is_free,
    resolves_here,
)
from lorastudio.messages import msg
from lorastudio.recipe.schema import Recipe


def node_problems(recipe: Recipe) -> tuple[list[Problem], list[Problem]]:
    """What this node can check about a multi-node run before it starts.

    Returns:
        (problems, warnings): problems stop the launch (node 0 cannot listen on the port, an
        interface that is not here); warnings are printed (an address the other nodes may not
        reach).
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
                msg("problem.port_in_use"),
                msg("fix.free_port", port=free_port()),
            )
        )
    if nodes.rank == 0 and is_loopback(nodes.master_addr):
        warnings.append(
            Problem(
                "hardware.nodes.master_addr",
                nodes.master_addr,
                msg("problem.loopback"),
                msg("fix.shared_address"),
            )
        )
    elif nodes.rank == 0 and not resolves_here(nodes.master_addr):
        warnings.append(
            Problem(
                "hardware.nodes.master_addr",
                nodes.master_addr,
                msg("problem.not_this_machine"),
                msg("fix.master_here"),
            )
        )
    if nodes.interface and nodes.interface not in interface_names():
        problems.append(
            Problem(
                "hardware.nodes.interface",
                nodes.interface,
                msg("problem.no_interface", names=", ".join(interface_names())),
                msg("fix.interface"),
            )
        )
    return problems, warnings
