"""`python launch.py demo-data`: a fresh checkout has LLaMA-Factory's demo datasets registered but
not their files; this fetches them (checked against v0.9.5's SHA-256) so the shipped recipes run.
The source here is a local HTTP server over the fixture folder, and the fixture folder itself."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import stat
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import LF_DATA, REPO, Studio

from lorastudio.data.demo import DemoDataError, fetch_demo_data

DEMO = ["identity.json", "alpaca_en_demo.json", "alpaca_zh_demo.json"]


@pytest.fixture
def fresh(tmp_path: Path) -> Studio:
    """A studio folder like a fresh checkout: data/ registers the demo sets, holds no files."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    shutil.copy(REPO / "data" / "dataset_info.json", home / "data")
    return Studio(home, home / "data")


@pytest.fixture
def served():
    """LLaMA-Factory's data folder over HTTP, like raw.githubusercontent.com/.../data/."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(LF_DATA))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.mark.slow
def test_the_smoke_recipe_is_refused_until_demo_data_fetches_its_files(fresh: Studio, served: str):
    recipe = str(REPO / "recipes" / "cpu-smoke.yaml")
    before = fresh.cli("check", recipe)
    assert before.returncode == 2
    assert "data.datasets[0] = 'identity'" in before.stdout + before.stderr
    assert "python launch.py demo-data" in before.stdout + before.stderr

    result = fresh.cli("demo-data", "--from", served)
    assert result.returncode == 0, result.stderr
    for name in DEMO:
        assert (fresh.data_dir / name).read_bytes() == (LF_DATA / name).read_bytes()
        assert name in result.stdout
    assert "{{name}}" in result.stdout  # it says identity's placeholders are still there

    after = fresh.cli("check", recipe)
    assert after.returncode == 0, after.stdout + after.stderr
    assert list(fresh.data_dir.glob(".*")) == []  # no temporary files left


def test_a_file_that_is_not_llamafactorys_is_refused_and_nothing_is_written(
    fresh: Studio, tmp_path: Path
):
    mirror = tmp_path / "mirror"
    shutil.copytree(LF_DATA, mirror)
    records = json.loads((mirror / "alpaca_zh_demo.json").read_text())
    records[0]["output"] = "tampered"
    (mirror / "alpaca_zh_demo.json").write_text(json.dumps(records))
    registry = (fresh.data_dir / "dataset_info.json").read_bytes()

    result = fresh.cli("demo-data", "--from", str(mirror))
    assert result.returncode == 2
    assert "alpaca_zh_demo.json" in result.stderr and "nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in fresh.data_dir.iterdir()) == ["dataset_info.json"]
    assert (fresh.data_dir / "dataset_info.json").read_bytes() == registry


def test_name_and_author_fill_identity_and_a_filled_file_is_kept(fresh: Studio):
    author = 'ACME "Labs"'
    result = fresh.cli("demo-data", "--from", str(LF_DATA), "--name", "小助手", "--author", author)
    assert result.returncode == 0, result.stderr
    records = json.loads((fresh.data_dir / "identity.json").read_text(encoding="utf-8"))
    text = json.dumps(records, ensure_ascii=False)
    assert "{{name}}" not in text and "{{author}}" not in text
    assert any("小助手" in r["output"] and author in r["output"] for r in records)
    assert len(records) == len(json.loads((LF_DATA / "identity.json").read_text()))
    filled = (fresh.data_dir / "identity.json").read_bytes()

    again = fresh.cli("demo-data", "--from", "/nowhere")  # nothing to fetch: it is all there
    assert again.returncode == 0, again.stderr
    assert "kept" in again.stdout
    assert (fresh.data_dir / "identity.json").read_bytes() == filled

    forced = fresh.cli("demo-data", "--from", str(LF_DATA), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (fresh.data_dir / "identity.json").read_bytes() == (
        LF_DATA / "identity.json"
    ).read_bytes()


def test_an_unreachable_source_is_a_clear_error(fresh: Studio):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    result = fresh.cli("demo-data", "--from", f"http://127.0.0.1:{port}/")
    assert result.returncode == 2
    assert "cannot download" in result.stderr and "--from" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (fresh.data_dir / "identity.json").exists()


def test_the_demo_sets_are_registered_beside_the_users_own(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    studio = Studio(tmp_path, data)
    result = studio.cli("demo-data", "--from", str(LF_DATA))
    assert result.returncode == 0, result.stderr
    registry = json.loads((data / "dataset_info.json").read_text())
    assert registry["mine"] == {"file_name": "mine.json"}
    assert {
        registry[n]["file_name"] for n in ("identity", "alpaca_en_demo", "alpaca_zh_demo")
    } == set(DEMO)


def test_the_pinned_hashes_are_those_of_the_fixture_files():
    """The fixtures are LLaMA-Factory's files (see their SOURCE.md); the pins must match them."""
    import hashlib

    from lorastudio.data.demo import DEMO_FILES

    for file_name, digest in DEMO_FILES.values():
        assert hashlib.sha256((LF_DATA / file_name).read_bytes()).hexdigest() == digest


def test_a_refused_source_is_said_in_chinese(tmp_path: Path):
    mirror = tmp_path / "mirror"
    shutil.copytree(LF_DATA, mirror)
    (mirror / "identity.json").write_text("[]")
    with pytest.raises(DemoDataError) as tampered:
        fetch_demo_data(tmp_path / "data", source=str(mirror))
    assert tampered.value.message.key == "error.not_lf_file"
    assert "没有写入任何文件。修正：请换一个来源" in tampered.value.text("zh")
    with pytest.raises(DemoDataError) as missing:
        fetch_demo_data(tmp_path / "data", source=str(tmp_path / "nowhere"))
    assert missing.value.text("zh").startswith(f"无法读取 {tmp_path / 'nowhere' / 'identity.json'}")
    assert "修正：请让 --from 指向包含 LLaMA-Factory 的 identity.json 的目录" in missing.value.text(
        "zh"
    )


def test_the_fetched_files_are_readable_by_the_team_whatever_the_umask(tmp_path: Path):
    """Atomic writes go through a 0600 temporary file; what lands is 0644, as `cp` would leave
    it under the usual umask (and never more than that under a strict one)."""
    old = os.umask(0o077)
    try:
        fetch_demo_data(tmp_path / "data", source=str(LF_DATA))
    finally:
        os.umask(old)
    modes = {name: stat.S_IMODE((tmp_path / "data" / name).stat().st_mode) for name in DEMO}
    assert modes == dict.fromkeys(DEMO, 0o644)
