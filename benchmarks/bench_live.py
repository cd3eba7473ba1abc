"""The studio's start-up and live view against LLaMA-Factory's web UI (LlamaBoard), in one run.

    python benchmarks/bench_live.py [--repeats 2] [--steps 40] [--model PATH]

Compares, on CPU with the tiny test model:
- start-up: seconds from process start to HTTP 200 on `/` for `python launch.py --port P`
  against `llamafactory-cli webui` (GRADIO_SERVER_NAME=127.0.0.1, GRADIO_SERVER_PORT=P);
  median of --repeats starts each;
- trainer line → screen: one real training each, started from each UI in headless Chromium.
  A thread notes when each step's line reaches trainer_log.jsonl; a script in the page notes
  when each step number first shows in the progress bar (ours: `.ls-progress` data-step;
  LlamaBoard: its progress slider's label `Running N/T: ...`). A step's latency is the first
  time the page shows that step or a later one, minus when its line was written; a step never
  shown (the run ended first) is counted apart. The peer trains what the studio compiled: its
  UI gets the model path, data dir and dataset, its "Extra arguments" box the other keys.
Prints medians, p95 and ratios (ours / peer) as a table and as JSON, with each training's own
train_runtime for context (how far apart its steps were). Builds the tiny test model
itself unless --model is given; needs ../shared/fixtures (or LORASTUDIO_FIXTURES), Chromium at
/usr/bin/chromium and Playwright.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import LF_DATA, build_tiny_qwen2, tiny_recipe  # noqa: E402
from studio_page import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    STEP_CLOCK,
    StepLog,
    StudioServer,
    choose,
    free_port,
    studio_home,
    wait_progress,
)

# Records, in LlamaBoard's page, when each step first appears in its progress slider's label.
BOARD_CLOCK = """
window.__stepSeen = {};
new MutationObserver(() => {
  for (const el of document.querySelectorAll('[data-testid="block-info"]')) {
    const m = /Running (\\d+)\\/(\\d+)/.exec(el.textContent);
    if (m && !(m[1] in window.__stepSeen)) window.__stepSeen[m[1]] = Date.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""
# Keys LlamaBoard's own boxes set; the rest of the compiled config goes in "Extra arguments".
SET_IN_BOARD_UI = {"model_name_or_path", "dataset", "dataset_dir", "output_dir"}
# LlamaBoard's own values that the studio's config leaves to LLaMA-Factory's defaults.
BOARD_OVERRIDES = {"preprocessing_num_workers": None, "bf16": False, "fp16": False}


class Board:
    """One `llamafactory-cli webui` process, in a folder of its own (it writes saves/ there)."""

    def __init__(self, folder: Path, env: dict):
        self.folder, self.env = folder, env
        self.process: subprocess.Popen | None = None
        self.port, self.startup_seconds = 0, 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Board:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = self.env | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port)}
        cli = Path(sys.executable).parent / "llamafactory-cli"
        started = time.monotonic()
        self.process = subprocess.Popen(
            [str(cli), "webui"],
            env=env,
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill() ends its trainer too
        )
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=2).read()
                break
            except OSError as error:
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise SystemExit(f"llamafactory-cli webui exited ({code})") from error
                time.sleep(0.1)
        self.startup_seconds = time.monotonic() - started
        return self

    def kill(self) -> None:
        """SIGKILL to the web UI's process group: the web UI and any trainer it started."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def startups(make, repeats: int) -> tuple[list[float], object]:
    """Start ``repeats`` servers made by ``make`` one after the other; all but the last are
    killed."""
    times, server = [], None
    for _ in range(repeats):
        if server:
            server.kill()
        server = make().start()
        times.append(server.startup_seconds)
    return times, server


def latencies(shown: dict[str, float], written: dict[str, float]) -> tuple[list[float], int]:
    """Per written step: first time the page showed it or a later step, minus when its line was
    written; and how many steps the page never reached."""
    shown_at = {int(step): ms for step, ms in shown.items()}
    out, missed = [], 0
    for step, ms in written.items():
        if step == "0":
            continue
        later = [seen for s, seen in shown_at.items() if s >= int(step)]
        if later:
            out.append(min(later) - ms)
        else:
            missed += 1
    return out, missed


@dataclass
class Watched:
    """One training watched in a browser: when each step showed in the page and when its line
    reached trainer_log.jsonl (wall clock, ms), and the run's folder."""

    shown: dict[str, float]
    written: dict[str, float]
    run_dir: Path

    def train_seconds(self) -> float:
        """The trainer's own train_runtime, for context: how far apart the steps were."""
        return json.loads((self.run_dir / "train_results.json").read_text())["train_runtime"]


def watch_ours(browser, server: StudioServer, steps: int) -> Watched:
    """Start the bench recipe from the studio's Train tab and watch it to the end."""
    page = new_page(browser, STEP_CLOCK, server.url)
    page.wait_for_selector("#recipe-yaml .cm-content")
    choose(page, "#recipe-picker", "bench.yaml")  # may be chosen already: no message then
    page.wait_for_function(
        "() => document.querySelector('#recipe-yaml .cm-content').innerText.includes('name: bench')"
    )
    page.click("#start")
    page.wait_for_function(
        "() => document.querySelector('#train-message').innerText.includes('Started run')",
        timeout=60_000,
    )
    run_id = page.locator("#train-message").inner_text().split("Started run ")[1]
    run_dir = server.studio.adapters / run_id.strip().rstrip(".")
    log = StepLog(run_dir / "trainer_log.jsonl")
    log.start()
    wait_progress(page, state="succeeded", step=steps, timeout=900)
    log.done = True
    shown = page.evaluate("window.__stepSeen")
    page.context.close()
    return Watched(shown, log.seen, run_dir)


