"""The core never imports gradio, and importing it (or checking a recipe) never loads torch (nor the
kubernetes client or DeepSpeed); only the chat worker's model module (lorastudio.chat.model) loads
torch, inside the worker process."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO

# Every module of the core, found on disk, so a new one is checked too; except chat_model, which
# only the chat worker process imports (it holds the model, so it loads torch).
WORKER_ONLY = {"lorastudio.chat.model"}


def _module(path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


CORE_MODULES = sorted(
    _module(path)
    for path in (REPO / "lorastudio").rglob("*.py")
    if _module(path) not in WORKER_ONLY
)


def test_importing_the_core_loads_neither_gradio_nor_torch():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE_MODULES)
        + "heavy = [m for m in ('gradio', 'torch', 'transformers', 'llamafactory.hparams', "
        "'kubernetes', 'deepspeed') "
        "if m in sys.modules]\nprint(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_validating_a_recipe_loads_no_torch():
    code = (
        "import sys\nfrom lorastudio.checks.validation import check_recipe_file\n"
        "from lorastudio.workspace import Workspace\n"
        "check_recipe_file('recipes/cpu-smoke.yaml', Workspace.from_env('.'))\n"
        "print([m for m in ('torch', 'transformers', 'gradio') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_core_module_mentions_gradio():
    for path in (REPO / "lorastudio").rglob("*.py"):
        assert "import gradio" not in path.read_text(), path


def test_only_the_chat_worker_imports_the_module_that_loads_torch():
    """Through the engine mapping, called by the worker alone."""
    importers = sorted(
        _module(path)
        for path in (REPO / "lorastudio").rglob("*.py")
        if "lorastudio.chat.model" in path.read_text() and _module(path) not in WORKER_ONLY
    )
    assert importers == ["lorastudio.chat.engine"]  # named in the engine mapping, and
    callers = sorted(  # that mapping is imported from only in the worker
        _module(path)
        for path in (REPO / "lorastudio").rglob("*.py")
        if "engine_module(" in path.read_text() and _module(path) != "lorastudio.chat.engine"
    )
    assert callers == ["lorastudio.chat.worker"]
