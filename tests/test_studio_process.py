"""`python launch.py` opens the studio: up in seconds because the UI process never imports
torch, transformers or LLaMA-Factory; exposure beyond this machine needs a login; the headless
commands keep working beside it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import LF_DATA, REPO, Studio
from studio_page import free_port, popen

from ui.options import exposure_problem, is_studio_call, parse_auth

HEAVY = ("torch", "transformers", "llamafactory")


def wait_http(url: str, timeout: float = 60) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.mark.slow
def test_the_studio_process_imports_neither_torch_nor_transformers_nor_llamafactory(
    tmp_path: Path,
):
    """Build and launch the app, load a recipe, check it and preview its launch, estimate its
    memory and list the cached models — the work a page load, an edit and the model picker do —
    then look at what the interpreter has imported."""
    code = f"""
import sys, json, tempfile, urllib.request
from pathlib import Path
from lorastudio.machine.hardware import detect
from lorastudio.workspace import Workspace
from ui.app import build_app
from ui.config import StudioConfig
from ui import editor
root = Path({str(REPO)!r})
config = StudioConfig(Workspace.from_env(root), (root / "recipes",), detect(), "en",
                      Path(tempfile.mkdtemp()))
demo = build_app(config)
demo.queue().launch(server_port={free_port()}, prevent_thread_lock=True, quiet=True)
urllib.request.urlopen(demo.local_url).read()
checked = editor.check((root / "recipes" / "cpu-smoke.yaml").read_text(), config)
assert checked.command and not checked.problems, checked
from ui import model_choice  # the model picker: its estimate and this machine's caches
from lorastudio.models.picking import local_models
assert "GiB" in model_choice.estimate_text(checked.text, config, "en")
local_models()
print("HEAVY=" + json.dumps([m for m in {HEAVY!r} if m in sys.modules]), flush=True)
demo.close()
"""
    env = {"LORASTUDIO_HOME": str(tmp_path), "LORASTUDIO_DATA_DIR": str(LF_DATA)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=Studio(tmp_path, LF_DATA).env | env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("HEAVY=")]
    assert json.loads(line.removeprefix("HEAVY=")) == []


@pytest.mark.slow
def test_python_launch_py_opens_the_studio_and_says_where(studio: Studio):
    """How fast it opens is measured by benchmarks/bench_live.py against LlamaBoard's start-up;
    that it stays light is the test above (no torch, transformers or llamafactory imported)."""
    port = free_port()
    started = time.monotonic()
    server = popen(studio, "--port", str(port))
    try:
        first_line = server.stdout.readline()  # printed once the server listens
        wait_http(f"http://127.0.0.1:{port}/")
        seconds = time.monotonic() - started
        print(f"\nstudio answered HTTP 200 {seconds:.1f} s after `python launch.py` started")
    finally:
        server.terminate()
        rest = server.communicate(timeout=30)[0]
    assert first_line.startswith(f"LoRA Studio is up at http://127.0.0.1:{port}"), first_line
    assert "Traceback" not in first_line + rest


def test_another_address_without_a_login_is_refused_with_how_to_enable_it(studio: Studio):
    result = studio.cli("--host", "0.0.0.0", timeout=60)
    assert result.returncode == 2
    assert "--auth user:password" in result.stderr and "LORASTUDIO_AUTH" in result.stderr
    assert "Traceback" not in result.stderr
    bad = studio.cli("--auth", "no-colon", timeout=60)
    assert bad.returncode == 2 and "user:password" in bad.stderr


@pytest.mark.slow
def test_with_a_login_nothing_is_served_before_signing_in(studio: Studio):
    port = free_port()
    studio.env["LORASTUDIO_AUTH"] = "team:s3cret"
    server = popen(studio, "--port", str(port))
    try:
        assert "is up" in server.stdout.readline()
        base = f"http://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/config", timeout=10)
        assert refused.value.code == 401
        jar = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.parse.urlencode({"username": "team", "password": "s3cret"}).encode()
        assert jar.open(f"{base}/login", data=login, timeout=10).status == 200
        assert jar.open(f"{base}/config", timeout=10).status == 200
    finally:
        server.terminate()
        server.communicate(timeout=30)


@pytest.mark.parametrize(
    ("host", "auth", "refused"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.20", None, True),
        ("studio.example.com", None, True),
        ("0.0.0.0", ("team", "secret"), False),
    ],
)
def test_only_loopback_is_served_without_a_login(host, auth, refused):
    assert (exposure_problem(host, auth) is not None) is refused


def test_logins_and_studio_calls_are_told_apart_from_commands():
    assert parse_auth("team:s3:cret") == ("team", "s3:cret") and parse_auth(None) is None
    with pytest.raises(ValueError):
        parse_auth("team:")
    assert is_studio_call([]) and is_studio_call(["--port", "7861", "--lang", "zh"])
    assert not is_studio_call(["runs"]) and not is_studio_call(["--help"])


def test_help_lists_the_commands_and_the_studio_options(studio: Studio):
    result = studio.cli("--help", timeout=60)
    assert result.returncode == 0
    for word in ("validate", "train", "runs", "--host", "--auth", "--lang"):
        assert word in result.stdout