def watch_peer(browser, board: Board, model: Path, extra: dict) -> Watched:
    """Fill LlamaBoard's Train tab (model, data dir, dataset, extra arguments), press Start and
    watch its progress slider until the run is finished."""
    page = new_page(browser, BOARD_CLOCK, board.url)
    field(page, "Model path").wait_for(timeout=120_000)
    field(page, "Model name", exact=True).fill("Custom")
    page.get_by_role("option", name="Custom", exact=True).click()
    time.sleep(1)  # choosing a model name fills the model path: type ours after that
    field(page, "Model path").fill(str(model))
    field(page, "Data dir").fill(str(LF_DATA))
    field(page, "Dataset", exact=True).click()
    page.get_by_role("option", name="identity", exact=True).click()
    page.keyboard.press("Escape")
    page.get_by_text("Extra configurations").click()
    field(page, "Extra arguments").fill(json.dumps(extra))
    started = time.time()
    page.get_by_role("button", name="Start", exact=True).click()
    trainer_log = wait_for_file(board.folder / "saves", "trainer_log.jsonl", started)
    log = StepLog(trainer_log)
    log.start()
    page.get_by_text("Finished.").first.wait_for(timeout=900_000)
    log.done = True
    shown = page.evaluate("window.__stepSeen")
    page.context.close()
    return Watched(shown, log.seen, trainer_log.parent)


def field(page, label: str, exact: bool = False):
    """The visible input labelled ``label`` (LlamaBoard's other tabs hold hidden namesakes)."""
    return page.get_by_label(label, exact=exact).filter(visible=True).first


def wait_for_file(folder: Path, name: str, after: float, timeout: float = 300) -> Path:
    """The first file called ``name`` under ``folder`` made after ``after`` (the run's log)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in folder.rglob(name) if folder.is_dir() else []:
            if path.stat().st_mtime >= after:
                return path
        time.sleep(0.002)
    raise SystemExit(f"no {name} under {folder} after {timeout:.0f} s: did LlamaBoard start?")


def new_page(browser, clock: str, url: str):
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    context.add_init_script(clock)
    page = context.new_page()
    page.goto(url)
    return page


def summary(values: list[float]) -> tuple[float, float]:
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
    return statistics.median(values), p95


def report(ours_up: list[float], peer_up: list[float], ours: Watched, peer: Watched) -> None:
    """Print the table, then the same numbers as JSON."""
    (ours_ms, ours_missed), (peer_ms, peer_missed) = (
        latencies(w.shown, w.written) for w in (ours, peer)
    )
    (om, op), (pm, pp) = summary(ours_ms), summary(peer_ms)
    rows = {
        "start-up to HTTP 200 (s)": (statistics.median(ours_up), statistics.median(peer_up)),
        "trainer line → screen, median (ms)": (om, pm),
        "trainer line → screen, p95 (ms)": (op, pp),
        "training's train_runtime (s)": (ours.train_seconds(), peer.train_seconds()),
    }
    counts = {
        "steps written / shown / never": tuple(
            f"{len(w.written)}/{len(w.shown.keys() & w.written.keys())}/{missed}"
            for w, missed in ((ours, ours_missed), (peer, peer_missed))
        ),
        "start-ups (s)": tuple(", ".join(f"{s:.1f}" for s in up) for up in (ours_up, peer_up)),
    }
    print(f"{'measure':<34} {'LoRA Studio':>12} {'LlamaBoard':>12} {'ratio':>7}")
    for name, (a, b) in rows.items():
        print(f"{name:<34} {a:>12.2f} {b:>12.2f} {a / b:>7.2f}")
    for name, (a, b) in counts.items():
        print(f"{name:<34} {a:>12} {b:>12}")
    result = {
        name: {"lorastudio": a, "llamaboard": b, "ratio": a / b} for name, (a, b) in rows.items()
    }
    result |= {name: {"lorastudio": a, "llamaboard": b} for name, (a, b) in counts.items()}
    print(json.dumps(result, ensure_ascii=False))


def board_extra_args(run_dir: Path) -> dict:
    """What goes in LlamaBoard's "Extra arguments" box: the config the studio compiled for the
    run, less what LlamaBoard's own boxes set, plus undoing LlamaBoard's own defaults."""
    compiled = yaml.safe_load((run_dir / "llamafactory.yaml").read_text())
    return {k: v for k, v in compiled.items() if k not in SET_IN_BOARD_UI} | BOARD_OVERRIDES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="start-ups of each server")
    parser.add_argument("--steps", type=int, default=40, help="steps of the one training each")
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="lorastudio-bench-live-"))
    model = args.model or build_tiny_qwen2(work / "tiny-qwen2")
    recipe = tiny_recipe(model, name="bench", max_steps=args.steps, save_steps=1000)
    (work / "studio").mkdir()
    studio = studio_home(work / "studio", {"bench.yaml": recipe})
    bin_dir = str(Path(sys.executable).parent)
    board_env = os.environ | {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),  # it runs llamafactory-cli
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:  # one side after the other: the last server started trains, then is killed
            ours_up, server = startups(lambda: StudioServer(studio), args.repeats)
            try:
                ours = watch_ours(browser, server, args.steps)
            finally:
                server.kill()
            peer_up, board = startups(lambda: Board(work / "board", board_env), args.repeats)
            try:
                peer = watch_peer(browser, board, model, board_extra_args(ours.run_dir))
            finally:
                board.kill()
        finally:
            browser.close()

    report(ours_up, peer_up, ours, peer)


if __name__ == "__main__":
    main()
