"""Two "nodes" on one machine, for real: two `python launch.py train` processes (node 0 and node 1,
each with its own studio folder, as on two machines) meet over loopback through LLaMA-Factory's
launcher and torchrun, train the tiny Qwen2 model together on CPU with Gloo, and node 0 ends up
with the one adapter. Stopping node 0 stops its ranks; node 1 then ends, saying a peer left."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import LF_DATA, Studio, tiny_recipe
from test_training_e2e import run_processes, status_of, steps_logged, wait_for

from lorastudio.machine.network import free_port

pytestmark = pytest.mark.slow


def two_nodes(tmp_path: Path, tiny_model: Path, steps: int) -> tuple[Studio, Studio, Path]:
    node0 = Studio(tmp_path / "node0", LF_DATA)
    node1 = Studio(tmp_path / "node1", LF_DATA)
    for node in (node0, node1):
        node.home.mkdir()
        node.env["OMP_NUM_THREADS"] = "1"  # two trainers share this machine's cores
    port = free_port()
    nodes = f"  nodes: {{count: 2, master_addr: 127.0.0.1, master_port: {port}, interface: lo}}"
    text = tiny_recipe(tiny_model, name="tiny2", max_steps=steps, save_steps=5) + nodes + "\n"
    recipe = tmp_path / "tiny2.yaml"  # one recipe file, as a shared folder would hold it
    recipe.write_text(text)
    return node0, node1, recipe


def start(node: Studio, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        node.argv("train", *args),
        env=node.env,
        cwd=node.home,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    node0, node1, recipe = two_nodes(tmp_path_factory.mktemp("nodes"), tiny_model, steps=10)
    first = start(node0, str(recipe))
    second = start(node1, str(recipe), "--node-rank", "1", "--master-addr", "127.0.0.1")
    out0, _ = first.communicate(timeout=600)
    out1, _ = second.communicate(timeout=600)
    (run0,) = node0.run_dirs()
    (run1,) = node1.run_dirs()
    return (node0, first.returncode, out0, run0), (node1, second.returncode, out1, run1)


def test_two_nodes_train_one_model_in_a_world_of_two(trained):
    (_, code0, out0, run0), (_, code1, out1, run1) = trained
    assert (code0, code1) == (0, 0), out0 + out1
    log0, log1 = (run0 / "train.log").read_text(), (run1 / "train.log").read_text()
    assert "Process rank: 0, world size: 2" in log0
    assert "Process rank: 1, world size: 2" in log1
    assert "Multi-node training enabled: num nodes: 2, node rank: 1" in log1


def test_the_adapter_and_progress_come_from_node_0_only(trained):
    (_, _, out0, run0), (_, _, out1, run1) = trained
    assert (run0 / "adapter_model.safetensors").is_file()
    assert not (run1 / "adapter_model.safetensors").exists()
    assert [r["current_steps"] for r in steps_logged(run0) if "loss" in r] == list(range(1, 11))
    assert steps_logged(run1) == []
    assert "10/10" in out0 and f"adapter: {run0}" in out0
    assert "node 1 of 2: progress and the adapter are on node 0 (127.0.0.1)" in out1


def test_node_0_prints_the_command_for_node_1(trained):
    (_, _, out0, _), _ = trained
    assert "start the other nodes with:" in out0
    assert "--node-rank 1 --master-addr 127.0.0.1 --master-port" in out0


def test_each_node_records_its_rank_and_node_1_points_at_node_0(trained):
    (node0, _, _, run0), (node1, _, _, run1) = trained
    assert run1.name.endswith("-tiny2-node1")
    status = status_of(run1)
    assert status["state"] == "succeeded" and status["node_rank"] == 1
    assert "the adapter is on node 0 (127.0.0.1)" in status["reason"]
    (row,) = json.loads(node1.cli("runs", "--json").stdout)
    assert row["node_rank"] == 1 and row["adapter"] is None and row["state"] == "succeeded"
    (row,) = json.loads(node0.cli("runs", "--json").stdout)
    assert row["adapter"] == str(run0) and row["step"] == 10


def test_stopping_node_0_stops_its_ranks_and_node_1_ends_saying_a_peer_left(
    tmp_path: Path, tiny_model: Path
):
    node0, node1, recipe = two_nodes(tmp_path, tiny_model, steps=400)
    first = start(node0, str(recipe), "--detach")
    second = start(node1, str(recipe), "--node-rank", "1", "--detach")
    assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
    (run0,) = node0.run_dirs()
    (run1,) = node1.run_dirs()
    wait_for(lambda: len(steps_logged(run0)) >= 3, timeout=400)

    stopped = node0.cli("stop", run0.name, timeout=200)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    status = status_of(run0)
    assert "stopped cleanly; the adapter trained so far is saved" in status["reason"]
    assert (run0 / "adapter_model.safetensors").is_file()
    assert run_processes(status) == []
    final = wait_for(lambda: status_of(run1)["state"] in ("failed", "stopped") and status_of(run1))
    assert final["failure"] == "peer_lost", final
    assert run_processes(final) == []
