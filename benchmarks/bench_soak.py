"""The studio's memory over a long time with pages open: resident memory sampled while headless
Chromium tabs stay open (and, optionally, click), to show whether it stays flat.

    python benchmarks/bench_soak.py [--tabs 5] [--minutes 10] [--clicks-per-second 0]
                                    [--python PY --repo DIR]

Starts `python launch.py` on a studio folder holding one finished run (made by hand: its status
and trainer log), opens --tabs tabs on the Train tab (each watches that run, as a page left open
does), and samples the studio process's resident memory (RSS) every --every seconds for
--minutes. With --clicks-per-second R, each tab instead shows the Runs tab and clicks its
Refresh button R times a second (one gradio event per click, the load a 0.2 s timer put on the
old studio). --python and --repo run another checkout's studio (e.g. main's, for a before/after
figure). Prints each sample, then RSS at the start and the end, the slope in MiB per hour, the
events the pages fired and KiB per event; the same as JSON. A figure, not a test: nothing is
asserted. Needs Chromium at /usr/bin/chromium and Playwright.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import LF_DATA, Studio  # noqa: E402
from studio_page import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, StudioServer  # noqa: E402

# In each clicking page: click the Runs tab's Refresh button R times a second, counting clicks.
CLICKER = """rate => {
  window.__clicks = 0;
  setInterval(() => {
    const button = document.querySelector('#runs-refresh');
    if (button) { button.click(); window.__clicks += 1; }
  }, 1000 / rate);
}"""


class OtherStudio(Studio):
    """A studio folder served by another checkout's launch.py and Python."""

    def __init__(self, home: Path, python: str, repo: Path):
        super().__init__(home, LF_DATA)
        self.python, self.repo = python, repo

    def argv(self, *args: str) -> list[str]:
        return [self.python, str(self.repo / "launch.py"), *args]


def finished_run(adapters: Path, steps: int = 200) -> Path:
    """A succeeded run folder, as the trainer and supervisor leave one (status, trainer log)."""
    run_dir = adapters / "20250101-000000-soak"
    run_dir.mkdir(parents=True)
    now = time.time()
    status = {"state": "succeeded", "name": "soak", "created_at": now - 600}
    status |= {"started_at": now - 600, "ended_at": now - 60, "exit_code": 0, "device": "cpu"}
    (run_dir / "status.json").write_text(json.dumps(status))
    lines = [
        {"current_steps": s, "total_steps": steps, "loss": 2.0 / s, "elapsed_time": "0:00:10"}
        for s in range(1, steps + 1)
    ]
    (run_dir / "trainer_log.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (run_dir / "train.log").write_text("done\n")
    (run_dir / "recipe.yaml").write_text("schema_version: 1\nname: soak\n")
    return run_dir


def open_tabs(browser, url: str, count: int, rate: float) -> list:
    pages = []
    for _ in range(count):
        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(url)
        page.wait_for_selector("#recipe-yaml .cm-content")
        if rate > 0:
            page.get_by_role("tab", name="Runs").click()
            page.evaluate(CLICKER, rate)
        pages.append(page)
    return pages


def clicks(pages: list) -> int:
    return sum(page.evaluate("window.__clicks || 0") for page in pages)


def soak(process: psutil.Process, pages: list, minutes: float, every: float) -> list[dict]:
    """RSS every ``every`` seconds for ``minutes``: [{seconds, rss_mib, events}]."""
    samples, start = [], time.monotonic()
    while True:
        elapsed = time.monotonic() - start
        rss = process.memory_info().rss / 2**20
        samples.append({"seconds": round(elapsed), "rss_mib": round(rss, 1)})
        samples[-1]["events"] = clicks(pages)
        print(f"{elapsed:7.0f} s  {rss:7.1f} MiB  {samples[-1]['events']:6d} clicks", flush=True)
        if elapsed >= minutes * 60:
            return samples
        pages[0].wait_for_timeout(every * 1000)  # the pages run on meanwhile


def report(samples: list[dict], tabs: int, rate: float) -> dict:
    first, last = samples[0], samples[-1]
    hours = max(last["seconds"] - first["seconds"], 1) / 3600
    grown = last["rss_mib"] - first["rss_mib"]
    events = last["events"] - first["events"]
    result = {
        "tabs": tabs,
        "clicks_per_second_per_tab": rate,
        "minutes": round(hours * 60, 1),
        "rss_start_mib": first["rss_mib"],
        "rss_end_mib": last["rss_mib"],
        "rss_max_mib": max(s["rss_mib"] for s in samples),
        "slope_mib_per_hour": round(grown / hours, 1),
        "events_clicked": events,
        "kib_per_event": round(grown * 1024 / events, 2) if events else None,
    }
    for name, value in result.items():
        print(f"{name:<28} {value}")
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--every", type=float, default=30, help="seconds between samples")
    parser.add_argument("--clicks-per-second", type=float, default=0.0)
    parser.add_argument("--warmup", type=float, default=30, help="seconds before the first sample")
    parser.add_argument("--python", default=sys.executable, help="the Python that runs the studio")
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose studio runs")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="lorastudio-bench-soak-"))
    studio = OtherStudio(home, args.python, args.repo)
    finished_run(studio.adapters)
    server = StudioServer(studio).start()
    process = psutil.Process(server.process.pid)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            try:
                pages = open_tabs(browser, server.url, args.tabs, args.clicks_per_second)
                pages[0].wait_for_timeout(args.warmup * 1000)
                samples = soak(process, pages, args.minutes, args.every)
            finally:
                browser.close()
        time.sleep(args.every)
        after = process.memory_info().rss / 2**20
        print(f"after the tabs closed: {after:.1f} MiB")
    finally:
        server.kill()
    report(samples, args.tabs, args.clicks_per_second)


if __name__ == "__main__":
    main()
