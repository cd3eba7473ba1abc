"""The Train tab's Scale-out view, through its handlers: each node's command for a multi-node
recipe (what `launch.py train` prints on node 0), the PyTorchJob manifest (valid against the
real CRD schema, and byte for byte what `launch.py k8s` prints), and submit against the
stand-in API server (tests/k8s_api.py) recording a run the Runs tab lists — or saying, in the
user's language, why nothing was submitted."""

from __future__ import annotations

import argparse
import io
import re
import time
from pathlib import Path

import gradio as gr
import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import FIXTURES, LF_DATA, REPO, Studio
from k8s_api import FakeKubernetesApi

from lorastudio.cli.scale import print_launch_notes
from lorastudio.cluster.multinode import per_node_commands
from lorastudio.machine.hardware import Hardware
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.runs.index import RunIndex
from lorastudio.workspace import Workspace
from ui import editor, runs_view, scale_view
from ui.config import StudioConfig
from ui.labels import Labels
from ui.messages import problem_text

TWO_NODES = REPO / "recipes" / "qwen2.5-7b-lora-2node.yaml"
ONE_NODE = REPO / "recipes" / "qwen2.5-7b-lora-ds-zero3.yaml"
BLOCK = re.compile(r"```bash\n(.*?)\n```", re.DOTALL)
SETTINGS = ("", "ml", "lorastudio")  # image (empty: the default), namespace, claim


