"""The core's structure holds: each subpackage imports only the layers below it (and its own
modules), and no modules import each other in a cycle. Read from the source with ``ast``, lazy
imports inside functions included, so a shortcut cannot hide in a function body."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from conftest import REPO

CORE = REPO / "lorastudio"
# Lowest first; a package may import its own layer and the layers below, never above.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"messages", "errors", "files", "processes", "workspace", "schema_problems"}),
    frozenset({"recipe"}),
    frozenset({"machine"}),
    frozenset({"models"}),
    frozenset({"llamafactory", "data"}),
    frozenset({"checks"}),
    frozenset({"runs"}),
    frozenset({"cluster"}),
    frozenset({"launch"}),
    frozenset({"chat"}),
    frozenset({"cli"}),
)
LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every lorastudio module ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "lorastudio":
                continue
            for alias in node.names:  # `from lorastudio.runs import status` names a module
                candidate = f"{node.module}.{alias.name}"
                is_module = (CORE.parent / candidate.replace(".", "/")).with_suffix(".py")
                found.add(candidate if is_module.exists() else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lorastudio"}
    return found


@functools.cache
def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in CORE.rglob("*.py")}


def package(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_core_package_has_a_layer():
    packages = {package(m) for m in graph() if m != "lorastudio"}
    assert packages - set(LAYER_OF) == set()


def test_no_package_imports_a_layer_above_it():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if module != "lorastudio"
        and package(target) in LAYER_OF
        and LAYER_OF[package(target)] > LAYER_OF[package(module)]
    )
    assert upward == []


def test_no_modules_import_each_other_in_a_cycle():
    edges = {m: {t for t in ts if t in graph()} for m, ts in graph().items()}
    cycles = [component for component in strongly_connected(edges) if len(component) > 1]
    assert cycles == []


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that can reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_kubernetes_backend_is_chosen_in_one_mapping():
    """Outside the backend mapping nobody asks whether a run is a Kubernetes one."""
    askers = sorted(
        module_name(path)
        for path in [*CORE.rglob("*.py"), *(REPO / "ui").rglob("*.py")]
        if "Backend.KUBERNETES" in path.read_text(encoding="utf-8")
        or '== "kubernetes"' in path.read_text(encoding="utf-8")
    )
    assert askers == ["lorastudio.cluster.kubernetes", "lorastudio.runs.backends"]
