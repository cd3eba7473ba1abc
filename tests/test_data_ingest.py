"""A team's own data file becomes a dataset all or nothing: each layout is recognised from a real
file and mapped the way LLaMA-Factory reads it, stored under its content hash and registered;
bad data is refused with a message naming the row or line and the fix, in English and Chinese,
and nothing of it is kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_files import write_all, write_csv, write_openai

from lorastudio.data import ingest, registry
from lorastudio.data.formats import Mapping
from lorastudio.data.problems import DataError
from lorastudio.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("files"))


ALPACA = {"prompt": "instruction", "response": "output", "query": "input"}
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "system_tag": "system",
    "observation_tag": "observation",
    "function_tag": "function_call",
}
OPENAI_TAGS = {
    "role_tag": "role",
    "content_tag": "content",
    "user_tag": "user",
    "assistant_tag": "assistant",
    "system_tag": "system",
    "observation_tag": "tool",
    "function_tag": "function_call",
}
EXPECTED = {  # file -> (layout, the entry LLaMA-Factory gets, without file_name)
    "alpaca_en": ("alpaca", {"formatting": "alpaca", "columns": ALPACA}),
    "alpaca_zh": ("alpaca", {"formatting": "alpaca", "columns": ALPACA}),
    "identity": ("alpaca", {"formatting": "alpaca", "columns": ALPACA}),
    "sharegpt": (
        "sharegpt",
        {
            "formatting": "sharegpt",
            "columns": {"messages": "conversations"},
            "tags": SHAREGPT_TAGS,
        },
    ),
    "openai": (
        "openai",
        {"formatting": "sharegpt", "columns": {"messages": "messages"}, "tags": OPENAI_TAGS},
    ),
    "csv": (
        "alpaca",
        {"formatting": "alpaca", "columns": {"prompt": "question", "response": "answer"}},
    ),
    "parquet": ("alpaca", {"formatting": "alpaca", "columns": ALPACA}),
    "text": ("text", {"formatting": "alpaca", "columns": {"prompt": "text"}}),
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_layout_is_recognised_and_mapped_as_llamafactory_reads_it(files, kind):
    layout, entry = EXPECTED[kind]
    mapping = ingest.propose(files[kind])
    assert mapping.format == layout
    assert mapping.entry("x") == {"file_name": "x", **entry}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_layout_is_added_under_its_content_hash_and_registered(ws, files, kind):
    added = ingest.add_dataset(ws, files[kind], name=kind)
    dataset = added.dataset
    stored = ws.data_dir / "studio" / f"{dataset.sha256[:16]}{files[kind].suffix}"
    assert dataset.path == stored and stored.read_bytes() == files[kind].read_bytes()
    assert registry.file_digest(stored) == dataset.sha256
    entry = json.loads(ws.registry_path.read_text())[kind]
    assert entry["file_name"] == f"studio/{stored.name}"
    assert entry["lorastudio"]["rows"] == dataset.rows > 0
    assert dataset.ref == f"{kind}@{dataset.sha256[:12]}"
    assert [d.name for d in registry.datasets(ws)] == [kind]


def test_the_fixtures_alpaca_files_report_their_repeated_rows_without_refusing_them(ws, files):
    added = ingest.add_dataset(ws, files["alpaca_en"])
    assert added.checked.rows == 999 and added.checked.duplicates == 14
    (note,) = added.checked.notes
    assert note.text("en").startswith("14 rows repeat an earlier row (the first: row 276 repeats")
    assert note.text("zh").startswith("14 条记录与前面的记录重复")


def test_a_corrected_mapping_is_what_gets_registered(ws, tmp_path):
    path = write_csv(tmp_path / "faq.csv")
    mapping = ingest.propose(path).with_changes(system="persona")
    ingest.add_dataset(ws, path, "faq", mapping)
    columns = json.loads(ws.registry_path.read_text())["faq"]["columns"]
    assert columns == {"prompt": "question", "response": "answer", "system": "persona"}


def test_the_same_content_under_two_names_is_stored_once_and_kept_while_either_is_registered(
    ws, files
):
    one = ingest.add_dataset(ws, files["identity"], "one").dataset
    two = ingest.add_dataset(ws, files["identity"], "two").dataset
    assert one.path == two.path
    registry.unregister(ws, "one")
    assert two.path.is_file()
    registry.unregister(ws, "two")
    assert not two.path.exists()


# ---------------------------------------------------------------- bad data, all or nothing


def bad(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


OPENAI = Mapping("openai", {"messages": "messages"}, OPENAI_TAGS)


def chat(*turns: tuple[str, str]) -> str:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in turns]})


GOOD = chat(("user", "hi"), ("assistant", "hello"))

# case: (file name, content, mapping or None for the proposed one, English, Chinese)
LIST_WITH_BAD_BYTES = b'[\n{"instruction": "a", "output": "b"},\n{"instruction": "\xc3\x28"}\n]'
CSV_MAPPING = Mapping("alpaca", {"prompt": "question", "response": "answer"})
ALPACA_ROW = json.dumps({"instruction": "a", "output": "b"})
CASES = {
    "not_json": ("a.jsonl", GOOD + "\n{oops\n", OPENAI, "line 2 is not JSON", "第 2 行不是 JSON"),
    "invalid_utf8": (
        "a.jsonl",
        GOOD.encode() + b"\n" + b'{"messages": "\xff\xfe"}\n',
        OPENAI,
        "line 2 is not valid UTF-8 text (byte 0xff)",
        "第 2 行不是有效的 UTF-8 文本",
    ),
    "invalid_utf8_in_a_list": (
        "a.json",
        LIST_WITH_BAD_BYTES,
        None,
        "line 3 is not valid UTF-8 text",
        "第 3 行不是有效的 UTF-8 文本",
    ),
    "empty_file": ("a.jsonl", "", OPENAI, "the file has no records", "文件中没有任何记录"),
    "mixed_formats": (
        "a.jsonl",
        GOOD + "\n" + ALPACA_ROW + "\n",
        OPENAI,
        "row 2 (line 2) is in the alpaca layout, but the file is openai",
        "第 2 条（第 2 行）是 alpaca 格式，而文件是 openai 格式",
    ),
    "turn_without_content": (
        "a.jsonl",
        chat(("user", "hi"), ("assistant", "  ")) + "\n",
        OPENAI,
        "row 1 (line 1), turn 2 (assistant) has no content",
        "第 1 条（第 1 行）的第 2 轮（assistant）没有内容",
    ),
    "no_assistant_turn": (
        "a.jsonl",
        chat(("system", "be kind"), ("user", "hi")) + "\n",
        OPENAI,
        "row 1 (line 1): the conversation has no assistant turn",
        "第 1 条（第 1 行）：这段对话没有助手回复",
    ),
    "roles_out_of_order": (
        "a.jsonl",
        chat(("assistant", "hello"), ("user", "hi")) + "\n",
        OPENAI,
        "row 1 (line 1), turn 1 is assistant, where user should speak (roles out of order)",
        "第 1 条（第 1 行）的第 1 轮是 assistant，这里应是 user（角色顺序不对）",
    ),
    "csv_without_mapped_columns": (
        "a.csv",
        "question,reply\nhi,hello\n",
        CSV_MAPPING,
        "the file has no column answer (it has: question, reply)",
        "文件中没有 answer 列（它有：question, reply）",
    ),
    "alpaca_without_output": (
        "a.json",
        '[{"instruction": "hi", "output": ""}]',
        None,
        "row 1 (line 1): output is empty, so there is no assistant turn to learn",
        "第 1 条（第 1 行）：output 为空，没有可学习的助手回复",
    ),
    "csv_row_too_short": (
        "a.csv",
        "question,answer\nhi,hello\nonly one field\n",
        None,
        "line 3 has 1 fields, the header has 2",
        "第 3 行有 1 个字段，而表头有 2 个",
    ),
}


def assert_nothing_kept(ws: Workspace) -> None:
    assert not ws.registry_path.exists() or json.loads(ws.registry_path.read_text()) == {}
    store = ws.data_dir / "studio"
    assert not store.exists() or list(store.iterdir()) == []


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_refused_naming_the_row_and_the_fix_in_both_languages(ws, tmp_path, case):
    name, content, mapping, english, chinese = CASES[case]
    path = bad(tmp_path / name, content)
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, path, "mine", mapping)
    assert english in caught.value.text("en")
    assert chinese in caught.value.text("zh")
    assert "Fix: " in caught.value.text("en") and "修正：" in caught.value.text("zh")
    assert_nothing_kept(ws)


def test_every_problem_of_a_file_is_listed_not_only_the_first(ws, tmp_path):
    text = "\n".join(
        [
            GOOD,
            chat(("user", "")),
            chat(("assistant", "x"), ("user", "y")),
            GOOD,
            chat(("user", "q"), ("assistant", "a"), ("user", "and?")),
        ]
    )
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, bad(tmp_path / "a.jsonl", text), "mine", OPENAI)
    assert caught.value.keys() == ["data.empty_turn_n", "data.role_order", "data.ends_unanswered"]
    assert caught.value.text("en").startswith("a.jsonl has 3 problems; nothing was added:")
    assert caught.value.text("zh").startswith("a.jsonl 有 3 个问题，未添加任何内容：")


def test_a_file_larger_than_the_limit_is_refused_before_it_is_read(ws, tmp_path, monkeypatch):
    monkeypatch.setenv("LORASTUDIO_MAX_UPLOAD_MB", "0.01")  # 10 KiB
    path = write_openai(tmp_path / "big.jsonl", count=91)
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, path, "big")
    assert "big.jsonl is 25.9 KB, larger than the limit of 10.2 KB" in caught.value.text("en")
    assert "LORASTUDIO_MAX_UPLOAD_MB=1" in caught.value.text("en")
    assert "超过了 10.2 KB 的上限" in caught.value.text("zh")
    assert_nothing_kept(ws)


def test_a_name_that_clashes_is_refused_and_the_registered_dataset_is_untouched(ws, files):
    first = ingest.add_dataset(ws, files["identity"], "mine").dataset
    before = ws.registry_path.read_text()
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, files["sharegpt"], "mine")
    assert "a dataset named 'mine' is already registered" in caught.value.text("en")
    assert "已经注册了名为 'mine' 的数据集" in caught.value.text("zh")
    assert ws.registry_path.read_text() == before
    assert sorted(p.name for p in (ws.data_dir / "studio").iterdir()) == [first.path.name]


@pytest.mark.parametrize("name", ["two words", "a,b", "x@y", "../up", "-dash"])
def test_a_name_a_recipe_cannot_hold_is_refused(ws, files, name):
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, files["identity"], name)
    assert caught.value.keys() == ["data.bad_name"]
    assert_nothing_kept(ws)


def test_a_chinese_name_is_a_name(ws, files):
    assert ingest.add_dataset(ws, files["identity"], "客服对话").dataset.name == "客服对话"


def test_a_file_type_llamafactory_cannot_read_is_refused(ws, tmp_path):
    with pytest.raises(DataError) as caught:
        ingest.add_dataset(ws, bad(tmp_path / "notes.docx", "x"), "notes")
    assert "notes.docx is not a data file LLaMA-Factory reads" in caught.value.text("en")
    assert "notes.docx 不是 LLaMA-Factory 能读取的数据文件" in caught.value.text("zh")


def test_a_json_list_is_read_record_by_record_across_chunks(ws, tmp_path, monkeypatch):
    """A JSON list is decoded a window at a time; records that cross a chunk's end, and a
    multi-byte character split across chunks, come out whole."""
    from lorastudio.data import reader

    monkeypatch.setattr(reader, "CHUNK", 7)
    records = [{"instruction": f"问题 {i} " * 3, "output": f"回答 {i}"} for i in range(40)]
    path = bad(tmp_path / "zh.json", json.dumps(records, ensure_ascii=False, indent=1))
    rows = list(reader.rows(path))
    assert [r.value for r in rows] == records
    assert rows[1].line == 6  # each record opens on its own line: [, then 4 lines per record
