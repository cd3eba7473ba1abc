"""The preview shows rows exactly as the model will see them — rendered by LLaMA-Factory's own
template code in a child process, the trained part marked — and counts every row's tokens
against the cutoff: how many samples would be cut and how many tokens lost. The process that
asks never imports torch, transformers or LLaMA-Factory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from data_files import write_csv, write_openai, write_text

from lorastudio.data import ingest, preview
from lorastudio.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")


def test_openai_messages_are_rendered_by_the_template_with_the_answer_marked(
    ws, tmp_path, tiny_model
):
    path = write_openai(tmp_path / "chats.jsonl", system="You are Zephyr.")
    view = preview.preview(
        path, ingest.propose(path), ws, model_id=str(tiny_model), template="qwen", cutoff=1024
    )
    assert view.rendered and len(view.rows) == preview.SHOW_ROWS
    first = view.rows[0]
    prompt = "".join(s.text for s in first.segments if not s.trained)
    trained = "".join(s.text for s in first.segments if s.trained)
    record = json.loads(path.read_text().splitlines()[0])["messages"]
    assert prompt == (
        f"<|im_start|>system\nYou are Zephyr.<|im_end|>\n<|im_start|>user\n{record[1]['content']}"
        "<|im_end|>\n<|im_start|>assistant\n"
    )
    assert trained == f"{record[2]['content']}<|im_end|>\n"
    assert view.lengths and len(view.lengths) == 12 and view.truncated == 0 and view.lost == 0


@pytest.mark.slow  # two renders by LLaMA-Factory in a child process
def test_token_counts_are_the_tokenizers_own_and_the_cutoff_cuts_what_it_says(
    ws, tmp_path, tiny_model, monkeypatch
):
    from tokenizers import Tokenizer

    monkeypatch.setattr(preview, "SHOW_ROWS", 12)  # every row shown, so every loss is visible
    path = write_csv(tmp_path / "faq.csv")
    mapping = ingest.propose(path).with_changes(system="persona")
    view = preview.preview(path, mapping, ws, model_id=str(tiny_model), template="qwen", cutoff=40)
    tokenizer = Tokenizer.from_file(str(tiny_model / "tokenizer.json"))
    for row in view.rows:
        assert "You answer as Zephyr." in row.segments[0].text  # the mapped system column
        assert row.kept == min(row.tokens, 40) or row.kept < 40 < row.tokens
    longer = [r for r in view.rows if r.tokens > 40]
    assert longer and len(longer) < len(view.rows)  # the cutoff falls inside the data
    assert view.truncated == len(longer) == sum(length > 40 for length in view.lengths)
    assert view.lost == sum(r.tokens - r.kept for r in view.rows) > 0
    full = preview.preview(
        path, mapping, ws, model_id=str(tiny_model), template="qwen", cutoff=4096
    )
    assert full.lengths == view.lengths and full.truncated == 0
    for row in full.rows:  # the rendered text, encoded by the tokenizers library alone
        text = "".join(s.text for s in row.segments)
        assert len(tokenizer.encode(text, add_special_tokens=False).ids) == row.tokens
    stats = view.stats()
    assert stats["samples"] == 12 and stats["truncated"] == len(longer)
    assert stats["max"] == max(view.lengths)
    histogram = view.histogram()
    assert sum(count for _, _, count in histogram) == 12
    text = preview.report_text(view)
    assert "← cutoff" in text and f"{len(longer)} samples cut" in text
    assert "← 截断长度" in preview.report_text(view, "zh")


@pytest.mark.slow  # a render by LLaMA-Factory in a child process
def test_plain_text_for_pretraining_is_trained_whole(ws, tmp_path, tiny_model):
    path = write_text(tmp_path / "corpus.txt")
    view = preview.preview(
        path,
        ingest.propose(path),
        ws,
        model_id=str(tiny_model),
        template="qwen",
        cutoff=1024,
        stage="pt",
    )
    first = view.rows[0]
    assert [s.trained for s in first.segments] == [True]
    line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.segments[0].text == line + "<|im_end|>"  # the end token LLaMA-Factory sets


def test_without_the_models_tokenizer_the_rows_are_shown_as_turns_and_it_says_why(ws, tmp_path):
    path = write_openai(tmp_path / "chats.jsonl")
    view = preview.preview(
        path, ingest.propose(path), ws, model_id="Nobody/NoSuchModel", template="qwen", cutoff=64
    )
    assert not view.rendered and view.lengths == []
    assert view.rows[0].segments[0].text == "system: You are Zephyr.\n"
    assert [s.trained for s in view.rows[0].segments] == [False, False, False, True]
    assert "tokenizer (Nobody/NoSuchModel) is not on this machine" in view.note.text("en")
    assert "本机没有该模型的分词器" in view.note.text("zh")


def test_a_hub_models_tokenizer_is_found_in_the_hugging_face_or_modelscope_cache(
    ws, tmp_path, monkeypatch
):
    hf = tmp_path / "hf" / "models--Qwen--Qwen2.5-0.5B-Instruct" / "snapshots" / "abc123"
    hf.mkdir(parents=True)
    (hf / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    assert preview.find_tokenizer("Qwen/Qwen2.5-0.5B-Instruct", ws) == hf
    ms = tmp_path / "ms" / "models" / "Qwen" / "Qwen2.5-1.5B-Instruct"
    ms.mkdir(parents=True)
    (ms / "tokenizer.json").write_text("{}")
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms"))
    assert preview.find_tokenizer("Qwen/Qwen2.5-1.5B-Instruct", ws) == ms
    assert preview.find_tokenizer("Qwen/Qwen2.5-7B-Instruct", ws) is None


def test_previewing_keeps_torch_transformers_and_llamafactory_out_of_the_asking_process(
    tmp_path, tiny_model
):
    path = write_openai(tmp_path / "chats.jsonl")
    code = f"""
import sys, json
from pathlib import Path
from lorastudio.data import ingest, preview
from lorastudio.workspace import Workspace
ws = Workspace(Path({str(tmp_path)!r}), Path({str(tmp_path)!r}), Path({str(tmp_path)!r}))
path = Path({str(path)!r})
view = preview.preview(path, ingest.propose(path), ws, model_id={str(tiny_model)!r},
                       template="qwen", cutoff=64)
assert view.rendered, view
print(json.dumps([m for m in ("torch", "transformers", "llamafactory") if m in sys.modules]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(
    ("cutoff", "lengths"),
    [(40, [36, 37, 44, 48, 47, 40, 41]), (1024, [36, 300, 900]), (16, [36, 37]), (50, [50, 51])],
)
def test_the_histogram_counts_every_sample_once_and_no_bin_straddles_the_cutoff(cutoff, lengths):
    view = preview.Preview([], True, cutoff, "qwen", lengths=lengths)
    bins = view.histogram()
    assert sum(count for _, _, count in bins) == len(lengths)
    assert all(high <= cutoff + 1 or low > cutoff for low, high, _ in bins)
    assert bins[0][0] <= min(*lengths, cutoff) and bins[-1][1] > max(*lengths, cutoff)
