"""Reading trainer_log.jsonl incrementally, and explaining failed runs in plain words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorastudio.runs.diagnosis import diagnose
from lorastudio.runs.metrics import LogTail, TrainerLogReader, summarize_trainer_log, tail_text


def line(step: int, total: int = 10, **extra) -> str:
    return json.dumps({"current_steps": step, "total_steps": total, **extra}) + "\n"


def test_the_reader_returns_only_new_points_and_waits_for_a_half_written_line(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text(line(1, loss=3.0) + line(2, loss=2.5)[:-10])
    reader = TrainerLogReader(path)
    assert [p.step for p in reader.poll()] == [1]
    with path.open("a") as handle:
        handle.write(line(2, loss=2.5)[-10:] + line(3, loss=2.0))
    assert [(p.step, p.loss) for p in reader.poll()] == [(2, 2.5), (3, 2.0)]
    assert reader.poll() == []


def test_a_resumed_run_replaces_the_steps_it_trains_again(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(line(s, loss=10.0 - s) for s in range(1, 8)))
    with path.open("a") as handle:  # resumed from checkpoint-5
        handle.write("".join(line(s, loss=1.0) for s in range(6, 11)) + line(10))
    reader = TrainerLogReader(path)
    reader.poll()
    assert [p.step for p in reader.points] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    assert [p.loss for p in reader.points][5:10] == [1.0] * 5


def test_eval_points_share_a_step_with_train_points(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text(line(5, loss=2.0) + line(5, eval_loss=2.2))
    summary = summarize_trainer_log(path)
    reader = TrainerLogReader(path)
    reader.poll()
    assert len(reader.points) == 2 and summary.last_loss == 2.0


def test_a_nan_loss_is_noticed(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text('{"current_steps": 1, "total_steps": 2, "loss": NaN}\n')
    assert summarize_trainer_log(path).nan_loss


def test_tail_resolves_progress_bar_carriage_returns(tmp_path: Path):
    path = tmp_path / "train.log"
    path.write_bytes(b"start\n 10%|#  \r 50%|###  \r100%|######\nend\n")
    assert tail_text(path) == "start\n100%|######\nend\n"


def test_known_failures_are_explained():
    cases = {
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate": "out_of_memory",
        "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB": "out_of_memory",
        "OSError: [Errno 28] No space left on device": "disk_full",
        "OSError: Failed to load tokenizer.": "model_not_found",
        "ValueError: Undefined dataset foo in dataset_info.json.": "dataset_not_found",
        "ValueError: Target modules {'x'} not found in the base model.": "bad_target",
        "    value = self.data[key]\nKeyError: 'instruction'": "data_layout",
    }
    for tail, kind in cases.items():
        assert diagnose("some log\n" + tail, 1).kind == kind


def test_nan_loss_and_sigkill_and_unknown_errors_get_messages():
    assert diagnose("", 1, nan_loss=True).kind == "nan_loss"
    killed = diagnose("", -9).message
    assert "RAM" in killed.text("en") and "内存不足" in killed.text("zh")
    unknown = diagnose("blah\nKeyError: 'x'\n", 1)
    assert unknown.kind == "error" and "KeyError" in unknown.message.text("zh")


def lf_line(step: int, seconds: int, tokens: int, total: int = 10) -> str:
    """A line as LLaMA-Factory's LogCallback writes it: its clock and tokens/s count from the
    start of this attempt, its tokens from the start of the run (restored from a checkpoint)."""
    clock = f"0:{seconds // 60:02d}:{seconds % 60:02d}"
    left = (total - step) * seconds / step
    remaining = f"0:{int(left) // 60:02d}:{int(left) % 60:02d}"
    return line(
        step,
        total,
        loss=1.0,
        elapsed_time=clock,
        remaining_time=remaining,
        throughput=round(tokens / seconds, 2),
        total_tokens=tokens,
    )


def two_attempts(path: Path, until: int = 10) -> None:
    """Seven steps of 2 s (100 tokens each), stopped; resumed from checkpoint-5 at the same pace."""
    first = [lf_line(s, 2 * s, 100 * s) for s in range(1, 8)]
    second = [lf_line(s, 2 * (s - 5), 100 * s) for s in range(6, until + 1)]
    path.write_text("".join(first + second))


def test_a_run_never_resumed_keeps_llamafactorys_own_clock(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    path.write_text("".join(lf_line(s, 2 * s, 100 * s) for s in range(1, 5)))
    reader = TrainerLogReader(path)
    reader.poll()
    clock = reader.clock()
    assert (clock.elapsed, clock.remaining, clock.throughput) == ("0:00:08", "0:00:12", 50.0)
    assert clock.attempts == 1 and clock.earlier_seconds == 0


def test_a_resumed_runs_elapsed_eta_and_tokens_per_second_span_every_attempt(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    two_attempts(path, until=8)
    reader = TrainerLogReader(path)
    reader.poll()
    assert reader.points[-1].throughput == 133.33  # LLaMA-Factory's: 800 tokens / 6 s
    clock = reader.clock()
    assert clock.attempts == 2 and clock.earlier_seconds == 14
    assert clock.elapsed == "0:00:20"  # 14 s, then 6 s: not the 6 s of the resume alone
    assert clock.remaining == "0:00:04"  # two steps at this attempt's 2 s a step
    assert clock.throughput == pytest.approx(40.0, rel=1e-3)  # 800 tokens in 20 s


def test_the_summary_of_a_resumed_run_counts_the_time_before_the_resume(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    two_attempts(path)
    summary = summarize_trainer_log(path)
    assert summary.step == 10 and summary.attempts == 2
    assert summary.earlier_seconds == 14 and summary.elapsed == "0:00:24"


def test_a_resumed_run_is_followed_line_by_line_across_its_restart(tmp_path: Path):
    path = tmp_path / "trainer_log.jsonl"
    two_attempts(path)
    text = path.read_text()
    path.write_text("")
    reader = TrainerLogReader(path)
    for piece in text.splitlines(keepends=True):  # as the trainer appends them
        with path.open("a") as handle:
            handle.write(piece)
        reader.poll()
    clock = reader.clock()
    assert clock.elapsed == "0:00:24" and clock.throughput == pytest.approx(1000 / 24, rel=1e-3)


BAR = "{pct:3d}%|{fill:<10}| {n}/30 [00:{n:02d}<00:30,  1.00s/it]"


def bar(n: int) -> str:
    return BAR.format(pct=100 * n // 30, fill="█" * (n // 3), n=n)


def test_a_log_line_written_after_a_progress_bar_gets_its_own_line(tmp_path: Path):
    path = tmp_path / "train.log"
    info = "[INFO|trainer.py:4012] 2026-01-01 10:00:00,000 >> Saving model checkpoint"
    path.write_text(f"\r{bar(9)}\r{bar(10)}{info}\n")
    assert tail_text(path).splitlines() == [bar(10), info]


def test_a_progress_bar_is_one_line_that_moves_down_as_it_updates(tmp_path: Path):
    path = tmp_path / "train.log"
    loss = "{'loss': '2.1', 'epoch': '1'}"
    path.write_text(
        "Running tokenizer on dataset: 100%|██████████| 64/64 [00:00<00:00]\n"
        f"\r{bar(1)}\r{bar(10)}[INFO] saving checkpoint-10\n"
        f"\r{' ' * 40}\r{loss}\n"
        f"\r{bar(11)}\r{bar(12)}"
    )
    assert tail_text(path).splitlines() == [
        "Running tokenizer on dataset: 100%|██████████| 64/64 [00:00<00:00]",  # finished: stays
        "[INFO] saving checkpoint-10",
        loss,
        bar(12),  # the training bar, once, at its latest state
    ]
    tail = LogTail(path)
    tail.poll()
    assert tail.text == tail_text(path)
    with path.open("a") as handle:  # the bar goes on, then a line ends it
        handle.write(f"\r{bar(13)}[INFO] done\n")
    tail.poll()
    assert tail.text.splitlines()[-2:] == [bar(13), "[INFO] done"]
    assert bar(12) not in tail.text
