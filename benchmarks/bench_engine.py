"""Engine overhead against plain LLaMA-Factory, measured in one run on this machine.

    python benchmarks/bench_engine.py [--repeats 3] [--steps 30] [--model PATH]

Compares, on the same compiled config:
- training: `python launch.py train recipe.yaml` (validate, compile, detached supervisor, progress)
  against `llamafactory-cli train llamafactory.yaml` run directly;
- checking a recipe: `python launch.py validate` (no torch import) against LLaMA-Factory's own
  parser (`get_train_args`, what `llamafactory-cli` does first).
Prints medians and ratios (ours / peer) as a table and as JSON. Builds the tiny test model itself
unless --model is given; needs ../shared/fixtures (or LORASTUDIO_FIXTURES).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from conftest import LF_DATA, build_tiny_qwen2, tiny_recipe  # noqa: E402


def timed(argv: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{argv} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", type=Path)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lorastudio-bench-"))
    model = args.model or build_tiny_qwen2(work / "tiny-qwen2")
    env = os.environ | {
        "LORASTUDIO_HOME": str(work),
        "LORASTUDIO_DATA_DIR": str(LF_DATA),
        "HF_HUB_OFFLINE": "1",
    }
    recipe = work / "bench.yaml"
    recipe.write_text(tiny_recipe(model, name="bench", max_steps=args.steps, save_steps=1000))
    launch = [sys.executable, str(REPO / "launch.py")]
    bin_dir = Path(sys.executable).parent

    ours, peer, validate, parse = [], [], [], []
    for _ in range(args.repeats):
        ours.append(timed([*launch, "train", str(recipe)], env, work))
        run_dir = max((work / "adapters").iterdir(), key=lambda p: p.stat().st_mtime)
        plain = work / f"plain-{len(peer)}"
        plain.mkdir()
        config = (run_dir / "llamafactory.yaml").read_text().replace(str(run_dir), str(plain))
        (plain / "llamafactory.yaml").write_text(config)
        (plain / "dataset_info.json").write_text((run_dir / "dataset_info.json").read_text())
        launch_env = json.loads((run_dir / "launch.json").read_text())["env"]
        peer_env = env | launch_env | {"LLAMABOARD_WORKDIR": str(plain)}
        peer.append(
            timed(
                [str(bin_dir / "llamafactory-cli"), "train", "llamafactory.yaml"], peer_env, plain
            )
        )
        validate.append(timed([*launch, "validate", str(recipe)], env, work))
        check = (
            "import yaml, sys; from llamafactory.hparams import get_train_args; "
            "get_train_args(yaml.safe_load(open(sys.argv[1])))"
        )
        parse.append(
            timed([sys.executable, "-c", check, str(plain / "llamafactory.yaml")], peer_env, plain)
        )

    rows = {
        f"train {args.steps} steps (wall s)": (statistics.median(ours), statistics.median(peer)),
        "check a recipe (wall s)": (statistics.median(validate), statistics.median(parse)),
    }
    print(f"{'measure':<32} {'LoRA Studio':>12} {'LLaMA-Factory':>14} {'ratio':>7}")
    for name, (a, b) in rows.items():
        print(f"{name:<32} {a:>12.2f} {b:>14.2f} {a / b:>7.2f}")
    print(
        json.dumps(
            {
                name: {"lorastudio": a, "llamafactory": b, "ratio": a / b}
                for name, (a, b) in rows.items()
            }
        )
    )


if __name__ == "__main__":
    main()
