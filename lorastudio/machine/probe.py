"""The software versions a run depends on, and whether they match: torch and the CUDA it was built
for against the NVIDIA driver, torch-npu against torch and the CANN toolkit, and the package
ranges LLaMA-Factory checks at import. torch is imported only in a short subprocess
(``python -m lorastudio.machine.probe`` prints one JSON object), never in the calling process.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from lorastudio import processes
from lorastudio.errors import Problem
from lorastudio.messages import Msg, msg

PROBE_TIMEOUT_S = 120.0
# LLaMA-Factory 0.9.5's own check at import (llamafactory/extras/misc.py, check_dependencies);
# a package outside these ranges stops every run unless DISABLE_VERSION_CHECK=1.
LLAMAFACTORY_RANGES = {
    "transformers": ">=4.55.0,<=5.6.0",
    "datasets": ">=2.16.0,<=4.0.0",
    "accelerate": ">=1.3.0,<=1.15.0",
    "peft": ">=0.18.0,<=0.20.0",
    "trl": ">=0.18.0,<=0.24.0",
}
_CANN_HOMES = ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")
_SET_ENV = "source /usr/local/Ascend/ascend-toolkit/set_env.sh"


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _release(version: str | None) -> tuple[int, ...] | None:
    """``2.5.1.post1`` and ``2.5.1+cpu`` -> (2, 5, 1)."""
    if not version:
        return None
    try:
        return Version(version).release
    except InvalidVersion:
        return None


def _cann_version() -> tuple[str | None, str | None]:
    """(toolkit folder, version) of the CANN toolkit this shell has set up (set_env.sh)."""
    home = next((os.environ[n] for n in _CANN_HOMES if os.environ.get(n)), None)
    if home is None:
        return None, None
    for info in sorted(Path(home).glob("*/ascend_toolkit_install.info")):
        match = re.search(r"^version=(\S+)", info.read_text(errors="replace"), re.MULTILINE)
        if match:
            return home, match.group(1)
    return home, None


def _driver() -> dict[str, str | None]:
    """NVIDIA driver version and the newest CUDA it runs, from nvidia-smi's header."""
    try:
        text = processes.run(["nvidia-smi"], timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    driver = re.search(r"Driver Version:\s*(\S+)", text)
    cuda = re.search(r"CUDA Version:\s*(\d+\.\d+)", text)
    return {"driver": driver and driver.group(1), "driver_cuda": cuda and cuda.group(1)}


def collect() -> dict[str, Any]:
    """Inside the probe subprocess: import torch (and torch_npu) and report what they see."""
    report: dict[str, Any] = {"python": sys.version.split()[0]}
    report |= _driver()
    report["cann_home"], report["cann"] = _cann_version()
    try:
        import torch
    except Exception as exc:  # a broken install is what this probe is for
        report["torch_error"] = f"{type(exc).__name__}: {exc}"
        return report
    report |= {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "cuda_devices": torch.cuda.device_count(),
    }
    if importlib.util.find_spec("torch_npu") is not None:
        try:
            import torch_npu

            report["torch_npu"] = torch_npu.__version__
            report["npu_available"] = torch.npu.is_available()
            report["npu_devices"] = torch.npu.device_count()
        except Exception as exc:
            report["torch_npu_error"] = f"{type(exc).__name__}: {exc}"
    return report


def run_probe(timeout: float = PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Run :func:`collect` in a subprocess; on failure, ``probe_error`` says why (a keyed
    message as plain data, `Msg.as_dict`)."""
    try:
        result = processes.run(processes.python_module("lorastudio.machine.probe"), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"probe_error": msg("machine.probe_timeout", seconds=f"{timeout:.0f}").as_dict()}
    lines = result.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        lines = result.stderr.strip().splitlines()
        tail = lines[-1] if lines else msg("machine.probe_no_output")
        return {"probe_error": msg("machine.probe_failed", tail=tail).as_dict()}


def package_problems() -> list[Problem]:
    """Packages outside the ranges LLaMA-Factory accepts (read from metadata, nothing imported)."""
    if os.environ.get("DISABLE_VERSION_CHECK", "").lower() in ("1", "true", "y"):
        return []
    problems = []
    for name, spec in LLAMAFACTORY_RANGES.items():
        version = _installed(name)
        if version is not None and Version(version) not in SpecifierSet(spec):
            problems.append(
                Problem(
                    "(environment)",
                    f"{name} {version}",
                    msg("problem.package_range", name=name, spec=spec),
                    msg("fix.package_range", name=name, spec=spec),
                )
            )
    return problems


def _cuda_problems(probe: dict[str, Any]) -> list[Problem]:
    torch_cuda, driver_cuda = probe.get("torch_cuda"), probe.get("driver_cuda")
    if torch_cuda is None:
        return [
            Problem(
                "hardware.device",
                "cuda",
                msg("problem.torch_cpu_only", torch=probe.get("torch")),
                msg("fix.torch_cuda"),
            )
        ]
    if probe.get("cuda_available"):
        return []
    why, fix = msg("problem.torch_no_gpu"), msg("fix.check_driver")
    if driver_cuda and (_release(driver_cuda) or ()) < (_release(torch_cuda) or ()):
        why = msg(
            "problem.driver_too_old",
            torch=probe.get("torch"),
            cuda=torch_cuda,
            driver=probe.get("driver"),
            driver_cuda=driver_cuda,
        )
        fix = msg("fix.update_driver", driver_cuda=driver_cuda)
    return [Problem("hardware.device", "cuda", why, fix)]


def _npu_problems(probe: dict[str, Any]) -> list[Problem]:
    problems = []
    if probe.get("cann_home") is None:
        problems.append(
            Problem(
                "hardware.device",
                "npu",
                msg("problem.no_cann"),
                msg("fix.set_env", set_env=_SET_ENV),
            )
        )
    npu = probe.get("torch_npu")
    if npu is None:
        error = probe.get("torch_npu_error")
        why = msg("problem.torch_npu_broken", error=error) if error else msg("problem.no_torch_npu")
        fix = msg("fix.install_torch_npu", torch=probe.get("torch"), set_env=_SET_ENV)
        problems.append(Problem("hardware.device", "npu", why, fix))
        return problems
    npu_base = (_release(npu) or ())[:3]
    if npu_base != (_release(probe.get("torch")) or ())[:3]:
        problems.append(
            Problem(
                "hardware.device",
                "npu",
                msg(
                    "problem.torch_npu_mismatch",
                    npu=npu,
                    built_for=".".join(map(str, npu_base)),
                    torch=probe.get("torch"),
                ),
                msg("fix.torch_npu_match", torch=probe.get("torch")),
            )
        )
    elif not probe.get("npu_available"):
        problems.append(
            Problem(
                "hardware.device",
                "npu",
                msg(
                    "problem.torch_npu_no_npu",
                    npu=npu,
                    cann=probe.get("cann") or msg("machine.unknown_version"),
                ),
                msg("fix.check_npu"),
            )
        )
    return problems


def version_problems(probe: dict[str, Any], device: str) -> list[Problem]:
    """What in a probe report stops a run on ``device`` (cuda or npu) from starting."""
    if "probe_error" in probe or "torch_error" in probe:
        reason = _probe_failure(probe)
        message = msg("problem.torch_unimportable", reason=reason)
        return [Problem("(environment)", "torch", message, msg("fix.reinstall"))]
    if device == "cuda":
        return _cuda_problems(probe)
    if device == "npu":
        return _npu_problems(probe)
    return []


def _probe_failure(probe: dict[str, Any]) -> Msg | str:
    """Why the probe has no versions: its own failure (a keyed message, as plain data), or
    torch's import error in torch's words."""
    failure = probe.get("probe_error")
    if failure is not None:
        return Msg.from_dict(failure) or str(failure)
    return str(probe.get("torch_error"))


if __name__ == "__main__":
    print(json.dumps(collect()))
