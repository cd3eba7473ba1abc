"""Version checks: a short subprocess reports torch, CUDA, torch-npu and CANN (torch is never
imported by the caller), and mismatches become problems that say what to install."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from packaging.version import Version
from recorded_npu import ASCEND_TOOLKIT_INSTALL_INFO_8_1_RC1

from lorastudio.machine.probe import package_problems, run_probe, version_problems


@pytest.mark.slow
def test_the_probe_reports_this_environments_torch_from_a_subprocess():
    report = run_probe()
    installed = Version(importlib.metadata.version("torch")).release
    assert Version(report["torch"]).release == installed
    assert report["cuda_available"] is False or report["cuda_devices"] > 0


@pytest.mark.slow
def test_probing_never_imports_torch_in_the_calling_process():
    code = "import sys, lorastudio.machine.probe as p; p.run_probe(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.slow
def test_the_cann_version_is_read_from_the_toolkit_set_env_points_at(tmp_path, monkeypatch):
    (tmp_path / "aarch64-linux").mkdir()
    (tmp_path / "aarch64-linux" / "ascend_toolkit_install.info").write_text(
        ASCEND_TOOLKIT_INSTALL_INFO_8_1_RC1
    )
    monkeypatch.setenv("ASCEND_TOOLKIT_HOME", str(tmp_path))
    report = run_probe()
    assert report["cann"] == "8.1.RC1" and report["cann_home"] == str(tmp_path)


GPU_BOX = {"torch": "2.6.0+cu124", "torch_cuda": "12.4", "cuda_available": True, "cuda_devices": 8}


def test_a_working_cuda_setup_has_no_problem():
    assert version_problems(GPU_BOX, "cuda") == []


def test_a_cpu_only_torch_cannot_train_on_gpus():
    (problem,) = version_problems(GPU_BOX | {"torch": "2.6.0+cpu", "torch_cuda": None}, "cuda")
    assert problem.field == "hardware.device" and "CPU-only build" in str(problem.message)
    assert "pytorch.org" in str(problem.fix)


def test_a_driver_older_than_torchs_cuda_is_named_with_both_versions():
    old = GPU_BOX | {"cuda_available": False, "driver": "535.104.05", "driver_cuda": "12.2"}
    (problem,) = version_problems(old, "cuda")
    assert "CUDA 12.4" in str(problem.message) and "535.104.05" in str(problem.message)
    assert "update the NVIDIA driver" in str(problem.fix)


NPU_BOX = {
    "torch": "2.5.1",
    "torch_npu": "2.5.1.post1",
    "npu_available": True,
    "cann_home": "/usr/local/Ascend/ascend-toolkit/latest",
    "cann": "8.1.RC1",
}


def test_a_matching_torch_npu_and_cann_have_no_problem():
    assert version_problems(NPU_BOX, "npu") == []


def test_torch_npu_must_be_built_for_the_installed_torch():
    (problem,) = version_problems(NPU_BOX | {"torch": "2.6.0"}, "npu")
    assert "torch-npu 2.5.1.post1 is built for torch 2.5.1" in str(problem.message)


def test_npu_runs_need_the_cann_environment_and_torch_npu():
    problems = version_problems({"torch": "2.5.1", "cann_home": None}, "npu")
    assert any("set_env.sh" in str(p.fix) for p in problems)
    assert any("torch-npu" in str(p.message) and "missing" in str(p.message) for p in problems)


def test_a_broken_torch_is_reported_for_any_accelerator():
    (problem,) = version_problems({"torch_error": "ImportError: libcudart.so.12"}, "npu")
    assert problem.field == "(environment)" and "libcudart" in str(problem.message)


def test_this_environment_is_within_llamafactorys_package_ranges():
    assert package_problems() == []
