"""`python launch.py data add|list|check|remove|export|import`, as a user types them: a file is
added and named by name@hash, listed, checked (every row, then the preview and the histogram as
text), exported and imported elsewhere, removed; bad data exits with status 2, a message naming
the line and nothing registered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Studio
from data_files import write_csv, write_openai


@pytest.fixture
def home(tmp_path: Path) -> Studio:
    studio = Studio(tmp_path, tmp_path / "data")
    studio.env["LORASTUDIO_DATA_DIR"] = str(studio.data_dir)
    return studio


def added_ref(output: str) -> str:
    match = re.search(r"^added (\S+): ", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_add_list_check_export_import_remove(home: Studio, tmp_path: Path):
    path = write_csv(tmp_path / "faq.csv")
    added = home.cli("data", "add", str(path), "--name", "faq", "--map", "system=persona")
    assert added.returncode == 0, added.stderr
    ref = added_ref(added.stdout)
    assert ref.startswith("faq@") and "12 rows, alpaca" in added.stdout
    assert '"system": "persona"' in added.stdout
    assert f"data.datasets: [{ref}]" in added.stdout

    listed = json.loads(home.cli("data", "list", "--json").stdout)
    assert [(d["ref"], d["rows"], d["format"]) for d in listed] == [(ref, 12, "alpaca")]
    assert ref in home.cli("data", "list").stdout

    checked = home.cli("data", "check", "faq", "--model", "Nobody/NoSuchModel", "--cutoff", "64")
    assert checked.returncode == 0, checked.stderr
    assert "tokenizer (Nobody/NoSuchModel) is not on this machine" in checked.stdout
    assert "system: You answer as Zephyr." in checked.stdout and "[[" in checked.stdout

    archive = tmp_path / "faq.tar"
    exported = home.cli("data", "export", "faq", "-o", str(archive))
    assert exported.returncode == 0 and archive.is_file(), exported.stderr
    elsewhere = Studio(tmp_path / "mate", tmp_path / "mate" / "data")
    elsewhere.env["LORASTUDIO_DATA_DIR"] = str(elsewhere.data_dir)
    (tmp_path / "mate").mkdir()
    imported = elsewhere.cli("data", "import", str(archive))
    assert imported.returncode == 0, imported.stderr
    assert added_ref(imported.stdout) == ref

    removed = home.cli("data", "remove", "faq")
    assert removed.returncode == 0 and f"removed {ref}" in removed.stdout
    assert json.loads(home.cli("data", "list", "--json").stdout) == []


def test_check_of_a_file_not_yet_added_reads_every_row_and_registers_nothing(
    home: Studio, tmp_path: Path
):
    path = write_openai(tmp_path / "chats.jsonl")
    checked = home.cli("data", "check", str(path), "--model", "Nobody/NoSuchModel")
    assert checked.returncode == 0, checked.stderr
    assert "chats.jsonl: 12 rows, openai, every row readable" in checked.stdout
    assert not (home.data_dir / "dataset_info.json").exists()


def test_a_bad_file_exits_2_naming_its_line_and_registers_nothing(home: Studio, tmp_path: Path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{oops\n')
    result = home.cli("data", "add", str(path), "--format", "openai")
    assert result.returncode == 2
    assert "broken.jsonl has 2 problems; nothing was added:" in result.stderr
    assert "row 1 (line 1): the conversation has no assistant turn" in result.stderr
    assert "line 2 is not JSON" in result.stderr and "Traceback" not in result.stderr
    assert json.loads(home.cli("data", "list", "--json").stdout) == []
    store = home.data_dir / "studio"
    assert not store.exists() or list(store.iterdir()) == []


def test_a_wrong_map_key_is_refused_with_the_keys_there_are(home: Studio, tmp_path: Path):
    result = home.cli("data", "add", str(write_csv(tmp_path / "f.csv")), "--map", "persona=system")
    assert result.returncode == 2
    assert "--map persona=system is not KEY=VALUE with a key of prompt, response" in result.stderr
