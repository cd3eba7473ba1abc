"""export.json as a typed record: states are an enum (live and final apart), fields read back
with their types, a reason is kept by key (so it reads in either language), a damaged file is
reported, never raised; and how far an export has got is read from LLaMA-Factory's own log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorastudio.messages import msg
from lorastudio.runs.export_status import (
    EXPORT_FINAL,
    EXPORT_LIVE,
    ExportPhase,
    ExportState,
    export_phase,
    export_state_name,
    read_export,
    update_export,
    write_export,
)
from lorastudio.runs.layout import EXPORT_LOG, EXPORT_STATUS


def test_live_and_final_states_split_every_state_but_none_and_unknown():
    assert EXPORT_LIVE | EXPORT_FINAL | {ExportState.NONE, ExportState.UNKNOWN} == set(ExportState)
    assert not EXPORT_LIVE & EXPORT_FINAL
    assert ExportState.STOPPING.live and ExportState.STOPPED.final
    assert not ExportState.NONE.live and not ExportState.NONE.final


def test_a_run_never_exported_says_so_in_either_language(tmp_path: Path):
    status = read_export(tmp_path)
    assert status.state is ExportState.NONE and status.damaged is None
    assert export_state_name(status.state).text("en") == "not exported"
    assert export_state_name(status.state).text("zh") == "未导出"
    assert export_state_name(ExportState.RUNNING).text("zh") == "运行中"


def test_fields_read_back_with_their_types(tmp_path: Path):
    write_export(tmp_path, state=ExportState.STARTING, starting_since=5, argv=["a", "b"])
    update_export(tmp_path, state=ExportState.RUNNING, pid=12, started_at=6)
    status = read_export(tmp_path)
    assert status.state is ExportState.RUNNING and status.live
    assert status.pid == 12 and status.started_at == 6.0 and status.starting_since == 5.0
    assert status.argv == ["a", "b"] and status.damaged is None


def test_a_new_export_forgets_the_last_ones_end(tmp_path: Path):
    update_export(tmp_path, state=ExportState.FAILED, exit_code=1, reason=msg("export.never"))
    write_export(tmp_path, state=ExportState.STARTING)
    status = read_export(tmp_path)
    assert status.state is ExportState.STARTING
    assert status.exit_code is None and status.reason is None


def test_a_reason_is_kept_in_english_for_people_and_by_key_for_either_language(tmp_path: Path):
    update_export(tmp_path, state=ExportState.STOPPED, reason=msg("export.stopped_reason"))
    on_disk = json.loads((tmp_path / EXPORT_STATUS).read_text())
    assert on_disk["state"] == "stopped"
    assert on_disk["reason"] == "stopped by request; nothing was written to merged/"
    assert read_export(tmp_path).reason.text("zh") == "应请求停止；merged/ 中没有写入任何内容"


def test_an_update_names_no_field_export_json_does_not_have(tmp_path: Path):
    with pytest.raises(TypeError, match="no field 'stat'"):
        update_export(tmp_path, stat="running")


@pytest.mark.parametrize(
    ("content", "damage", "state"),
    [
        ("[1, 2]", "holds no JSON object", ExportState.UNKNOWN),
        ('{"state": "runn', "cannot be read", ExportState.UNKNOWN),
        ('{"state": "sideways", "pid": "x"}', "wrong type: state, pid", ExportState.UNKNOWN),
        ('{"state": "running", "argv": [1]}', "wrong type: argv", ExportState.RUNNING),
    ],
)
def test_a_damaged_export_json_is_reported_not_raised(tmp_path: Path, content, damage, state):
    (tmp_path / EXPORT_STATUS).write_text(content)
    status = read_export(tmp_path)
    assert status.state is state
    assert status.damaged is not None and damage in status.damaged.text("en")


@pytest.mark.parametrize(
    ("log", "phase"),
    [
        (None, ExportPhase.LOADING),
        ("[INFO] loading weights\n", ExportPhase.LOADING),
        ("[INFO] llamafactory.model.adapter:194 >> Merged 1 adapter(s).\n", ExportPhase.MERGING),
        (
            "… >> Merged 1 adapter(s).\n… >> Convert model dtype to: torch.float32.\n",
            ExportPhase.SAVING,
        ),
    ],
)
def test_the_phase_is_what_llamafactorys_log_has_reached(tmp_path: Path, log, phase):
    if log is not None:
        (tmp_path / EXPORT_LOG).write_text(log)
    assert export_phase(tmp_path) is phase
    assert [p.number for p in ExportPhase] == [1, 2, 3]
