"""Sends a rendered job to the cluster of the user's kubeconfig with the official ``kubernetes``
client (CustomObjectsApi for the PyTorchJob, CoreV1Api for the ConfigMap), records it as a run
folder, and later reads its state back for `python launch.py runs`, its Master's log for `logs`,
and deletes it for `stop`. The client is imported only inside these functions
(``pip install -e '.[k8s]'``); the core never imports it at module import.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from lorastudio.cluster.pytorchjob import API_VERSION, CONTAINER, KIND, K8sOptions, Manifest, render
from lorastudio.errors import RunError
from lorastudio.messages import Msg, msg
from lorastudio.recipe.schema import Recipe, dump_recipe
from lorastudio.runs.layout import MANIFEST_FILE, RECIPE_FILE, create_run_dir, write_run_files
from lorastudio.runs.status import Backend, RunState, RunStatus, read_status, update_status
from lorastudio.workspace import Workspace

GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "pytorchjobs"
TIMEOUT_ENV = "LORASTUDIO_K8S_TIMEOUT"  # seconds one API call may take (connect + answer)
DEFAULT_TIMEOUT = 30.0
# PyTorchJob condition types (kubeflow.org/v1 JobConditionType) -> run states.
_STATES = {
    "Created": RunState.STARTING,
    "Running": RunState.RUNNING,
    "Restarting": RunState.RUNNING,
    "Succeeded": RunState.SUCCEEDED,
    "Failed": RunState.FAILED,
    "Suspended": RunState.STOPPED,
}


class ClusterError(RunError):
    """The cluster answered with an error, or could not be reached (``status`` is None then)."""

    def __init__(self, message: Msg, fix: Msg | None = None, status: int | None = None):
        super().__init__(message, fix)
        self.status = status


class _Api:
    """The client's API objects for one kubeconfig context."""

    def __init__(self, context: str | None):
        try:
            from kubernetes import client, config
        except ImportError:
            raise RunError(msg("cluster.no_client")) from None
        try:
            api_client = config.new_client_from_config(context=context)
        except (config.ConfigException, OSError, TypeError) as exc:
            missing = msg("cluster.no_kubeconfig", reason=exc)
            raise RunError(missing, msg("cluster.fix.kubeconfig")) from None
        self.server = api_client.configuration.host
        self.context = context
        self.timeout = _timeout()
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.ApiException = client.ApiException

    def call(self, what: Msg, function, *args, **kwargs) -> Any:
        """Run one API call (``what`` says which, ``cluster.what.*``); every failure becomes a
        RunError that says what to do."""
        import urllib3

        kwargs.setdefault("_request_timeout", self.timeout)
        try:
            return function(*args, **kwargs)
        except self.ApiException as exc:
            raise ClusterError(*_explain(exc, what, self.server), status=exc.status) from None
        except urllib3.exceptions.TimeoutError:
            seconds = f"{self.timeout:g}"
            late = msg("cluster.timeout", server=self.server, seconds=seconds, what=what)
            raise ClusterError(late, msg("cluster.fix.timeout_more", name=TIMEOUT_ENV)) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            away = msg("cluster.unreachable", server=self.server, what=what, reason=exc)
            raise ClusterError(away, msg("cluster.fix.check_cluster")) from None


def _timeout() -> float:
    """Seconds one API call may take, from LORASTUDIO_K8S_TIMEOUT (default 30): a server that
    accepts the connection and never answers must not hold `--submit` or the studio forever."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        value = -1.0
    if not value > 0:
        bad = msg("cluster.bad_timeout", name=TIMEOUT_ENV, value=repr(text))
        raise RunError(bad, msg("cluster.fix.timeout"))
    return value


def _explain(exc: Any, what: Msg, server: str) -> tuple[Msg, Msg | None]:
    """What the API's error means for the user, and the fix where there is one."""
    status = getattr(exc, "status", None)
    reason = (getattr(exc, "reason", "") or "").strip()
    if status == 404 and what.key == "cluster.what.create_job":
        return msg("cluster.no_operator", server=server, what=what), msg("cluster.fix.operator")
    if status in (401, 403):
        refused = msg("cluster.refused", server=server, what=what, status=status, reason=reason)
        return refused, msg("cluster.fix.rights")
    if status == 409:
        return msg("cluster.already_exists", what=what, reason=reason), msg("cluster.fix.exists")
    return msg("cluster.failed", server=server, what=what, status=status, reason=reason), None


def submit(
    manifest: Manifest, recipe: Recipe, run_dir: Path, context: str | None = None
) -> dict[str, Any]:
    """Create the PyTorchJob, then its ConfigMap (owned by the job, so deleting the job deletes
    it), and record the run in ``run_dir``. Returns the run's status.

    Raises:
        RunError: no kubeconfig, cluster unreachable, no Training Operator, no permission.
    """
    api = _Api(context)
    namespace = manifest.namespace
    created = api.call(
        msg("cluster.what.create_job"),
        api.custom.create_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        body=manifest.job,
    )
    config_map = copy.deepcopy(manifest.config_map)
    config_map["metadata"]["ownerReferences"] = [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": manifest.job_name,
            "uid": created["metadata"]["uid"],
        }
    ]
    try:
        api.call(
            msg("cluster.what.create_config_map"),
            api.core.create_namespaced_config_map,
            namespace,
            config_map,
        )
    except RunError:
        _delete_job(api, namespace, manifest.job_name)
        raise
    write_run_files(run_dir, {RECIPE_FILE: dump_recipe(recipe), MANIFEST_FILE: manifest.to_yaml()})
    now = time.time()
    return update_status(
        run_dir,
        id=run_dir.name,
        name=recipe.name,
        state=RunState.STARTING,
        created_at=now,
        starting_since=now,
        recipe_hash=recipe.content_hash(),
        backend=Backend.KUBERNETES,
        kubernetes={
            "namespace": namespace,
            "job": manifest.job_name,
            "uid": created["metadata"]["uid"],
            "context": context,
            "server": api.server,
            "device": manifest.device,
            "pods": 1
            + manifest.job["spec"]["pytorchReplicaSpecs"].get("Worker", {}).get("replicas", 0),
        },
    )


