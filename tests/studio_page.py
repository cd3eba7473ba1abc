"""What the browser tests share: a real studio process (`python launch.py`) on a free port with
its own folders, Debian's Chromium driven by Playwright, and small readers of the page.

Browser tests are skipped, with the reason, when /usr/bin/chromium or Playwright is missing;
.ci/run installs both, so CI runs them."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import LF_DATA, Studio

from ui.locale import FIELDS

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # browser tests are skipped without Playwright (needs_browser)
    PlaywrightTimeout = TimeoutError

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
LINE_BLUE = (0x25, 0x63, 0xEB)  # ui.plots.PALETTE[0], the first curve
LINE_ORANGE = (0xF9, 0x73, 0x16)  # ui.plots.PALETTE[1], the second curve

needs_browser = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's Chromium at /usr/bin/chromium "
        "(apt-get install chromium chromium-driver fonts-noto-cjk; .ci/run does it)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None, reason="pip install playwright"
    ),
]

# Records, in the page, when each training step first appears in the progress bar.
STEP_CLOCK = """
window.__stepSeen = {};
new MutationObserver(() => {
  const bar = document.querySelector('.ls-progress');
  if (bar && !(bar.dataset.step in window.__stepSeen)) {
    window.__stepSeen[bar.dataset.step] = Date.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
"""


def popen(studio: Studio, *args: str) -> subprocess.Popen:
    """`python launch.py ARGS` in the background, output (stdout and stderr) on a pipe."""
    return subprocess.Popen(
        studio.argv(*args),
        env=studio.env,
        cwd=studio.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


VIEWPORT = {"width": 1500, "height": 1100}


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright; closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def open_studio(browser, url: str, init_script: str | None = None, downloads: bool = False):
    """The studio at ``url`` in a new browser context (own storage, as a fresh profile's tab),
    returned once the recipe editor is drawn and the page's load event has filled it.
    ``init_script`` runs in the page before its own."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=downloads)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#recipe-yaml .cm-content")
    # the page's own load event fills the pickers: a list opened before it ends is redrawn
    page.wait_for_function("() => document.body.dataset.studioReady === '1'")
    return page


class StudioServer:
    """One `python launch.py --port P` process serving a studio folder."""

    def __init__(self, studio: Studio):
        self.studio = studio
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> StudioServer:
        self.port = free_port()
        started = time.monotonic()
        self.process = popen(self.studio, "--port", str(self.port))
        line = self.process.stdout.readline()
        assert "LoRA Studio is up" in line, line + self.process.stdout.read(4000)
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        self.startup_seconds = time.monotonic() - started
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # drain
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash or a closed terminal would: nothing is cleaned up."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


def studio_home(tmp_path: Path, recipes: dict[str, str]) -> Studio:
    """A studio folder whose recipes/ holds ``recipes`` (the picker lists them)."""
    studio = Studio(tmp_path, LF_DATA)
    (tmp_path / "recipes").mkdir()
    for name, text in recipes.items():
        (tmp_path / "recipes" / name).write_text(text)
    return studio


class StepLog(threading.Thread):
    """Watches a run's trainer_log.jsonl every 2 ms and notes when each step's line appeared
    (wall clock, ms): the trainer side of the trainer-line-to-screen latency."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.seen, self.done = path, {}, False

    def run(self) -> None:
        offset = 0
        while not self.done:
            try:
                with self.path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except OSError:
                chunk = b""
            now = time.time() * 1000
            complete = chunk[: chunk.rfind(b"\n") + 1]
            offset += len(complete)
            for line in complete.splitlines():
                step = str(json.loads(line).get("current_steps"))
                self.seen.setdefault(step, now)
            time.sleep(0.002)


def choose(page, picker: str, name: str) -> None:
    """Pick `name` in the Gradio dropdown `picker` (a CSS id), looking only at its own list:
    another dropdown's list may still be open while a timer redraws the page."""
    option = page.locator(picker).get_by_role("option", name=name, exact=True)
    field = page.locator(f"{picker} input")

    def open_list() -> None:  # a focused dropdown opens its list only when focused anew
        field.evaluate("e => e.blur()")
        field.click()

    for _ in range(3):  # a list redrawn under the click (a busy machine) is opened again
        open_list()
        try:
            option.click(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        open_list()
        option.click()
    page.locator(picker).get_by_role("option").first.wait_for(state="detached")


def pick_recipe(page, name: str) -> None:
    choose(page, "#recipe-picker", name)
    page.wait_for_function(
        "n => document.querySelector('#train-message').innerText.includes(n)", arg=name
    )


def start_run(page, studio: Studio) -> Path:
    """Click Start; the new run's folder (from the "Started run ID." message)."""
    page.click("#start")
    page.wait_for_function(
        "() => document.querySelector('#train-message').innerText.includes('Started run')",
        timeout=60_000,
    )
    run_id = page.locator("#train-message").inner_text().split("Started run ")[1].rstrip(".")
    return studio.adapters / run_id.strip()


def yaml_text(page) -> str:
    return page.locator("#recipe-yaml .cm-content").inner_text()


def progress(page) -> dict:
    """The progress bar's data attributes: step, total, state."""
    bar = page.locator(".ls-progress")
    if bar.count() == 0:
        return {}
    return {k: bar.get_attribute(f"data-{k}") for k in ("step", "total", "state")}


def wait_progress(
    page, state: str | None = None, step: int | None = None, timeout=300, run: str | None = None
):
    """Wait until the bar shows ``state`` and/or at least ``step`` (of ``run``, when given: the
    bar keeps showing the last run until a newly started one is attached)."""
    page.wait_for_function(
        """([state, step, run]) => {
            const bar = document.querySelector('.ls-progress');
            if (!bar) return false;
            return (state === null || bar.dataset.state === state)
                && (step === null || Number(bar.dataset.step) >= step)
                && (run === null || bar.dataset.run === run);
        }""",
        arg=[state, step, run],
        timeout=timeout * 1000,
    )


def coloured_pixels(png: bytes, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels of a screenshot close to ``colour``: how much of a curve was drawn."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        1
        for pixel in image.getdata()
        if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
    )


# Texts that stay as they are in every language: names; and Gradio's own words (its footer, an
# upload area's), which follow the browser's language (a zh-CN browser shows 点击上传), not ours.
UNTRANSLATED = {"English", "LoRA", "Kubernetes", "Settings", "Built with Gradio", "Use via API"}
UNTRANSLATED |= {"Drop File Here", "- or -", "Click to Upload"}
UNTRANSLATED |= {en for en, zh in FIELDS.values() if en == zh}  # Alpha, Dropout: terms of art

_SHOWN_TEXTS = """() => {
  const picked = 'label, button, [role=tab], th, .prose, span[data-testid=block-info], legend';
  const out = [];
  for (const el of document.querySelectorAll(picked)) {
    if (el.closest('.cm-editor, #train-message, #runs-message')) continue;  // code, and past news
    if (el.tagName === 'BUTTON' && el.querySelector('table')) continue;  // rows: data; th: checked
    const box = el.getBoundingClientRect();
    if (box.width && box.height) out.push(el.innerText || el.getAttribute('placeholder') || '');
  }
  return out;
}"""


def english_texts(page) -> set[str]:
    """Labels, buttons, tabs, headings and help on show that have English words and no Chinese:
    what a switch to 中文 left untranslated."""
    import re

    found = set()
    for text in page.evaluate(_SHOWN_TEXTS):
        for line in text.splitlines():
            line = line.strip()
            if line in UNTRANSLATED or re.search(r"[\u4e00-\u9fff]", line):
                continue
            if re.search(r"[A-Za-z]{3,}", line):
                found.add(line)
    return found
