"""The exit statuses of `python launch.py`, declared once: what each command returns, and what a
run's or an export's final state becomes (0 succeeded, 1 failed, 2 the input was wrong and
nothing started, 3 stopped or cancelled in the queue, 130 interrupted)."""

from __future__ import annotations

from enum import IntEnum

from lorastudio.runs.export_status import ExportState
from lorastudio.runs.status import RunState


class ExitCode(IntEnum):
    """What a command's exit status says."""

    OK = 0  # done; a run that succeeded
    FAILED = 1  # a run failed, or the chat worker or an export did
    USAGE = 2  # the recipe, the command or the run named was wrong; nothing was started
    STOPPED = 3  # the run was stopped (the adapter trained so far is saved) or cancelled in
    # the queue, or the export
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


# A run's final state -> the exit status of the command that followed it.
BY_STATE: dict[RunState, ExitCode] = {
    RunState.SUCCEEDED: ExitCode.OK,
    RunState.FAILED: ExitCode.FAILED,
    RunState.STOPPED: ExitCode.STOPPED,
    RunState.CANCELLED: ExitCode.STOPPED,
}


# An export's final state -> the exit status of `export`, which followed it, or stopped it.
BY_EXPORT_STATE: dict[ExportState, ExitCode] = {
    ExportState.SUCCEEDED: ExitCode.OK,
    ExportState.FAILED: ExitCode.FAILED,
    ExportState.STOPPED: ExitCode.STOPPED,
}


def for_state(state: RunState | ExportState) -> ExitCode:
    """The exit status for a run or an export that ended in ``state`` (anything unknown is a
    failure)."""
    if isinstance(state, ExportState):
        return BY_EXPORT_STATE.get(state, ExitCode.FAILED)
    return BY_STATE.get(state, ExitCode.FAILED)
