"""The Scale-out view in a real browser (Debian's Chromium through Playwright) against a real
`python launch.py`: a shipped two-node recipe shows node 1's command, ready to copy, and the
manifest downloads as <recipe>-pytorchjob.yaml; the view follows the language switch. It
rewrites ui/screenshots/train-scale-out.png."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from studio_page import (
    StudioServer,
    chromium,
    needs_browser,
    open_studio,
    pick_recipe,
    studio_home,
    yaml_text,
)

pytestmark = needs_browser

RECIPE = "qwen2.5-7b-lora-2node.yaml"
SCREENSHOT = Path(__file__).resolve().parents[1] / "ui" / "screenshots" / "train-scale-out.png"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    server = StudioServer(studio_home(tmp_path_factory.mktemp("studio"), {})).start()
    with chromium() as browser:
        page = open_studio(browser, server.url, downloads=True)
        yield page
        assert "Traceback" not in page.content()
    server.kill()


def test_a_two_node_recipe_shows_node_1s_command_and_downloads_its_manifest(page):
    pick_recipe(page, RECIPE)
    page.get_by_text("Scale out: several machines, Kubernetes").click()
    node_1 = page.locator("#scale-nodes pre", has_text="--node-rank 1")
    node_1.wait_for()
    assert node_1.inner_text().strip() == (
        f"python launch.py train {RECIPE} --node-rank 1 --master-addr 192.168.0.1"
    )
    assert page.locator("#scale-nodes pre").count() == 2  # one block per node
    page.wait_for_function(
        "() => document.querySelector('#k8s-manifest .cm-content').innerText.includes('ConfigMap')"
    )
    page.locator("#scale-out").screenshot(path=str(SCREENSHOT))  # the README's picture
    with page.expect_download() as download:
        page.click("#k8s-download")
    assert download.value.suggested_filename == "qwen2.5-7b-lora-2node-pytorchjob.yaml"
    config_map, job = yaml.safe_load_all(Path(download.value.path()).read_text())
    assert (config_map["kind"], job["kind"]) == ("ConfigMap", "PyTorchJob")
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 1


def test_the_view_follows_the_language_switch(page):
    if "name: qwen2.5-7b-lora-2node" not in yaml_text(page):
        pick_recipe(page, RECIPE)
        page.get_by_text("Scale out: several machines, Kubernetes").click()
    page.get_by_label("中文").check()
    page.get_by_text("扩展：多台机器、Kubernetes").wait_for()
    page.locator("#scale-nodes", has_text="节点 1").wait_for()
    assert page.locator("#k8s-submit").inner_text().strip() == "提交到集群"
    page.get_by_label("English").check()
    page.locator("#scale-nodes", has_text="Node 1").wait_for()
