"""Training on several machines with LLaMA-Factory's own launcher: the command each node runs
(`python launch.py train recipe.yaml` on node 0, the same with ``--node-rank N --master-addr
HOST`` on the others), and the command-line flags that override ``hardware.nodes``. The checks
only a node itself can make live in `lorastudio.checks.nodes`. Rank 0 writes progress and the
adapter; every node's run folder records its rank.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

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
