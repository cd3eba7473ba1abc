"""A recipe as a Kubeflow Training Operator job: a ``PyTorchJob`` (kubeflow.org/v1; one Master pod
and ``hardware.nodes.count - 1`` Worker pods) and the ``ConfigMap`` that carries the recipe and
what it compiles to. Pure data, rendered to multi-document YAML; nothing here talks to a cluster
(`lorastudio.cluster.kubernetes` does) or imports the kubernetes client.

Each pod runs the command a local run runs — ``llamafactory-cli train llamafactory.yaml`` in the
run folder, with the compiled environment — so the image needs LLaMA-Factory only. The run
folder lives on a PersistentVolumeClaim mounted at /workspace, which also holds data/ (the
studio's data folder) and the Hugging Face cache. The operator gives every pod MASTER_ADDR,
MASTER_PORT (the Master's port named ``pytorchjob-port``), PET_NNODES, PET_NPROC_PER_NODE and
PET_NODE_RANK (training-operator v1.9.0, pkg/controller.v1/pytorch/envvar.go and master.go);
LLaMA-Factory's launcher reads NODE_RANK, so the pod command sets it from PET_NODE_RANK.
Cards come from the device plugin: ``nvidia.com/gpu``, or ``huawei.com/Ascend910`` from Ascend's
device plugin (MindCluster docs, "Usage on the Containerd Integrated with Kubernetes"); inside a
pod they are numbered from 0, so no visibility variable is set.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from lorastudio.errors import Problem, RecipeError
from lorastudio.llamafactory.compiler import (
    Target,
    compile_recipe,
    resolved_template,
)
from lorastudio.messages import msg
from lorastudio.recipe.schema import Recipe
from lorastudio.runs.layout import LAUNCH_FILE, run_files
from lorastudio.workspace import Workspace

API_VERSION = "kubeflow.org/v1"
KIND = "PyTorchJob"
CONTAINER = "pytorch"  # the operator finds the Master's port in the container of this name
PORT_NAME = "pytorchjob-port"
POD_ROOT = PurePosixPath("/workspace")  # the claim's mount point in every pod
CONFIG_MOUNT = PurePosixPath("/etc/lorastudio")  # the ConfigMap's mount point
RESOURCES = {"cuda": "nvidia.com/gpu", "npu": "huawei.com/Ascend910"}
# The images LLaMA-Factory's docs run (README "Install from Docker Image"; LLaMA-Factory-Doc
# npu_training.rst). "latest" moves: pin a tag that carries LLaMA-Factory 0.9.5 with --image.
DEFAULT_IMAGES = {
    "cuda": "hiyouga/llamafactory:latest",
    "npu": "hiyouga/llamafactory:latest-npu-a2",
    "cpu": "hiyouga/llamafactory:latest",
}
# Set by the operator (or by the device plugin); the compiled values would be wrong in a pod.
_FROM_THE_CLUSTER = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK")
_VISIBILITY = ("CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES")


@dataclass(frozen=True)
class K8sOptions:
    """How to place a recipe on a cluster (each has a CLI flag of `python launch.py k8s`)."""

    run_id: str
    image: str | None = None
    namespace: str = "default"
    pvc: str = "lorastudio"
    device: str | None = None  # cuda, npu, cpu; None: the recipe's hardware.device
    cards_per_node: int | None = None  # None: len(hardware.devices), else 1


@dataclass(frozen=True)
class Manifest:
    """A rendered job: its documents and the names they carry."""

    job_name: str
    namespace: str
    run_id: str
    device: str
    config_map: dict[str, Any]
    job: dict[str, Any]

    def documents(self) -> list[dict[str, Any]]:
        return [self.config_map, self.job]

    def to_yaml(self) -> str:
        header = (
            f"# LoRA Studio run {self.run_id}: a Kubeflow PyTorchJob and the ConfigMap with its "
            "recipe.\n"
            f"# Apply: kubectl apply -f THIS.yaml   (or: python launch.py k8s RECIPE --submit)\n"
            "# Needs: the Kubeflow Training Operator (kubeflow.org/v1) and the claim "
            f"'{_claim(self.job)}' in namespace {self.namespace},\n"
            "#        holding data/ (ReadWriteMany when the job has several pods).\n"
        )
        body = yaml.dump_all(
            self.documents(), Dumper=_PlainDumper, sort_keys=False, allow_unicode=True
        )
        return header + body


class _PlainDumper(yaml.SafeDumper):
    """Writes shared parts (labels, the pod template) out in full, with no YAML anchors, and
    the ConfigMap's files and the pod's script as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_PlainDumper.add_representer(str, _text)


def _claim(job: dict[str, Any]) -> str:
    volumes = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["volumes"]
    return next(v["persistentVolumeClaim"]["claimName"] for v in volumes if v["name"] == "work")