@pytest.fixture(scope="module")
def crd_schema() -> dict:
    crd = yaml.safe_load((FIXTURES / "kubeflow" / "kubeflow.org_pytorchjobs.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


@pytest.fixture
def studio(tmp_path: Path) -> Studio:
    return Studio(tmp_path.resolve(), LF_DATA)


@pytest.fixture
def act(studio: Studio) -> scale_view.ScaleActions:
    config = StudioConfig(
        Workspace(studio.home, LF_DATA, studio.adapters),
        (REPO / "recipes",),
        Hardware((), (), 2),  # a laptop: no GPU, yet it can prepare a GPU cluster's job
        "en",
        studio.home / "downloads",
    )
    with gr.Blocks():
        view = scale_view.build(Labels("en"))
    return scale_view.ScaleActions(view, config)


def use_kubeconfig(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Point the kubernetes client at ``path`` (it reads KUBECONFIG once, at import)."""
    from kubernetes.config import kube_config

    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))


@pytest.fixture
def cluster(crd_schema, studio: Studio, monkeypatch: pytest.MonkeyPatch):
    with FakeKubernetesApi(crd_schema) as api:
        use_kubeconfig(monkeypatch, api.kubeconfig(studio.home / "kubeconfig"))
        yield api


def shown(act: scale_view.ScaleActions, path: Path, lang: str = "en", settings=SETTINGS) -> dict:
    return act.show(lang, path.read_text(encoding="utf-8"), *settings)


def value(update) -> object:
    return update["value"] if isinstance(update, dict) else update


def test_a_two_node_recipe_shows_each_nodes_command_as_node_0_prints_them(act):
    out = shown(act, TWO_NODES)
    commands = BLOCK.findall(out[act.view.nodes])
    recipe = parse_recipe_text(TWO_NODES.read_text())
    downloaded = f"{recipe.name}.yaml"  # the file "Download recipe" gives
    assert commands == per_node_commands(recipe, downloaded)
    assert commands[1] == (
        f"python launch.py train {downloaded} --node-rank 1 --master-addr 192.168.0.1"
    )
    printed = io.StringIO()  # what `launch.py train` on node 0 prints for the other nodes
    args = argparse.Namespace(recipe=downloaded, overrides=[])
    print_launch_notes(act.config.workspace.root, recipe, args, printed)
    assert [line.strip() for line in printed.getvalue().splitlines()[1:]] == commands[1:]


def test_a_one_node_recipe_says_how_to_set_nodes_in_either_language(act):
    assert "hardware.nodes.count" in shown(act, ONE_NODE)[act.view.nodes]
    zh = shown(act, ONE_NODE, "zh")[act.view.nodes]
    assert "机器数" in zh and "```" not in zh


def test_what_this_machine_finds_wrong_as_node_0_is_said_in_the_users_language(act):
    text = TWO_NODES.read_text().replace("master_addr: 192.168.0.1", "master_addr: 127.0.0.1")
    text = text.replace("interface: eth0", "interface: no-such-nic0")
    english = act.show("en", text, *SETTINGS)[act.view.nodes]
    assert "is a loopback address" in english and "is not a network interface" in english
    chinese = act.show("zh", text, *SETTINGS)[act.view.nodes]
    assert "回环地址" in chinese and "不是本机的网络接口" in chinese and "节点 1" in chinese


def test_a_recipe_with_problems_shows_the_previews_problems_and_no_manifest(act):
    text = TWO_NODES.read_text().replace("rank: 16 ", "rank: 0 ").replace("[alpaca_en_demo]", "[x]")
    preview = editor.check(text, act.config)
    assert len(preview.problems) == 2
    out = act.show("zh", text, *SETTINGS)
    for problem in preview.problems:
        assert problem_text(problem, "zh") in out[act.view.nodes]
    assert out[act.view.manifest] == "" and out[act.view.download]["interactive"] is False


def test_the_manifest_validates_against_the_pytorchjob_crd_and_the_core_schema(act, crd_schema):
    out = shown(act, TWO_NODES)
    config_map, job = yaml.safe_load_all(out[act.view.manifest])
    jsonschema.Draft4Validator(crd_schema).validate(job)
    kubernetes_validate.validate(config_map, "1.30", strict=True)
    assert job["metadata"]["namespace"] == config_map["metadata"]["namespace"] == "ml"
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1
    container = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    assert container["image"] == "hiyouga/llamafactory:latest"  # the empty box's default
    assert out[act.view.image]["placeholder"] == container["image"]


def test_the_downloaded_manifest_is_what_launch_py_k8s_prints(act, studio: Studio):
    result = studio.cli("k8s", str(TWO_NODES), "--namespace", "ml", "--image", "reg/lf:0.9.5")
    assert result.returncode == 0, result.stderr
    run_id = re.match(r"# LoRA Studio run (\S+):", result.stdout)[1]
    act.clock = lambda: time.mktime(time.strptime(run_id[:15], "%Y%m%d-%H%M%S"))
    out = shown(act, TWO_NODES, settings=("reg/lf:0.9.5", "ml", ""))
    path = Path(value(out[act.view.download]))
    assert path.name == "qwen2.5-7b-lora-2node-pytorchjob.yaml"
    assert path.read_text(encoding="utf-8") == result.stdout == out[act.view.manifest]


def test_an_auto_device_recipe_shows_its_nodes_but_says_why_it_has_no_manifest(act):
    text = (REPO / "recipes" / "cpu-smoke.yaml").read_text().replace("device: cpu", "device: auto")
    out = act.show("zh", text, *SETTINGS)
    assert out[act.view.manifest] == "" and "要在运行它的机器上才能确定" in out[act.view.problems]


def test_submit_sends_the_job_and_records_a_run_the_runs_tab_lists(act, studio, cluster):
    out = act.submit("en", TWO_NODES.read_text(), *SETTINGS)
    (run_dir,) = studio.run_dirs()
    ((namespace, job_name),) = cluster.jobs
    assert out[act.view.message] == (
        f"Submitted run {run_dir.name}: PyTorchJob {job_name} in namespace ml at {cluster.url}. "
        "The Runs tab follows its state."
    )
    _, job = yaml.safe_load_all((run_dir / "kubernetes.yaml").read_text())
    assert cluster.requests[0][2] == job  # exactly what was recorded, as the CLI does
    (info,) = RunIndex(studio.adapters).sync()  # what the Runs tab lists
    assert (info.id, info.backend, info.state) == (run_dir.name, "kubernetes", "starting")
    cluster.set_condition(namespace, job_name, "Running")
    (info,) = RunIndex(studio.adapters).sync()
    assert info.state == "running"
    assert run_dir.name in str(runs_view.table([info], "en"))


def test_without_a_cluster_submit_says_so_and_records_nothing(act, studio, monkeypatch):
    use_kubeconfig(monkeypatch, studio.home / "no-such-kubeconfig")
    english = act.submit("en", TWO_NODES.read_text(), *SETTINGS)[act.view.message]
    assert "no Kubernetes cluster is configured" in english and "KUBECONFIG" in english
    assert "Nothing was submitted" in english and "Traceback" not in english
    chinese = act.submit("zh", TWO_NODES.read_text(), *SETTINGS)[act.view.message]
    assert "没有配置 Kubernetes 集群" in chinese and "没有提交任何内容" in chinese
    assert studio.run_dirs() == []


def test_an_unreachable_cluster_is_named_and_nothing_is_recorded(
    act, studio, crd_schema, monkeypatch
):
    api = FakeKubernetesApi(crd_schema)  # never started: its address is only for the kubeconfig
    use_kubeconfig(monkeypatch, api.kubeconfig(studio.home / "kubeconfig"))
    api.server.server_close()
    english = act.submit("en", TWO_NODES.read_text(), *SETTINGS)[act.view.message]
    assert f"cannot reach the Kubernetes API server at {api.url}" in english
    chinese = act.submit("zh", TWO_NODES.read_text(), *SETTINGS)[act.view.message]
    assert f"无法连接 {api.url} 上的 Kubernetes API 服务器" in chinese
    assert studio.run_dirs() == []


def test_a_cluster_without_the_training_operator_is_told_to_install_it(
    act, studio, crd_schema, monkeypatch
):
    with FakeKubernetesApi(crd_schema, has_training_operator=False) as api:
        use_kubeconfig(monkeypatch, api.kubeconfig(studio.home / "kubeconfig"))
        chinese = act.submit("zh", TWO_NODES.read_text(), *SETTINGS)[act.view.message]
    assert "安装 Kubeflow Training Operator" in chinese and studio.run_dirs() == []
