"""The small process that owns one run: it starts the trainer in its own process group, records
pid, exit code and final status in status.json, and carries out a stop. It runs detached from
whoever launched it, so closing the studio or killing `launch.py` never touches a run.

When it ends it hands its devices over: the queued runs that are due start
(`lorastudio.runs.queue.kick`), so a queue moves on with no studio open.

It never ends without saying why: a stop asked before it started the trainer wins (checked under
the run's lock, which a stop holds too); it keeps a little spare room on the run's disk, given
back to record a full disk; what it cannot record it writes to supervisor.log, and a later
reconcile works the end out from the run's files (`lorastudio.runs.outcome`).

Run by the launcher as ``python -m lorastudio.runs.supervisor --daemon RUN_DIR``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import psutil
import yaml

from lorastudio import processes
from lorastudio.files import write_text_atomic
from lorastudio.llamafactory.compiler import CONFIG_FILE
from lorastudio.machine import usage
from lorastudio.machine.usage import visible_indices
from lorastudio.messages import msg
from lorastudio.runs.layout import (
    ATTEMPT_MARK,
    LAUNCH_FILE,
    LOG_FILE,
    SPARE_FILE,
    SUPERVISOR_LOG,
    TRAINER_LOG,
    USAGE_LOG,
    has_adapter,
)
from lorastudio.runs.liveness import group_members
from lorastudio.runs.metrics import summarize_trainer_log
from lorastudio.runs.outcome import diagnose_attempt, is_no_space
from lorastudio.runs.queue import kick
from lorastudio.runs.status import RunState, RunStatus, read_status, run_lock, update_status

POLL_SECONDS = 0.25
FALLBACK_STEPS = 20  # an out-of-memory up to this step tries the speed plan's safer settings
USAGE_SECONDS = float(os.environ.get("LORASTUDIO_USAGE_SECONDS", "10"))  # cards sampled
AFTER_TRAINERS_GRACE_S = 10.0
SPARE_BYTES = 256 * 1024  # enough for status.json written anew, several times over


def stop_grace_seconds() -> float:
    """How long a stopping trainer may take to save its adapter before it is killed."""
    return float(os.environ.get("LORASTUDIO_STOP_GRACE", "300"))


def trainer_processes(root: psutil.Process) -> list[psutil.Process]:
    """The processes that run training steps: torchrun's workers, or the root itself."""
    try:
        descendants = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for process in [root, *descendants]:
        try:
            command = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if "torchrun" in command or "torch.distributed.run" in command:
            try:
                return process.children()
            except psutil.NoSuchProcess:
                return []
    return [root]


def reserve_spare(run_dir: Path) -> None:
    """Keep a little room on the run's disk (random bytes: a compressing filesystem keeps no
    room for zeros); nothing is lost when there is none to keep."""
    with contextlib.suppress(OSError):
        (run_dir / SPARE_FILE).write_bytes(os.urandom(SPARE_BYTES))


def release_spare(run_dir: Path) -> bool:
    """Give the spare room back; whether there was any."""
    try:
        (run_dir / SPARE_FILE).unlink()
    except OSError:
        return False
    return True


def record(run_dir: Path, **fields: Any) -> RunStatus:
    """`update_status`, and on a full disk once more after giving back the spare room.

    Raises:
        OSError: status.json cannot be written even so.
    """
    try:
        return update_status(run_dir, **fields)
    except OSError as exc:
        if not is_no_space(exc) or not release_spare(run_dir):
            raise
    return update_status(run_dir, **fields)


