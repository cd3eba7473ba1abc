"""A small stand-in for ``llamafactory-cli export`` for the export job's fault tests, so a stop,
a failure and a killed supervisor can be provoked in seconds. The tests that merge with the real
LLaMA-Factory stay (test_export.py).

What it shares with LLaMA-Factory, as the tests rely on it:
- the run folder is its working folder; it reads ``export.yaml`` and writes into its
  ``export_dir``, which it creates: ``config.json`` first, the ``*.safetensors`` weights after;
- its log says ``Merged 1 adapter(s).`` and then ``Convert model dtype to: …`` (LLaMA-Factory's
  own words, which mark the phases), and an error as ``SomethingError: …`` before a failing exit;
- SIGTERM ends it at once (Python's default).

Usage: python fake_exporter.py SECONDS [EXIT_CODE]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml


def main() -> int:
    seconds = float(sys.argv[1])
    code = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    config = yaml.safe_load(Path("export.yaml").read_text(encoding="utf-8"))
    out = Path(config["export_dir"])
    out.mkdir(parents=True)
    print("[INFO|2026-01-01] llamafactory.model.adapter:194 >> Merged 1 adapter(s).", flush=True)
    (out / "config.json").write_text("{}")
    time.sleep(seconds)
    print("[INFO|2026-01-01] llamafactory.train.tuner:185 >> Convert model dtype to: fp32.")
    if code:
        print("ValueError: the fake exporter was told to fail", flush=True)
        return code
    (out / "model.safetensors").write_bytes(b"weights")
    (out / "tokenizer.json").write_text("{}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
