"""The Train tab's folded "Scale out" view: the command each node of a multi-node recipe runs
(ready to copy), and the recipe as a Kubeflow PyTorchJob + ConfigMap — shown, downloadable, and
submitted to the cluster of the user's kubeconfig, where the Runs tab follows it. It follows the
recipe in the editor as the compiled preview does; every callback is a thin call into lorastudio
(`multinode`, `k8s`, `k8s_submit`), the same calls `python launch.py train|k8s` make."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from lorastudio.checks.nodes import node_problems
from lorastudio.checks.validation import check_recipe_text
from lorastudio.cluster.kubernetes import submit_new_run
from lorastudio.cluster.multinode import per_node_commands
from lorastudio.cluster.pytorchjob import DEFAULT_IMAGES, K8sOptions, Manifest, draft_run_id, render
from lorastudio.errors import LoraStudioError
from lorastudio.recipe.schema import Recipe
from ui.config import StudioConfig
from ui.labels import Labels
from ui.locale import t
from ui.messages import explain, guarded, problem_text

MANIFEST_SUFFIX = "-pytorchjob.yaml"  # the download is <recipe name>-pytorchjob.yaml
_DEFAULTS = K8sOptions(run_id="")  # namespace and claim as `python launch.py k8s` has them


@dataclass
class ScaleView:
    nodes: gr.Markdown  # each node's command, or how to set several nodes
    image: gr.Textbox
    namespace: gr.Textbox
    pvc: gr.Textbox
    manifest: gr.Code
    problems: gr.Markdown  # why there is no manifest
    download: gr.DownloadButton
    submit: gr.Button
    message: gr.Markdown  # what a submit did

    def settings(self) -> list:
        """The cluster settings the user types (the inputs after the recipe text)."""
        return [self.image, self.namespace, self.pvc]

    def outputs(self) -> list:
        """What following the recipe updates."""
        return [self.nodes, self.image, self.manifest, self.problems, self.download, self.message]


def build(labels: Labels) -> ScaleView:
    """Lay out the view, folded, inside the current Blocks context: the nodes' commands beside
    the Kubernetes job (the Train tab puts it under the recipe picker)."""
    folded = labels.make(gr.Accordion, {"label": "scale.title"}, open=False, elem_id="scale-out")
    with folded, gr.Row(equal_height=False):
        with gr.Column(scale=1):
            labels.make(gr.Markdown, {"value": "scale.nodes_title"})
            nodes = gr.Markdown(elem_id="scale-nodes")
        with gr.Column(scale=1):
            labels.make(gr.Markdown, {"value": "scale.k8s_title"})
            image, namespace, pvc = _cluster_settings(labels)
            manifest = labels.make(
                gr.Code,
                {"label": "scale.manifest"},
                language="yaml",
                interactive=False,
                lines=14,
                max_lines=14,
                elem_id="k8s-manifest",
            )
            problems = gr.Markdown(elem_classes=["field-error"], elem_id="k8s-problems")
            with gr.Row():
                download = labels.make(
                    gr.DownloadButton,
                    {"label": "scale.download"},
                    interactive=False,
                    elem_id="k8s-download",
                )
                submit = labels.make(gr.Button, {"value": "scale.submit"}, elem_id="k8s-submit")
            message = gr.Markdown(elem_id="k8s-message")
    return ScaleView(nodes, image, namespace, pvc, manifest, problems, download, submit, message)


def _cluster_settings(labels: Labels) -> tuple[gr.Textbox, gr.Textbox, gr.Textbox]:
    """Image, namespace and claim: `python launch.py k8s --image --namespace --pvc`."""
    image = labels.make(
        gr.Textbox,
        {"label": "scale.image", "info": "scale.image_info"},
        placeholder=DEFAULT_IMAGES["cuda"],
        elem_id="k8s-image",
    )
    with gr.Row():
        namespace = labels.make(
            gr.Textbox, {"label": "scale.namespace"}, value=_DEFAULTS.namespace, elem_id="k8s-ns"
        )
        pvc = labels.make(
            gr.Textbox,
            {"label": "scale.pvc", "info": "scale.pvc_info"},
            value=_DEFAULTS.pvc,
            elem_id="k8s-pvc",
        )
    return image, namespace, pvc


def _code_block(command: str) -> str:
    """A fenced block longer than any run of backticks in the command (a quoted address)."""
    longest = max((len(run) for run in re.findall(r"`+", command)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}bash\n{command}\n{fence}"


def node_text(recipe: Recipe, lang: str) -> str:
    """Markdown: one copyable command per node (``per_node_commands`` on the downloaded recipe
    file), then what this machine, as node 0, finds wrong; for one node, how to set several."""
    nodes = recipe.hardware.nodes
    if nodes.count == 1:
        return t("scale.one_node", lang)
    file = f"{recipe.name}.yaml"  # the name "Download recipe" gives the file
    parts = [t("scale.node_intro", lang, count=nodes.count, file=file)]
    if nodes.rank != 0:
        parts.append("⚠️ " + t("scale.rank_note", lang, rank=nodes.rank))
    for rank, command in enumerate(per_node_commands(recipe, file)):
        head = (
            t("scale.node_master", lang, addr=nodes.master_addr, port=nodes.master_port)
            if rank == 0
            else t("scale.node_other", lang, rank=rank)
        )
        parts.append(f"**{head}**\n\n{_code_block(command)}")
    problems, warnings = node_problems(recipe)
    if problems or warnings:
        parts.append(t("scale.node_checks", lang))
        parts.append("\n".join(f"- ⚠️ {problem_text(p, lang)}" for p in problems + warnings))
    return "\n\n".join(parts)


def manifest_file(text: str, recipe_name: str, downloads_dir: Path) -> Path:
    """Write a rendered manifest for the download button (one folder per content, so two
    browsers never overwrite each other's file) and return its path."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = downloads_dir / digest / f"{recipe_name}{MANIFEST_SUFFIX}"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return path


_NO_DOWNLOAD = {"value": None, "interactive": False}


@dataclass
class ScaleActions:
    """The view's callbacks; ``clock`` dates a rendered manifest's run id as the CLI does."""

    view: ScaleView
    config: StudioConfig
    clock: Callable[[], float] = time.time
    inputs: list = field(default_factory=list)  # lang, the recipe text, the settings

    def options(self, recipe_name: str, image: str, namespace: str, pvc: str) -> K8sOptions:
        """The settings as `python launch.py k8s --image --namespace --pvc` takes them."""
        return K8sOptions(
            run_id=draft_run_id(recipe_name, self.clock()),
            image=(image or "").strip() or None,
            namespace=(namespace or "").strip() or _DEFAULTS.namespace,
            pvc=(pvc or "").strip() or _DEFAULTS.pvc,
        )

    def render(self, recipe: Recipe, image: str, namespace: str, pvc: str) -> Manifest:
        """The recipe's PyTorchJob + ConfigMap, exactly as `python launch.py k8s` renders it."""
        workspace = self.config.workspace
        options = self.options(recipe.name, image, namespace, pvc)
        return render(recipe, options, workspace, workspace.dataset_registry())

    def show(self, lang: str, text: str, image: str, namespace: str, pvc: str) -> dict:
        """Follow the recipe: the nodes' commands, the manifest and its download; a recipe with
        problems shows them (the preview's own texts) instead."""
        view = self.view
        try:
            recipe = check_recipe_text(text or "", self.config.workspace, source="recipe")
        except (LoraStudioError, OSError) as exc:
            blocked = f"{explain(exc, lang)}\n\n{t('scale.blocked', lang)}"
            empty = {view.manifest: "", view.problems: "", view.download: gr.update(**_NO_DOWNLOAD)}
            return {view.nodes: blocked} | empty
        out: dict[Any, Any] = {view.nodes: node_text(recipe, lang)}
        device = recipe.hardware.device
        if device in DEFAULT_IMAGES:  # the image an empty box stands for
            out[view.image] = gr.update(placeholder=DEFAULT_IMAGES[device])
        try:
            manifest = self.render(recipe, image, namespace, pvc)
        except LoraStudioError as exc:  # e.g. device auto, a model folder the pods cannot see
            no_manifest = {view.manifest: "", view.download: gr.update(**_NO_DOWNLOAD)}
            return out | no_manifest | {view.problems: explain(exc, lang)}
        yaml_text = manifest.to_yaml()
        path = manifest_file(yaml_text, recipe.name, self.config.downloads_dir)
        download = gr.update(value=str(path), interactive=True)
        return out | {view.manifest: yaml_text, view.problems: "", view.download: download}

    def submit(self, lang: str, text: str, image: str, namespace: str, pvc: str) -> dict:
        """Send the job to the kubeconfig's cluster as `launch.py k8s --submit` does; the run is
        recorded (the Runs tab lists it) only when the cluster took it."""
        workspace = self.config.workspace
        try:
            recipe = check_recipe_text(text or "", workspace, source="recipe")
            options = self.options(recipe.name, image, namespace, pvc)
            manifest, status = submit_new_run(recipe, options, workspace)
        except Exception as exc:  # explain() logs what it does not know; no traceback shows
            said = f"{explain(exc, lang)}\n\n{t('scale.not_submitted', lang)}"
            return {self.view.message: said}
        cluster = status.kubernetes or {}
        done = t(
            "scale.submitted",
            lang,
            run=manifest.run_id,
            job=cluster["job"],
            namespace=cluster["namespace"],
            server=cluster["server"],
        )
        return {self.view.message: done}

    def follow(self, event: Any) -> Any:
        """Re-render after ``event`` (the language switch), in the language it set."""
        return event.then(
            guarded(self.view.message, self.show),
            self.inputs,
            self.view.outputs(),
            show_progress="hidden",
        )


def wire(view: ScaleView, config: StudioConfig, lang: Any, recipe_text: gr.Code) -> ScaleActions:
    """Follow the recipe text (every change, whoever made it) and the settings; submit."""
    act = ScaleActions(view, config, inputs=[lang, recipe_text, *view.settings()])
    follow = {"show_progress": "hidden", "trigger_mode": "always_last"}
    show = guarded(view.message, act.show)
    recipe_text.change(show, act.inputs, view.outputs(), **follow)
    for box in view.settings():
        box.input(show, act.inputs, view.outputs(), **follow)
    view.submit.click(
        guarded(view.message, act.submit), act.inputs, [view.message], concurrency_limit=1
    )
    return act
