"""Where a run lives, chosen in one place: a run on this machine belongs to its supervisor
(`lorastudio.launch.local`), a run submitted to Kubernetes to its PyTorchJob
(`lorastudio.cluster.kubernetes`). Every backend module has the same four functions —
``refresh(run_dir, status)``, ``stop(run_dir, status, wait, timeout)`` and
``resume(run_dir, status)``, each returning the new RunStatus, and ``log_text(run_dir,
status)``, the log of a run whose log is not in its folder (None when it is) — and is imported
only when a run of its kind is met, so the kubernetes client loads only for a Kubernetes run."""

from __future__ import annotations

import importlib
from types import ModuleType

from lorastudio.runs.status import Backend

BACKENDS: dict[Backend, str] = {
    Backend.LOCAL: "lorastudio.launch.local",
    Backend.KUBERNETES: "lorastudio.cluster.kubernetes",
}


def backend_for(backend: Backend) -> ModuleType:
    """The module that carries out runs of ``backend``."""
    return importlib.import_module(BACKENDS[backend])
