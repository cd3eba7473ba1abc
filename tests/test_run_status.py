"""status.json as a typed record: states are an enum, every field reads back with its type, a
reason is kept as English words and as a key (so it reads in either language), other writers'
fields survive an update, and a damaged file is reported, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorastudio.messages import msg
from lorastudio.runs.layout import STATUS_FILE
from lorastudio.runs.status import (
    FINAL_STATES,
    LIVE_STATES,
    Backend,
    RunState,
    read_status,
    update_status,
)


def test_live_and_final_states_split_every_known_state():
    assert LIVE_STATES | FINAL_STATES | {RunState.QUEUED, RunState.UNKNOWN} == set(RunState)
    assert not LIVE_STATES & FINAL_STATES
    assert RunState.RUNNING.live and RunState.STOPPED.final and not RunState.UNKNOWN.live


def test_fields_read_back_with_their_types(tmp_path: Path):
    update_status(tmp_path, state=RunState.STOPPING, pid=12, started_at=5, node_rank=1)
    status = read_status(tmp_path)
    assert status.state is RunState.STOPPING and status.live
    assert status.pid == 12 and status.started_at == 5.0 and status.node_rank == 1
    assert status.backend is Backend.LOCAL and status.damaged is None


def test_a_reason_is_kept_in_english_for_people_and_by_key_for_either_language(tmp_path: Path):
    reason = msg("reason.stopped", step=7, how=msg("reason.stopped_cleanly"), saved="—")
    update_status(tmp_path, state=RunState.STOPPED, reason=reason)
    on_disk = json.loads((tmp_path / STATUS_FILE).read_text())
    assert on_disk["state"] == "stopped"
    assert on_disk["reason"].startswith("stopped by request at step 7 (stopped cleanly")
    status = read_status(tmp_path)
    assert status.reason == reason
    assert status.reason_text("zh").startswith("应请求在第 7 步停止（正常停止")


def test_an_update_keeps_what_other_writers_recorded(tmp_path: Path):
    (tmp_path / STATUS_FILE).write_text(json.dumps({"state": "running", "custom": [1, 2]}))
    update_status(tmp_path, step=3)
    on_disk = json.loads((tmp_path / STATUS_FILE).read_text())
    assert on_disk == {"state": "running", "custom": [1, 2], "step": 3}


def test_an_update_names_no_field_status_json_does_not_have(tmp_path: Path):
    with pytest.raises(TypeError, match="no field 'stat'"):
        update_status(tmp_path, stat="running")


def test_a_reason_written_before_reasons_had_keys_still_reads(tmp_path: Path):
    (tmp_path / STATUS_FILE).write_text(json.dumps({"state": "failed", "reason": "boom"}))
    assert read_status(tmp_path).reason_text("zh") == "boom"


@pytest.mark.parametrize(
    ("content", "damage"),
    [
        ("[1, 2]", "holds no JSON object"),
        ('{"state": "runn', "cannot be read"),
        ('{"state": "sideways", "pid": "x"}', "wrong type: state, pid"),
        (b"\xff\xfe", "cannot be read"),
    ],
)
def test_a_damaged_status_is_reported_not_raised(tmp_path: Path, content, damage: str):
    path = tmp_path / STATUS_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    status = read_status(tmp_path)
    assert status.state is RunState.UNKNOWN and not status.live
    assert status.damaged is not None and damage in status.damaged.text("en")
    assert status.damaged.text("zh") != status.damaged.text("en")  # said in either language


def test_a_missing_status_is_unknown_and_not_damaged(tmp_path: Path):
    status = read_status(tmp_path)
    assert status.state is RunState.UNKNOWN and status.damaged is None
