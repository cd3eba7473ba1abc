"""Adding a large data file keeps memory flat: peak RSS against file size, for the two ways a
file gets in.

    python benchmarks/bench_data_upload.py [--sizes 64,256,1024] [--no-studio] [--keep DIR]

For each size (MiB) a JSON Lines file of OpenAI-style conversations is generated (unique rows,
about 1 KB each, so every row is read, checked and fingerprinted), then:
- `data add`: `python launch.py data add FILE` runs as a child process; its peak RSS is the
  kernel's own count for that child (os.wait4's ru_maxrss);
- studio: a real `python launch.py --port P` with `LORASTUDIO_MAX_UPLOAD_MB` above the size;
  headless Chromium drops the file on the Data tab and clicks "Add dataset"; the studio
  process's RSS is sampled every 50 ms from before the upload until the dataset is listed (the
  preview's LLaMA-Factory child is a process of its own and is reported apart).
Prints a table and JSON: size, seconds, peak RSS, and RSS growth over an idle process. Needs
../shared/fixtures for the tiny model's tokenizer; the studio part needs Chromium at
/usr/bin/chromium and Playwright (--no-studio skips it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import Studio, tiny_recipe  # noqa: E402
from studio_page import StudioServer, chromium, open_studio, studio_home  # noqa: E402

WORDS = ["data", "model", "token", "answer", "question", "studio", "recipe", "adapter", "rank"]
MIB = 1024 * 1024


def generate(path: Path, size_mib: int, seed: int = 0) -> int:
    """A JSONL file of about ``size_mib`` MiB of distinct conversations; returns its rows."""
    rng = random.Random(seed)
    rows, written, target = 0, 0, size_mib * MIB
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            batch = []
            for _ in range(1000):
                words = " ".join(rng.choice(WORDS) for _ in range(60))
                turns = [
                    {"role": "system", "content": "You are a careful assistant."},
                    {"role": "user", "content": f"Question {rows}: {words}?"},
                    {"role": "assistant", "content": f"Answer {rows}: {words[::-1]}."},
                ]
                batch.append(json.dumps({"messages": turns}))
                rows += 1
            text = "\n".join(batch) + "\n"
            out.write(text)
            written += len(text)
    return rows


def idle_rss_mib() -> float:
    """What an interpreter that imported the CLI weighs before it reads a byte."""
    code = "import lorastudio.cli.main, psutil; print(psutil.Process().memory_info().rss)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    return int(done.stdout.strip()) / MIB


def bench_cli(path: Path, home: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of `python launch.py data add FILE`."""
    home.mkdir(parents=True, exist_ok=True)
    studio = Studio(home, home / "data")
    env = studio.env | {
        "LORASTUDIO_DATA_DIR": str(home / "data"),
        "LORASTUDIO_MAX_UPLOAD_MB": str(2 * path.stat().st_size // MIB + 1),
    }
    started = time.monotonic()
    child = subprocess.Popen(
        studio.argv("data", "add", str(path), "--name", path.stem),
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"data add failed: {child.stderr.read().decode()[-2000:]}")
    return time.monotonic() - started, usage.ru_maxrss / 1024  # KiB on Linux


class Sampler(threading.Thread):
    """The peak RSS of one process, sampled every 50 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, False

    def run(self) -> None:
        while not self.done:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


def bench_studio(path: Path, home: Path, model: Path, browser) -> tuple[float, float, float]:
    """Seconds from the drop to the dataset listed, the studio's RSS before, and its peak."""
    home.mkdir(parents=True, exist_ok=True)
    studio = studio_home(home, {"tiny.yaml": tiny_recipe(model)})
    studio.env |= {
        "LORASTUDIO_DATA_DIR": str(home / "data"),
        "LORASTUDIO_MAX_UPLOAD_MB": str(2 * path.stat().st_size // MIB + 1),
    }
    server = StudioServer(studio).start()
    try:
        page = open_studio(browser, server.url)
        page.get_by_role("tab", name="Data").click()
        before = psutil.Process(server.process.pid).memory_info().rss / MIB
        sampler = Sampler(server.process.pid)
        sampler.start()
        started = time.monotonic()
        page.set_input_files("#data-upload input[type=file]", str(path))
        page.wait_for_function(
            "() => document.querySelector('#data-recognised').innerText.includes('openai')",
            timeout=1_800_000,
        )
        page.click("#data-add")
        page.wait_for_function(
            "() => document.querySelector('#data-message').innerText.includes('Added')",
            timeout=1_800_000,
        )
        seconds = time.monotonic() - started
        sampler.done = True
        page.context.close()
        return seconds, before, sampler.peak / MIB
    finally:
        server.kill()


def row(size: float, via: str, seconds: float, peak: float, growth: float) -> dict:
    return {
        "size_mib": round(size),
        "via": via,
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak),
        "growth_mib": round(growth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,256,1024", help="file sizes in MiB")
    parser.add_argument("--no-studio", action="store_true", help="only `data add`")
    parser.add_argument("--keep", type=Path, help="generate the files here and keep them")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-data-"))
    work.mkdir(parents=True, exist_ok=True)
    model = None
    if not args.no_studio:  # built in a child: this process stays small, so a forked child's
        model = work / "tiny-qwen2"  # peak RSS (wait4) is its own, not a copy of this one's
        code = f"from conftest import build_tiny_qwen2; build_tiny_qwen2({str(model)!r})"
        subprocess.run([sys.executable, "-c", code], cwd=REPO / "tests", check=True)
    results, idle = [], idle_rss_mib()
    print(f"idle CLI interpreter: {idle:.0f} MiB RSS", flush=True)
    context = chromium() if not args.no_studio else None
    browser = context.__enter__() if context else None
    try:
        for size in sizes:
            path = work / f"chats-{size}mib.jsonl"
            if not path.exists():
                generate(path, size)
            real = path.stat().st_size / MIB
            seconds, peak = bench_cli(path, work / f"cli-{size}")
            results.append(row(real, "data add", seconds, peak, peak - idle))
            print(json.dumps(results[-1]), flush=True)
            if browser is not None:
                seconds, before, peak = bench_studio(path, work / f"studio-{size}", model, browser)
                results.append(row(real, "studio", seconds, peak, peak - before))
                print(json.dumps(results[-1]), flush=True)
    finally:
        if context:
            context.__exit__(None, None, None)
    print(f"\n{'size (MiB)':>10} {'via':<9} {'seconds':>8} {'peak RSS (MiB)':>15} {'growth':>7}")
    for r in results:
        print(
            f"{r['size_mib']:>10} {r['via']:<9} {r['seconds']:>8} {r['peak_rss_mib']:>15} "
            f"{r['growth_mib']:>7}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