def job_name_for(recipe_name: str, run_id: str) -> str:
    """A DNS-1123 name (the operator names pods <job>-worker-<i>, at most 63 characters)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", recipe_name.lower()).strip("-")[:32].strip("-")
    stamp = run_id[:15].replace("_", "-")
    return f"{slug or 'lorastudio'}-{stamp}"


def draft_run_id(recipe_name: str, now: float | None = None) -> str:
    """The run id of a manifest that is rendered but not submitted (a submitted one carries
    its run folder's name instead)."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{recipe_name}"


def _pod_workspace() -> Workspace:
    root = Path(str(POD_ROOT))
    return Workspace(root=root, data_dir=root / "data", adapters_dir=root / "adapters")


def _pod_model(recipe: Recipe, local: Workspace) -> Recipe:
    """The recipe with a local model folder moved to where the pods see it (on the claim)."""
    folder = local.resolve_model(recipe.model.id)
    if folder is None:
        return recipe
    try:
        relative = folder.resolve().relative_to(local.root)
    except ValueError:
        fix = msg("cluster.fix.model_on_claim", path=POD_ROOT / "models" / "NAME")
        off_claim = Problem("model.id", recipe.model.id, msg("cluster.model_off_claim"), fix)
        raise RecipeError([off_claim]) from None
    # The template is resolved here, where the folder's config.json can be read; the pods get
    # it written out (their path to the folder does not exist on this machine).
    choice = resolved_template(recipe, local)
    update: dict[str, object] = {"id": str(POD_ROOT / relative), "template": choice.template}
    if choice.enable_thinking is not None:
        update["thinking"] = "on" if choice.enable_thinking else "off"
    model = recipe.model.model_copy(update=update)
    return recipe.model_copy(update={"model": model})


def _device(recipe: Recipe, options: K8sOptions) -> str:
    device = options.device or recipe.hardware.device
    if device == "auto":
        auto = msg("cluster.auto_on_cluster")
        raise RecipeError([Problem("hardware.device", "auto", auto, msg("cluster.fix.device"))])
    return device


def _container(options: K8sOptions, device: str, env: dict[str, str], script: str, port: int):
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": options.image or DEFAULT_IMAGES[device],
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"name": PORT_NAME, "containerPort": port}],
        "volumeMounts": [
            {"name": "work", "mountPath": str(POD_ROOT)},
            {"name": "recipe", "mountPath": str(CONFIG_MOUNT), "readOnly": True},
            {"name": "dshm", "mountPath": "/dev/shm"},
        ],
    }
    return container


def _pod_env(compiled_env: dict[str, str], device: str) -> dict[str, str]:
    env = {k: v for k, v in compiled_env.items() if k not in _FROM_THE_CLUSTER}
    if device != "cpu":
        env = {k: v for k, v in env.items() if k not in _VISIBILITY}
    env["HF_HOME"] = str(POD_ROOT / "hf-cache")  # one download for every pod and restart
    return env


def _script(run_dir: PurePosixPath, argv: list[str]) -> str:
    """Lay out the run folder on the claim from the ConfigMap, then run the compiled command."""
    return "\n".join(
        [
            "set -e",
            f"mkdir -p {run_dir}",
            f"cp {CONFIG_MOUNT}/* {run_dir}/",
            f"cd {run_dir}",
            'export NODE_RANK="${PET_NODE_RANK:-0}"  # set per pod by the Training Operator',
            "exec " + shlex.join(argv),
        ]
    )


def render(recipe: Recipe, options: K8sOptions, local: Workspace, registry: dict) -> Manifest:
    """The PyTorchJob and ConfigMap for ``recipe`` (validated against ``local``).

    Raises:
        RecipeError: the recipe cannot run on a cluster as written (auto device, a local model
            folder outside the studio).
    """
    device = _device(recipe, options)
    recipe = _pod_model(recipe, local)
    hardware = recipe.hardware
    if options.device is not None:
        hardware = hardware.model_copy(update={"device": options.device})
    cards = options.cards_per_node or len(hardware.devices or []) or 1
    processes = 1 if device == "cpu" else cards
    # In a pod the cards are 0..cards-1, whatever ids the recipe names for its own machine.
    hardware = hardware.model_copy(update={"devices": None})
    recipe = recipe.model_copy(update={"hardware": hardware})
    pods = _pod_workspace()
    run_dir = pods.adapters_dir / options.run_id
    target = Target(device, processes)
    compiled = compile_recipe(
        recipe, target=target, run_dir=run_dir, workspace=pods, registry=registry
    )
    name = job_name_for(recipe.name, options.run_id)
    labels = {"app.kubernetes.io/name": "lorastudio", "lorastudio/run": options.run_id}
    pod_env = _pod_env(compiled.env, device)
    files = run_files(recipe, replace(compiled, env=pod_env), run_dir)
    del files[LAUNCH_FILE]  # pods run command.sh; no supervisor reads launch.json there
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-recipe", "namespace": options.namespace, "labels": labels},
        "data": files,
    }
    script = _script(PurePosixPath(str(run_dir)), compiled.argv)
    container = _container(options, device, pod_env, script, hardware.nodes.master_port)
    if device in RESOURCES:
        amount = {RESOURCES[device]: cards}
        container["resources"] = {"limits": amount, "requests": dict(amount)}
    template = {
        "metadata": {"labels": labels},
        "spec": {
            "containers": [container],
            "volumes": [
                {"name": "work", "persistentVolumeClaim": {"claimName": options.pvc}},
                {"name": "recipe", "configMap": {"name": f"{name}-recipe"}},
                {"name": "dshm", "emptyDir": {"medium": "Memory"}},
            ],
        },
    }
    replicas = {"Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": template}}
    if hardware.nodes.count > 1:
        replicas["Worker"] = {
            "replicas": hardware.nodes.count - 1,
            "restartPolicy": "OnFailure",
            "template": template,
        }
    job = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": options.namespace, "labels": labels},
        "spec": {"nprocPerNode": str(processes), "pytorchReplicaSpecs": replicas},
    }
    return Manifest(name, options.namespace, options.run_id, device, config_map, job)