def submit_new_run(
    recipe: Recipe, options: K8sOptions, workspace: Workspace, context: str | None = None
) -> tuple[Manifest, dict[str, Any]]:
    """Record a new run of ``recipe``, render its job under the run's id and submit it (what
    `python launch.py k8s --submit` and the studio do). Returns the manifest sent and the run's
    status; when anything fails, no run folder is left behind (nothing was submitted).

    Raises:
        RecipeError: the recipe cannot run on a cluster as written.
        RunError: no kubeconfig, cluster unreachable, no Training Operator, no permission.
    """
    run_dir = create_run_dir(workspace.adapters_dir, recipe.name)
    try:
        options = replace(options, run_id=run_dir.name)
        manifest = render(recipe, options, workspace, workspace.dataset_registry())
        status = submit(manifest, recipe, run_dir, context=context)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return manifest, status


def _delete_job(api: _Api, namespace: str, name: str) -> None:
    api.call(
        msg("cluster.what.delete_job"),
        api.custom.delete_namespaced_custom_object,
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        propagation_policy="Foreground",
    )


def state_of(job: dict[str, Any]) -> tuple[RunState, Msg | None]:
    """(run state, reason) from a PyTorchJob's status conditions (the newest true one)."""
    conditions = [
        c for c in job.get("status", {}).get("conditions") or [] if c.get("status") == "True"
    ]
    if not conditions:
        return RunState.STARTING, msg("reason.k8s_waiting")
    last = max(conditions, key=lambda c: c.get("lastTransitionTime") or "")
    state = _STATES.get(last.get("type"), RunState.RUNNING)
    said = last.get("message") or ""
    reason = None if state in (RunState.RUNNING, RunState.SUCCEEDED) or not said else _cluster(said)
    if last.get("type") == "Restarting":
        reason = _cluster(said) if said else msg("reason.k8s_restarting")
    return state, reason


def _cluster(text: str) -> Msg:
    """What the cluster itself said (the operator's own words)."""
    return msg("reason.k8s_said", text=text)


def refresh(run_dir: Path, status: RunStatus) -> RunStatus:
    """Ask the cluster for the job's state and record it (unchanged when the cluster cannot be
    reached: ``cluster_error`` says why)."""
    info = status.kubernetes or {}
    if status.final:
        return status
    try:
        api = _Api(info.get("context"))
        job = api.call(
            msg("cluster.what.read_job"),
            api.custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            info["namespace"],
            PLURAL,
            info["job"],
        )
    except RunError as exc:
        if isinstance(exc, ClusterError) and exc.status == 404:
            return update_status(
                run_dir,
                state=RunState.STOPPED,
                ended_at=time.time(),
                reason=msg("reason.k8s_deleted", job=info.get("job")),
            )
        return update_status(run_dir, cluster_error=str(exc))
    state, reason = state_of(job)
    fields: dict[str, Any] = {"state": state, "reason": reason, "cluster_error": None}
    start_time = (job.get("status") or {}).get("startTime")
    if start_time and not status.started_at:
        fields["started_at"] = time.time()
    if state.final:
        fields["ended_at"] = time.time()
    return update_status(run_dir, **fields)


def stop(run_dir: Path, status: RunStatus, wait: bool = True, timeout: float | None = None):
    """Delete the run's PyTorchJob (its pods and ConfigMap go with it)."""
    info = status.kubernetes or {}
    api = _Api(info.get("context"))
    _delete_job(api, info["namespace"], info["job"])
    return update_status(
        run_dir,
        state=RunState.STOPPED,
        ended_at=time.time(),
        reason=msg("reason.k8s_stopped", job=info["job"]),
    )


def resume(run_dir: Path, status: RunStatus) -> RunStatus:
    """A run on Kubernetes is not resumed from here: its recipe is submitted again."""
    raise RunError(
        msg("run.k8s_resume", run=run_dir.name),
        msg("fix.k8s_submit_again", path=str(run_dir / RECIPE_FILE)),
    )


def log_text(run_dir: Path, status: RunStatus) -> str:
    """What `logs` shows for a run on the cluster: its Master pod's log."""
    return master_log(run_dir)


def master_log(run_dir: Path, tail_lines: int = 200) -> str:
    """The last lines the Master pod printed (its rank 0: progress and errors)."""
    info = read_status(run_dir).kubernetes or {}
    api = _Api(info.get("context"))
    return api.call(
        msg("cluster.what.read_log"),
        api.core.read_namespaced_pod_log,
        f"{info['job']}-master-0",
        info["namespace"],
        container=CONTAINER,
        tail_lines=tail_lines,
    )
