"""Kubernetes manifests: a recipe renders to a Kubeflow PyTorchJob (Master + Workers) and a
ConfigMap that validate against the real PyTorchJob CRD schema (training-operator v1.9.0, from
the shared fixtures) and the Kubernetes core schema (kubernetes-validate, offline), and that
carry the same compiled config and environment a local run gets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import FIXTURES, LF_DATA, REPO, Studio

from lorastudio.cluster.pytorchjob import K8sOptions, job_name_for, render
from lorastudio.errors import RecipeError
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

KUBEFLOW = FIXTURES / "kubeflow"
K8S_VERSION = "1.30"
RUN_ID = "20250101-120000-qwen2.5-7b-lora-ds-zero3"
LOCAL = Workspace(Path("/home/me/studio"), LF_DATA, Path("/home/me/studio/adapters"))
REGISTRY = json.loads((LF_DATA / "dataset_info.json").read_text())


@pytest.fixture(scope="module")
def pytorchjob_schema() -> dict:
    """The CRD's v1 openAPIV3Schema, read as kubeflow/fixtures/SOURCE.md prescribes."""
    crd = yaml.safe_load((KUBEFLOW / "kubeflow.org_pytorchjobs.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def shipped(name: str, **overrides):
    return parse_recipe_text((REPO / "recipes" / f"{name}.yaml").read_text(), overrides=overrides)


def rendered(recipe, **options):
    return render(recipe, K8sOptions(run_id=RUN_ID, **options), LOCAL, REGISTRY)


TWO_NODE_ZERO3 = {"hardware": {"nodes": {"count": 2}}}


def test_the_schema_recipe_accepts_kubeflows_own_example(pytorchjob_schema):
    example = yaml.safe_load((KUBEFLOW / "example-pytorchjob.yaml").read_text())
    jsonschema.Draft4Validator(pytorchjob_schema).validate(example)


@pytest.mark.parametrize(
    ("recipe", "overrides"),
    [
        ("qwen2.5-7b-lora-ds-zero3", TWO_NODE_ZERO3),
        ("qwen2.5-7b-lora-npu-8card", {"hardware": {"nodes": {"count": 4}}}),
        ("qwen2.5-0.5b-lora", {}),
        ("cpu-smoke", {}),
    ],
)
def test_rendered_jobs_validate_against_the_pytorchjob_crd_and_the_core_schema(
    recipe, overrides, pytorchjob_schema
):
    manifest = rendered(shipped(recipe, **overrides))
    jsonschema.Draft4Validator(pytorchjob_schema).validate(manifest.job)
    kubernetes_validate.validate(manifest.config_map, K8S_VERSION, strict=True)
    for replica in manifest.job["spec"]["pytorchReplicaSpecs"].values():
        pod_template = {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": manifest.job_name},
            "template": replica["template"],
        }
        kubernetes_validate.validate(pod_template, K8S_VERSION, strict=True)


def test_the_multi_document_yaml_parses_back_to_the_same_documents():
    manifest = rendered(shipped("qwen2.5-7b-lora-ds-zero3", **TWO_NODE_ZERO3))
    text = manifest.to_yaml()
    assert list(yaml.safe_load_all(text)) == manifest.documents()
    assert "&id" not in text and "*id" not in text  # no YAML anchors for kubectl users to untangle


def test_two_nodes_are_a_master_and_a_worker_with_processes_per_node_as_a_string():
    job = rendered(shipped("qwen2.5-7b-lora-ds-zero3", **TWO_NODE_ZERO3)).job
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert {k: v["replicas"] for k, v in replicas.items()} == {"Master": 1, "Worker": 1}
    assert job["spec"]["nprocPerNode"] == "8"
    assert job["apiVersion"] == "kubeflow.org/v1" and job["kind"] == "PyTorchJob"


def container(manifest, replica: str = "Master") -> dict:
    return manifest.job["spec"]["pytorchReplicaSpecs"][replica]["template"]["spec"]["containers"][0]


def test_gpus_and_ascend_npus_are_asked_from_their_device_plugins():
    gpu = container(rendered(shipped("qwen2.5-7b-lora-ds-zero3")))
    npu = container(rendered(shipped("qwen2.5-7b-lora-npu-8card")))
    assert gpu["resources"]["limits"] == {"nvidia.com/gpu": 8}
    assert npu["resources"]["limits"] == npu["resources"]["requests"] == {"huawei.com/Ascend910": 8}
    assert "resources" not in container(rendered(shipped("cpu-smoke")))


def env_of(manifest) -> dict[str, str]:
    return {pair["name"]: pair["value"] for pair in container(manifest)["env"]}


def test_pods_get_the_compiled_environment_minus_what_the_cluster_sets():
    recipe = shipped("qwen2.5-7b-lora-npu-8card", hardware={"nodes": {"count": 2}})
    env = env_of(rendered(recipe))
    local = compile_recipe(
        recipe, target=Target("npu", 8), run_dir=Path("/r"), workspace=LOCAL, registry=REGISTRY
    ).env
    for key in ("FORCE_TORCHRUN", "NPROC_PER_NODE", "NNODES", "HCCL_CONNECT_TIMEOUT"):
        assert env[key] == local[key]
    # The operator sets MASTER_ADDR/PORT and PET_NODE_RANK; the device plugin picks the cards.
    for key in ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "ASCEND_RT_VISIBLE_DEVICES"):
        assert key not in env


def test_each_pod_runs_the_compiled_command_in_its_run_folder_with_its_node_rank():
    manifest = rendered(shipped("qwen2.5-7b-lora-ds-zero3", **TWO_NODE_ZERO3))
    script = container(manifest)["command"][2]
    run_dir = f"/workspace/adapters/{RUN_ID}"
    assert container(manifest)["command"][:2] == ["/bin/sh", "-c"]
    assert f"cp /etc/lorastudio/* {run_dir}/" in script and f"cd {run_dir}" in script
    assert 'export NODE_RANK="${PET_NODE_RANK:-0}"' in script
    assert script.endswith("exec llamafactory-cli train llamafactory.yaml")
    assert container(manifest)["ports"] == [{"name": "pytorchjob-port", "containerPort": 29500}]


def test_the_config_map_carries_the_recipe_and_what_it_compiles_to_for_the_claim():
    manifest = rendered(shipped("qwen2.5-7b-lora-ds-zero3", **TWO_NODE_ZERO3))
    files = manifest.config_map["data"]
    args = yaml.safe_load(files["llamafactory.yaml"])
    assert args["output_dir"] == f"/workspace/adapters/{RUN_ID}"
    assert args["deepspeed"] == f"/workspace/adapters/{RUN_ID}/ds_config.json"
    assert json.loads(files["ds_config.json"])["zero_optimization"]["stage"] == 3
    assert json.loads(files["dataset_info.json"]) == {
        "alpaca_en_demo": {"file_name": "/workspace/data/alpaca_en_demo.json"}
    }
    assert yaml.safe_load(files["recipe.yaml"])["name"] == "qwen2.5-7b-lora-ds-zero3"
    volumes = manifest.job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["volumes"]
    assert {"name": "work", "persistentVolumeClaim": {"claimName": "lorastudio"}} in volumes
    assert {"name": "recipe", "configMap": {"name": manifest.config_map["metadata"]["name"]}} in (
        volumes
    )


def test_image_namespace_and_claim_come_from_the_options():
    manifest = rendered(
        shipped("qwen2.5-0.5b-lora"), image="registry.local/lf:0.9.5", namespace="ml", pvc="team"
    )
    assert container(manifest)["image"] == "registry.local/lf:0.9.5"
    assert manifest.job["metadata"]["namespace"] == manifest.config_map["metadata"]["namespace"]
    assert "'team' in namespace ml" in manifest.to_yaml()


def test_job_names_are_dns_labels_short_enough_for_worker_pod_names():
    name = job_name_for("A_Very.Long.Recipe_Name-" * 4, "20250101-120000-x")
    assert len(f"{name}-worker-999") <= 63
    assert name == name.lower() and all(c.isalnum() or c == "-" for c in name)


def test_auto_device_cannot_be_resolved_for_a_cluster():
    with pytest.raises(RecipeError) as error:
        rendered(shipped("qwen2.5-0.5b-lora", hardware={"device": "auto"}))
    (problem,) = error.value.problems
    assert (problem.field, problem.message.key, problem.fix.key) == (
        "hardware.device",
        "cluster.auto_on_cluster",
        "cluster.fix.device",
    )
    assert problem.text("en") == (
        "hardware.device = 'auto': is resolved on the machine that runs it, and a cluster is not "
        "this machine. Fix: set hardware.device: cuda or npu, or pass --device cuda|npu"
    )
    assert problem.text("zh") == (
        "hardware.device = 'auto'：要在运行它的机器上才能确定，而集群不是本机。"
        "修正：请设 hardware.device: cuda 或 npu（命令行可用 --device cuda|npu）"
    )
    assert rendered(shipped("qwen2.5-0.5b-lora", hardware={"device": "auto"}), device="cuda")


def test_a_model_folder_outside_the_studio_cannot_reach_the_pods(tmp_path):
    recipe = shipped("qwen2.5-0.5b-lora", model={"id": str(tmp_path)})
    with pytest.raises(RecipeError) as error:
        rendered(recipe)
    (problem,) = error.value.problems
    assert (problem.field, problem.message.key) == ("model.id", "cluster.model_off_claim")
    assert "Fix: copy it onto the claim (e.g. /workspace/models/NAME)" in problem.text("en")
    assert "pod 看不到它。修正：请把它复制到存储卷上（如 /workspace/models/NAME）" in problem.text(
        "zh"
    )


def test_a_model_folder_inside_the_studio_is_found_on_the_claim(tmp_path):
    folder = tmp_path / "models" / "qwen"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "qwen2.5-tokenizer" / "config.json", folder)  # a model folder
    local = Workspace(tmp_path, LF_DATA, tmp_path / "adapters")
    recipe = shipped("qwen2.5-0.5b-lora", model={"id": "models/qwen"})
    manifest = render(recipe, K8sOptions(run_id=RUN_ID), local, REGISTRY)
    args = yaml.safe_load(manifest.config_map["data"]["llamafactory.yaml"])
    assert args["model_name_or_path"] == "/workspace/models/qwen"
    assert args["template"] == "qwen"  # resolved here from the folder's config.json


def test_launch_py_k8s_prints_the_manifest(studio: Studio):
    recipe = REPO / "recipes" / "qwen2.5-7b-lora-npu-8card.yaml"
    result = studio.cli("k8s", str(recipe), "--nnodes", "2", "--namespace", "ml")
    assert result.returncode == 0, result.stderr
    config_map, job = yaml.safe_load_all(result.stdout)
    assert (config_map["kind"], job["kind"]) == ("ConfigMap", "PyTorchJob")
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
    assert studio.run_dirs() == []  # rendering alone records no run
