"""A small stand-in for ``llamafactory-cli train`` for the fault tests: it writes the files a
LLaMA-Factory run writes, in the order it writes them, so supervisor loss, a full disk and races
can be provoked in seconds. The tests that train the real LLaMA-Factory stay (test_training_e2e).

What it shares with LLaMA-Factory, as the fault tests rely on it:
- the run folder is its working folder and its output folder;
- ``trainer_log.jsonl`` gets one line per step (current_steps, total_steps, loss);
- every ``--save-steps`` it writes ``checkpoint-N/``: the weights first, ``trainer_state.json``
  last (so a checkpoint cut short by a full disk has none);
- it resumes from the highest ``checkpoint-N`` (transformers' get_last_checkpoint: no check that
  the checkpoint is whole) and fails reading its trainer_state.json when it is missing;
- SIGABRT (LlamaBoard's stop) makes it save the adapter after the current step and exit 0;
- at the end it writes ``adapter_model.safetensors`` and ``adapter_config.json``.

With FAKE_TRAINER_OOM_ABOVE_BATCH=N it fails at once with CUDA's out-of-memory error when the
run's llamafactory.yaml asks for a micro-batch above N, as a card too small for it would.

Usage: python fake_trainer.py STEPS SAVE_STEPS STEP_SECONDS [CHECKPOINT_BYTES]
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import yaml

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
aborted = False


def _abort(signum: int, frame: object) -> None:
    global aborted
    aborted = True


def last_checkpoint(folder: Path) -> Path | None:
    found = [p for p in folder.iterdir() if CHECKPOINT.match(p.name) and p.is_dir()]
    return max(found, key=lambda p: int(CHECKPOINT.match(p.name).group(1))) if found else None


def save_adapter(folder: Path, size: int) -> None:
    (folder / "adapter_model.safetensors").write_bytes(b"\0" * size)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8}))


def main() -> int:
    steps, save_steps, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 1024
    signal.signal(signal.SIGABRT, _abort)
    here = Path.cwd()
    start = 0
    checkpoint = last_checkpoint(here)
    if checkpoint is not None:
        print(f"Resuming training from {checkpoint}.", flush=True)
        state = json.loads((checkpoint / "trainer_state.json").read_text())
        start = int(state["global_step"])
    print(f"fake trainer pid {os.getpid()} training steps {start + 1}..{steps}", flush=True)
    print(f"HF_ENDPOINT={os.environ.get('HF_ENDPOINT', '')}", flush=True)  # for the queue tests
    out_of_memory_above = os.environ.get("FAKE_TRAINER_OOM_ABOVE_BATCH")
    if out_of_memory_above is not None:  # the batch its card can hold, as a real one would fail
        config = yaml.safe_load((here / "llamafactory.yaml").read_text())
        if config["per_device_train_batch_size"] > int(out_of_memory_above):
            print(
                "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", flush=True
            )
            return 1
    for step in range(start + 1, steps + 1):
        time.sleep(seconds)
        with (here / "trainer_log.jsonl").open("a") as log:
            record = {"current_steps": step, "total_steps": steps, "loss": 2.0 / step}
            log.write(json.dumps(record) + "\n")
        if step % save_steps == 0:
            folder = here / f"checkpoint-{step}"
            folder.mkdir(exist_ok=True)
            save_adapter(folder, size)
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        if aborted:
            print(f"stopped at step {step}", flush=True)
            break
    save_adapter(here, size)
    print("***** train metrics *****", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