class Supervisor:
    """Starts the trainer, waits for it, handles a stop request, writes the final status."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.stop_requested_at: float | None = None
        self.abort_sent = False
        self.aborted: list[psutil.Process] = []
        self.trainers_done_at: float | None = None
        self.seen: dict[int, float] = {}  # every process of the run: pid -> create_time

    def _request_stop(self, signum: int, frame: object) -> None:
        if self.stop_requested_at is None:
            self.stop_requested_at = time.time()

    def _spawn(self) -> subprocess.Popen:
        launch = json.loads((self.run_dir / LAUNCH_FILE).read_text())
        argv = [processes.tool(launch["argv"][0]), *launch["argv"][1:]]
        log = (self.run_dir / LOG_FILE).open("ab")
        log.write(f"{ATTEMPT_MARK}{' '.join(argv)} at {time.ctime()}\n".encode())
        log.flush()
        return processes.start(
            argv,
            cwd=launch["cwd"],
            env=processes.child_env(launch["env"]),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a stop reaches every rank
        )

    def _remember_processes(self, root: psutil.Process) -> None:
        try:
            for process in [root, *root.children(recursive=True)]:
                self.seen.setdefault(process.pid, process.create_time())
        except psutil.NoSuchProcess:
            pass

    def _send_abort(self, root: psutil.Process) -> None:
        # LLaMA-Factory (LLAMABOARD_ENABLED=1) stops at the next step on SIGABRT and saves the
        # adapter; only the trainers get it, so torchrun sees its workers finish cleanly.
        self.aborted = trainer_processes(root)
        for process in self.aborted:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGABRT)
        self.abort_sent = True

    def _trainers_done(self) -> bool:
        """Whether every process that got the stop signal has exited (the adapter is saved)."""
        for process in self.aborted:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    return False
        return True

    def _after_trainers(self, pgid: int) -> bool:
        """After a stop, the stopped trainers have saved and exited: give torchrun and
        LLaMA-Factory's launcher a few seconds to follow, then end them. On several nodes
        torchrun would otherwise wait minutes in its exit barrier for the other nodes."""
        if not self._trainers_done():
            return False
        now = time.time()
        if self.trainers_done_at is None:
            self.trainers_done_at = now
        if now - self.trainers_done_at < AFTER_TRAINERS_GRACE_S:
            return False
        self._kill_everything(pgid)
        return True

    def _kill_everything(self, pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        for pid, created in self.seen.items():
            try:
                process = psutil.Process(pid)
                if abs(process.create_time() - created) < 1.0:
                    process.kill()
            except psutil.NoSuchProcess:
                pass

    def listen(self) -> None:
        """Take SIGTERM (and Ctrl-C) as a stop request; never die of a hang-up."""
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def run(self) -> int:
        """Start the trainer, unless a stop came first, and see it to its end."""
        with run_lock(self.run_dir):  # a stop holds it too: it comes before the start or after
            current = read_status(self.run_dir)
            if current.stop_requested_at is not None or current.final:
                return self._never_started(current)
            proc = self._spawn()
            try:
                root = psutil.Process(proc.pid)
                status = record(
                    self.run_dir,
                    state=RunState.RUNNING,
                    started_at=time.time(),
                    pid=proc.pid,
                    pid_create_time=root.create_time(),
                    pgid=proc.pid,
                )
            except BaseException:
                self._kill_everything(proc.pid)  # a trainer nobody could find must not run
                raise
        sampled = threading.Event()
        if status.device in ("cuda", "npu"):
            sampler = threading.Thread(
                target=self._sample_cards, args=(status.device, sampled), daemon=True
            )
            sampler.start()
        try:
            return self._watch(proc, root, status)
        except BaseException:
            self._kill_everything(proc.pid)  # a run that lost its supervisor ends with it
            raise
        finally:
            sampled.set()

    def _never_started(self, current: RunStatus) -> int:
        if not current.final:
            record(
                self.run_dir,
                state=RunState.STOPPED,
                ended_at=time.time(),
                reason=msg("reason.stopped_before_start"),
            )
        return 0

    def _watch(self, proc: subprocess.Popen, root: psutil.Process, status: RunStatus) -> int:
        deadline = None
        killed = False
        while True:
            self._remember_processes(root)
            exit_code = proc.poll()
            if self.stop_requested_at is not None and not self.abort_sent:
                with contextlib.suppress(OSError):  # a full disk does not stop a stop
                    update_status(
                        self.run_dir,
                        state=RunState.STOPPING,
                        stop_requested_at=self.stop_requested_at,
                    )
                self._send_abort(root)
                deadline = time.time() + stop_grace_seconds()
            if exit_code is not None:
                if not group_members(proc.pid):
                    break
                if deadline is None:  # the main process is gone; stragglers get a short grace
                    deadline = time.time() + 30
            if deadline is not None and time.time() > deadline and not killed:
                self._kill_everything(proc.pid)
                killed = True
            if self.abort_sent and exit_code is None and self._after_trainers(proc.pid):
                break  # what is left waits on other nodes' ranks, which a stop here ends anyway
            time.sleep(POLL_SECONDS)
        self._kill_everything(proc.pid)  # nothing of the run outlives it
        if exit_code is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                exit_code = proc.wait(timeout=10)
        return self._finish(status, exit_code, killed=killed)

    def _finish(self, status: RunStatus, exit_code: int | None, killed: bool) -> int:
        summary = summarize_trainer_log(self.run_dir / TRAINER_LOG)
        saved = has_adapter(self.run_dir)
        fields: dict = {"exit_code": exit_code, "ended_at": time.time(), "step": summary.step}
        if self.stop_requested_at is not None:
            fields |= {
                "state": RunState.STOPPED,
                "reason": msg(
                    "reason.stopped",
                    step=summary.step,
                    how=msg("reason.killed_after_grace", seconds=f"{stop_grace_seconds():.0f}")
                    if killed
                    else msg("reason.stopped_cleanly"),
                    saved=msg("reason.adapter_saved" if saved else "reason.no_adapter_saved"),
                ),
            }
        elif exit_code == 0 and saved:
            fields |= {"state": RunState.SUCCEEDED, "reason": None}
        elif exit_code == 0 and status.node_rank > 0:
            # Rank 0 writes the adapter and the trainer log; this node's ranks just took part.
            fields |= {
                "state": RunState.SUCCEEDED,
                "reason": msg("reason.node_done", rank=status.node_rank, master=status.master_addr),
            }
        else:
            diagnosis = diagnose_attempt(self.run_dir, exit_code, summary)
            if diagnosis.kind == "out_of_memory" and self._fall_back(status, summary.step):
                return self.run()  # once: the safer plan is in the config now
            fields |= {
                "state": RunState.FAILED,
                "reason": diagnosis.message,
                "failure": diagnosis.kind,
            }
        record(self.run_dir, **fields)
        return 0

    def _sample_cards(self, device: str, done: threading.Event) -> None:
        """Every USAGE_SECONDS while the trainer runs, the run's cards' memory and utilisation
        into device_usage.jsonl (a thread: a slow nvidia-smi never delays a stop)."""
        try:
            launch = json.loads((self.run_dir / LAUNCH_FILE).read_text())
        except (OSError, ValueError):
            return
        indices = visible_indices(launch.get("env") or {})
        while not done.wait(USAGE_SECONDS):
            cards = usage.sample(device, indices)
            if not cards:
                continue
            line = {"time": round(time.time(), 1), "cards": [c.as_dict() for c in cards]}
            with contextlib.suppress(OSError), (self.run_dir / USAGE_LOG).open("a") as log:
                log.write(json.dumps(line) + "\n")

    def _fall_back(self, status: RunStatus, step: int | None) -> bool:
        """After an out-of-memory in the first steps, put the speed plan's safer settings
        (launch.json's ``fallback``) into the config, say so in the log and the status, and let
        the run start once more; whether it will."""
        if status.fell_back is not None or (step or 0) > FALLBACK_STEPS:
            return False
        try:
            changes = json.loads((self.run_dir / LAUNCH_FILE).read_text()).get("fallback")
            config_path = self.run_dir / CONFIG_FILE
            config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            return False
        if not changes or not isinstance(config, dict):
            return False
        before = {key: config.get(key) for key in changes}
        config |= changes
        if "per_device_eval_batch_size" in config and "per_device_train_batch_size" in changes:
            config["per_device_eval_batch_size"] = changes["per_device_train_batch_size"]
        said = ", ".join(f"{key}: {before[key]} → {value}" for key, value in changes.items())
        note = msg("reason.oom_fallback", step=step or 0, changes=said)
        try:
            write_text_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
            with (self.run_dir / LOG_FILE).open("a", encoding="utf-8") as log:
                log.write(f"\nLoRA Studio: {note.text('en')}\n")
            record(self.run_dir, fell_back=note, state=RunState.STARTING)
        except OSError:
            return False
        return True


def _supervise(run_dir: Path) -> int:
    supervisor = Supervisor(run_dir)
    supervisor.listen()  # before its pid is known: a stop may signal it from then on
    me = psutil.Process()
    try:
        update_status(
            run_dir,
            supervisor_pid=me.pid,
            supervisor_create_time=me.create_time(),
            host=socket.gethostname(),
        )
        reserve_spare(run_dir)
        return supervisor.run()
    except Exception as exc:  # the run must end with a recorded status, whatever happened
        traceback.print_exc()
        _record_failure(run_dir, exc)
        return 1
    finally:
        release_spare(run_dir)
        hand_over(run_dir)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()


def hand_over(run_dir: Path) -> None:
    """Start the queued runs that wait for the devices this run held (a failure to start one is
    recorded in that run's status; anything else goes to this run's supervisor.log)."""
    try:
        for started in kick(run_dir.parent):
            print(f"LoRA Studio: handed over to the queued run {started.name}", flush=True)
    except Exception:  # the run's own end is recorded already; the next kick starts them
        traceback.print_exc()


def _record_failure(run_dir: Path, exc: Exception) -> None:
    """Record why the supervisor could not go on (a full disk said as such); what cannot be
    recorded is said in supervisor.log, and a later reconcile works it out from the files."""
    if read_status(run_dir).final:
        return
    if is_no_space(exc):
        fields = {"reason": msg("failure.disk_full"), "failure": "disk_full"}
    else:
        fields = {"reason": msg("reason.supervisor_failed", error=repr(exc))}
    try:
        record(run_dir, state=RunState.FAILED, ended_at=time.time(), **fields)
    except OSError as again:
        print(
            f"LoRA Studio: could not record the run's end in status.json: {again}", file=sys.stderr
        )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    daemon = "--daemon" in args
    run_dir = Path(next(a for a in args if not a.startswith("--"))).resolve()
    if daemon:  # detached: the supervisor outlives whoever started it
        processes.daemonize(run_dir / SUPERVISOR_LOG, lambda: _supervise(run_dir))
        return 0
    return _supervise(run_dir)


if __name__ == "__main__":
    sys.exit(main())
