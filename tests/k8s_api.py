"""A stand-in Kubernetes API server on 127.0.0.1 for the submit tests: it answers the REST calls
the official `kubernetes` client makes (create/get/delete a PyTorchJob, create a ConfigMap, read
a pod's log), records them, and checks a posted PyTorchJob against the real CRD schema as the API
server would. It is not a cluster: nothing is scheduled, and job states are set by the test."""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import yaml

JOBS = re.compile(r"^/apis/kubeflow\.org/v1/namespaces/([^/]+)/pytorchjobs(?:/([^/?]+))?$")
CONFIG_MAPS = re.compile(r"^/api/v1/namespaces/([^/]+)/configmaps$")
POD_LOG = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/log$")


class FakeKubernetesApi:
    """Start with ``with FakeKubernetesApi(crd_schema) as api:``; ``api.kubeconfig(path)``
    writes a kubeconfig that points the client at it."""

    def __init__(self, crd_schema: dict, has_training_operator: bool = True):
        self.schema = crd_schema
        self.has_training_operator = has_training_operator
        self.requests: list[tuple[str, str, dict | None]] = []
        self.jobs: dict[tuple[str, str], dict] = {}
        self.config_maps: dict[tuple[str, str], dict] = {}
        self.pod_logs: dict[tuple[str, str], str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "me", "user": {"token": "not-a-secret"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                    "current-context": "fake",
                }
            )
        )
        return path

    def set_condition(self, namespace: str, name: str, kind: str, message: str = "") -> None:
        job = self.jobs[namespace, name]
        conditions = job.setdefault("status", {}).setdefault("conditions", [])
        stamp = f"2025-01-01T00:00:{len(conditions):02d}Z"
        conditions.append(
            {"type": kind, "status": "True", "message": message, "lastTransitionTime": stamp}
        )
        job["status"]["startTime"] = "2025-01-01T00:00:00Z"

    def __enter__(self) -> FakeKubernetesApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def _reply(self, code: int, body: dict | str) -> None:
                data = body if isinstance(body, str) else json.dumps(body)
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            def _status(self, code: int, reason: str, message: str) -> None:
                body = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
                self._reply(code, body | {"reason": reason, "message": message, "code": code})

            def _body(self) -> dict | None:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length)) if length else None

            def _route(self, method: str) -> None:
                path = self.path.split("?")[0]
                body = self._body()
                api.requests.append((method, self.path, copy.deepcopy(body)))
                if (match := JOBS.match(path)) and not api.has_training_operator:
                    return self._status(404, "NotFound", "the server could not find the resource")
                if match := JOBS.match(path):
                    return self._jobs(method, match.group(1), match.group(2), body)
                if (match := CONFIG_MAPS.match(path)) and method == "POST":
                    body["metadata"]["uid"] = str(uuid.uuid4())
                    api.config_maps[match.group(1), body["metadata"]["name"]] = body
                    return self._reply(201, body)
                if (match := POD_LOG.match(path)) and method == "GET":
                    log = api.pod_logs.get((match.group(1), match.group(2)))
                    if log is None:
                        return self._status(404, "NotFound", f'pods "{match.group(2)}" not found')
                    return self._reply(200, log)
                return self._status(404, "NotFound", "the server could not find the resource")

            def _jobs(self, method: str, namespace: str, name: str | None, body) -> None:
                if method == "POST":
                    try:
                        jsonschema.Draft4Validator(api.schema).validate(body)
                    except jsonschema.ValidationError as exc:
                        return self._status(422, "Invalid", exc.message)
                    key = (namespace, body["metadata"]["name"])
                    if key in api.jobs:
                        return self._status(409, "AlreadyExists", f"{key[1]} already exists")
                    body["metadata"]["uid"] = str(uuid.uuid4())
                    api.jobs[key] = body
                    return self._reply(201, body)
                if (namespace, name) not in api.jobs:
                    return self._status(404, "NotFound", f'pytorchjobs "{name}" not found')
                if method == "GET":
                    return self._reply(200, api.jobs[namespace, name])
                if method == "DELETE":
                    del api.jobs[namespace, name]
                    return self._reply(200, {"kind": "Status", "status": "Success"})
                return self._status(405, "MethodNotAllowed", method)

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        return Handler
