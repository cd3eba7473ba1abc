"""`python launch.py k8s RECIPE --submit` with the official kubernetes client, against a stand-in
API server on 127.0.0.1 (tests/k8s_api.py): the real client builds and sends the requests, the
stand-in answers them and checks the PyTorchJob against the real CRD schema. No cluster runs
here, so scheduling, pods and the Training Operator itself are not exercised (see README)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml
from conftest import FIXTURES, REPO, Studio
from k8s_api import FakeKubernetesApi

from lorastudio.machine.network import free_port

RECIPE = REPO / "recipes" / "qwen2.5-7b-lora-ds-zero3.yaml"


@pytest.fixture(scope="module")
def crd_schema() -> dict:
    crd = yaml.safe_load((FIXTURES / "kubeflow" / "kubeflow.org_pytorchjobs.yaml").read_text())
    return next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"][
        "openAPIV3Schema"
    ]


@pytest.fixture
def cluster(crd_schema, studio: Studio):
    with FakeKubernetesApi(crd_schema) as api:
        studio.env["KUBECONFIG"] = str(api.kubeconfig(studio.home / "kubeconfig"))
        yield api


def submit(studio: Studio, *extra: str):
    return studio.cli("k8s", str(RECIPE), "--nnodes", "2", "--namespace", "ml", "--submit", *extra)


def runs(studio: Studio) -> list[dict]:
    return json.loads(studio.cli("runs", "--json").stdout)


@pytest.mark.slow
def test_submit_creates_the_job_then_its_config_map_owned_by_the_job(studio, cluster):
    result = submit(studio)
    assert result.returncode == 0, result.stderr
    (run_dir,) = studio.run_dirs()
    (job_name,) = [name for (_, name) in cluster.jobs]
    assert [(method, path.split("?")[0]) for method, path, _ in cluster.requests] == [
        ("POST", "/apis/kubeflow.org/v1/namespaces/ml/pytorchjobs"),
        ("POST", "/api/v1/namespaces/ml/configmaps"),
    ]
    config_map = cluster.config_maps["ml", f"{job_name}-recipe"]
    (owner,) = config_map["metadata"]["ownerReferences"]
    assert (
        owner["kind"] == "PyTorchJob"
        and owner["uid"] == cluster.jobs["ml", job_name]["metadata"]["uid"]
    )
    _, job = yaml.safe_load_all((run_dir / "kubernetes.yaml").read_text())
    sent = cluster.requests[0][2]
    assert sent == job  # exactly the manifest recorded in the run folder
    assert f"run {run_dir.name} submitted: PyTorchJob {job_name} in namespace ml" in result.stdout


@pytest.mark.slow
def test_runs_shows_the_jobs_state_as_the_cluster_reports_it(studio, cluster):
    assert submit(studio).returncode == 0
    (job_key,) = cluster.jobs
    (row,) = runs(studio)
    assert (row["state"], row["backend"], row["device"]) == ("starting", "kubernetes", "cuda")
    cluster.set_condition(*job_key, "Created")
    cluster.set_condition(*job_key, "Running")
    assert runs(studio)[0]["state"] == "running"
    cluster.set_condition(*job_key, "Succeeded", "PyTorchJob succeeded")
    assert runs(studio)[0]["state"] == "succeeded"
    requests = len(cluster.requests)
    assert runs(studio)[0]["state"] == "succeeded"
    assert len(cluster.requests) == requests  # a finished job is not asked again


@pytest.mark.slow
def test_a_failed_job_says_why(studio, cluster):
    assert submit(studio).returncode == 0
    (job_key,) = cluster.jobs
    cluster.set_condition(*job_key, "Failed", "PyTorchJob has failed because 1 Master replica(s)")
    (row,) = runs(studio)
    assert row["state"] == "failed" and "Master replica" in row["reason"]


@pytest.mark.slow
def test_logs_shows_the_master_pods_log_and_stop_deletes_the_job(studio, cluster):
    assert submit(studio).returncode == 0
    (run_dir,) = studio.run_dirs()
    ((namespace, job_name),) = cluster.jobs
    cluster.pod_logs[namespace, f"{job_name}-master-0"] = "{'loss': '1.234'}\n"
    cluster.set_condition(namespace, job_name, "Running")
    logs = studio.cli("logs", run_dir.name)
    assert logs.returncode == 0 and "'loss': '1.234'" in logs.stdout
    stopped = studio.cli("stop", run_dir.name)
    assert stopped.returncode == 3, stopped.stderr
    assert cluster.jobs == {} and cluster.requests[-1][0] == "DELETE"
    assert "propagationPolicy=Foreground" in cluster.requests[-1][1]
    assert runs(studio)[0]["state"] == "stopped"


@pytest.mark.slow
def test_a_job_deleted_on_the_cluster_shows_as_stopped(studio, cluster):
    assert submit(studio).returncode == 0
    cluster.jobs.clear()
    (row,) = runs(studio)
    assert row["state"] == "stopped" and "no longer on the cluster" in row["reason"]


@pytest.mark.slow
def test_without_a_kubeconfig_submit_says_how_to_configure_one(studio: Studio):
    studio.env["KUBECONFIG"] = str(studio.home / "no-such-kubeconfig")
    result = submit(studio)
    assert result.returncode == 2
    assert "no Kubernetes cluster is configured" in result.stderr
    assert "KUBECONFIG" in result.stderr and "Traceback" not in result.stderr
    assert studio.run_dirs() == []  # nothing was submitted, so no run is recorded
    studio.env["LORASTUDIO_LANG"] = "zh"
    chinese = submit(studio).stderr
    assert "没有配置 Kubernetes 集群" in chinese and "修正：请把 kubeconfig 放在" in chinese
    assert "no Kubernetes cluster" not in chinese


@pytest.mark.slow
def test_an_unreachable_cluster_is_named_with_its_address(studio: Studio, crd_schema):
    api = FakeKubernetesApi(crd_schema)  # never started: its address is only for the kubeconfig
    studio.env["KUBECONFIG"] = str(api.kubeconfig(studio.home / "kubeconfig"))
    api.server.server_close()
    result = submit(studio)
    assert result.returncode == 2
    assert f"cannot reach the Kubernetes API server at {api.url}" in result.stderr
    assert studio.run_dirs() == []


@pytest.mark.slow
def test_a_cluster_that_never_answers_is_given_up_after_the_timeout(studio, crd_schema):
    api = FakeKubernetesApi(crd_schema)  # its address, but a socket that accepts and says nothing
    api.server.server_close()
    host, port = api.url.removeprefix("http://").split(":")
    silent = socket.socket()
    silent.bind((host, int(port)))
    silent.listen(8)
    try:
        studio.env["KUBECONFIG"] = str(api.kubeconfig(studio.home / "kubeconfig"))
        studio.env["LORASTUDIO_K8S_TIMEOUT"] = "1.5"
        result = submit(studio)
        studio.env["LORASTUDIO_LANG"] = "zh"
        chinese = submit(studio).stderr
    finally:
        silent.close()
    assert result.returncode == 2, result.stderr
    assert f"the Kubernetes API server at {api.url} did not answer within 1.5 s" in result.stderr
    assert "Traceback" not in result.stderr and studio.run_dirs() == []
    assert (
        f"{api.url} 上的 Kubernetes API 服务器在 1.5 秒内没有应答（请求：创建 PyTorchJob）"
        in chinese
    )
    assert "LORASTUDIO_K8S_TIMEOUT=秒数" in chinese


@pytest.mark.slow
def test_a_cluster_without_the_training_operator_is_told_to_install_it(studio, crd_schema):
    with FakeKubernetesApi(crd_schema, has_training_operator=False) as api:
        studio.env["KUBECONFIG"] = str(api.kubeconfig(studio.home / "kubeconfig"))
        result = submit(studio)
        chinese = studio.cli("--lang", "zh", "k8s", str(RECIPE), "--nnodes", "2", "--submit")
    assert result.returncode == 2
    assert "install the Kubeflow Training Operator" in result.stderr
    assert chinese.returncode == 2
    assert "没有 PyTorchJob 资源" in chinese.stderr and "请在那里安装" in chinese.stderr


def test_the_core_imports_the_kubernetes_client_only_when_it_talks_to_a_cluster():
    code = (
        "import sys, lorastudio.cli.main, lorastudio.cluster.pytorchjob, "
        "lorastudio.cluster.kubernetes, lorastudio.runs.index; "
        "print('kubernetes' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_free_port_helper_gives_a_port_nobody_listens_on():
    assert 1024 <= free_port() <= 65535
