"""Training speed of the speed plan against LLaMA-Factory's defaults, in one run on one card.

    python benchmarks/bench_speed.py [--recipe recipes/qwen2.5-7b-lora.yaml] [--steps 10]
        [--packing none|packed|neat] [--model PATH] [--dry-run [--card h200|h100|a100|4090|910b3]]

Three runs of the same recipe, data (LLaMA-Factory's alpaca_en_demo) and steps:
- peer: plain `llamafactory-cli train` on the recipe compiled with `train.speed: off` — what
  LLaMA-Factory does with the recipe's own batch and its defaults;
- `python launch.py train` with `train.speed: off`;
- `python launch.py train` with `train.speed: auto` (the default).
Each prints tokens/s (LLaMA-Factory's non-padding `throughput`, warm-up included), MFU (model
FLOPs, 4 × parameters a token for LoRA, over the card's dense bf16 peak, for the cards
`lorastudio.machine.peaks` knows), peak reserved memory (LLaMA-Factory's RECORD_VRAM) and the
loss at the last step, with ratios to the peer. The plan must not change what is learned beyond
the packing the recipe chose: the losses are printed side by side.

Without --model, builds random weights in the recipe model's exact shape (from the catalogue)
with the genuine Qwen2.5 tokenizer (../shared/fixtures or LORASTUDIO_FIXTURES). Needs an NVIDIA
GPU or an Ascend NPU; --dry-run prints, on any machine, what each of the three runs would be
given for a card of that kind (no training).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from conftest import LF_DATA, TOKENIZER  # noqa: E402

from lorastudio.launch.launcher import plan_target  # noqa: E402
from lorastudio.llamafactory.compiler import (  # noqa: E402
    CONFIG_FILE,
    DATASET_INFO_FILE,
    compile_recipe,
)
from lorastudio.machine.hardware import Accelerator, Hardware, detect, kernels  # noqa: E402
from lorastudio.machine.peaks import mfu  # noqa: E402
from lorastudio.models.catalogue import catalogue  # noqa: E402
from lorastudio.recipe.schema import Recipe, parse_recipe_text  # noqa: E402
from lorastudio.workspace import Workspace  # noqa: E402

CARDS = {  # for --dry-run: what nvidia-smi / npu-smi would report, idle
    "h200": Accelerator("cuda", 0, "NVIDIA H200", 143771, 542),
    "h100": Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 0),
    "a100": Accelerator("cuda", 0, "NVIDIA A100-SXM4-80GB", 81920, 0),
    "4090": Accelerator("cuda", 0, "NVIDIA GeForce RTX 4090", 24564, 300),
    "910b3": Accelerator("npu", 0, "910B3", 65536, 3314),
}
VARIANTS = ("llamafactory-cli (defaults)", "launch.py, speed: off", "launch.py, speed: auto")


def bench_recipe(path: Path, model: str, steps: int, packing: str, device: str) -> Recipe:
    overrides = {
        "model": {"id": model, "template": "auto"},
        "data": {"packing": packing},
        "train": {"max_steps": steps, "logging_steps": 1, "save_steps": 100_000},
        "hardware": {"device": device, "devices": [0]},
    }
    return parse_recipe_text(path.read_text(encoding="utf-8"), overrides=overrides)


def build_model(model_id: str, folder: Path) -> Path:
    """Random bf16 weights in ``model_id``'s shape (catalogue), with the Qwen2.5 tokenizer."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    entry = catalogue().find(model_id)
    if entry is None or entry.shape is None:
        raise SystemExit(f"{model_id} is not in the catalogue; pass --model PATH")
    shape, moe = entry.shape, entry.shape.is_moe
    kind = ("qwen3_moe" if moe else "qwen3") if entry.family.startswith("qwen3") else "qwen2"
    sizes = {
        "vocab_size": shape.vocab_size, "hidden_size": shape.hidden_size,
        "intermediate_size": shape.intermediate_size, "num_hidden_layers": shape.num_layers,
        "num_attention_heads": shape.num_heads, "num_key_value_heads": shape.num_kv_heads,
        "tie_word_embeddings": shape.tie_word_embeddings,
    }  # fmt: skip
    if shape.head_dim:
        sizes["head_dim"] = shape.head_dim
    if moe:
        sizes |= {
            "num_experts": shape.num_experts, "num_experts_per_tok": shape.num_experts_per_tok,
            "moe_intermediate_size": shape.moe_intermediate_size,
        }  # fmt: skip
    config = AutoConfig.for_model(kind, **sizes, torch_dtype="bfloat16", eos_token_id=151645)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="5GB")
    AutoTokenizer.from_pretrained(TOKENIZER).save_pretrained(folder)
    return folder


def compiled_for(recipe: Recipe, hardware: Hardware, home: Path, run: Path):
    workspace = Workspace(root=home, data_dir=LF_DATA, adapters_dir=home / "adapters")
    registry = json.loads((LF_DATA / DATASET_INFO_FILE).read_text(encoding="utf-8"))
    target = plan_target(recipe, hardware)
    return compile_recipe(
        recipe, target=target, run_dir=run, workspace=workspace, registry=registry
    )


def dry_run(args: argparse.Namespace) -> int:
    card = CARDS[args.card]
    hardware = Hardware(
        cuda=(card,) if card.kind == "cuda" else (),
        npu=(card,) if card.kind == "npu" else (),
        cpu_count=32,
        kernels=frozenset({"liger"}),
    )
    model = args.model or model_of(args.recipe)
    recipe = bench_recipe(args.recipe, model, args.steps, args.packing, card.kind)
    home = Path("/bench")
    for name, speed in zip(VARIANTS, ("off", "off", "auto"), strict=True):
        planned = recipe.model_copy(update={"train": replace_speed(recipe, speed)})
        compiled = compiled_for(planned, hardware, home, home / "adapters" / "RUN")
        keys = {k: compiled.args.get(k) for k in PLAN_KEYS if k in compiled.args}
        print(f"## {name} on {card.name}")
        print(f"#  {compiled.plan.describe().text('en')}")
        print(yaml.safe_dump(keys, sort_keys=False).rstrip())
    return 0


PLAN_KEYS = (
    "per_device_train_batch_size", "gradient_accumulation_steps", "disable_gradient_checkpointing",
    "enable_liger_kernel", "packing", "neat_packing", "train_sampling_strategy", "flash_attn",
    "dataloader_num_workers",
)  # fmt: skip


def model_of(path: Path) -> str:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["model"]["id"]


def replace_speed(recipe: Recipe, speed: str):
    return recipe.train.model_copy(update={"speed": speed})


def read_log(run: Path) -> dict:
    lines = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    last = lines[-1]
    return {
        "steps": last.get("current_steps"),
        "tokens_per_s": last.get("throughput"),
        "loss": next((row["loss"] for row in reversed(lines) if "loss" in row), None),
        "vram_reserved_gib": max((row.get("vram_reserved", 0) for row in lines), default=None),
    }


def real_run(args: argparse.Namespace) -> int:
    hardware = detect()
    hardware = replace(hardware, kernels=kernels())
    device = "cuda" if hardware.cuda else "npu" if hardware.npu else None
    if device is None:
        print("bench_speed needs an NVIDIA GPU or an Ascend NPU; --dry-run shows the plans here")
        return 2
    card = hardware.devices(device)[0]
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    model = args.model or str(build_model(model_of(args.recipe), work / "model"))
    env = os.environ | {
        "RECORD_VRAM": "1",  # LLaMA-Factory logs peak memory in trainer_log.jsonl
        "HF_HUB_OFFLINE": "1",
        "DISABLE_VERSION_CHECK": "1",
        "LORASTUDIO_HOME": str(work),
        "LORASTUDIO_DATA_DIR": str(LF_DATA),
    }
    results = {}
    for name, speed in zip(VARIANTS, ("off", "off", "auto"), strict=True):
        recipe = bench_recipe(args.recipe, model, args.steps, args.packing, device)
        recipe = recipe.model_copy(update={"train": replace_speed(recipe, speed)})
        if name.startswith("llamafactory-cli"):
            run = work / "peer"
            run.mkdir()
            compiled = compiled_for(recipe, hardware, work, run)
            (run / CONFIG_FILE).write_text(yaml.safe_dump(compiled.args, sort_keys=False))
            (run / DATASET_INFO_FILE).write_text(json.dumps(compiled.dataset_info))
            command = ["llamafactory-cli", "train", CONFIG_FILE]
            subprocess.run(command, cwd=run, env=env | compiled.env, check=False)
        else:
            path = work / f"speed-{speed}.yaml"
            path.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
            argv = [sys.executable, str(REPO / "launch.py"), "train", str(path)]
            subprocess.run(argv, cwd=work, env=env, check=False)
            run = max((work / "adapters").iterdir(), key=lambda p: p.stat().st_mtime)
        results[name] = read_log(run)
    params = catalogue().find(model_of(args.recipe)).shape.params
    peer = results[VARIANTS[0]]["tokens_per_s"] or 0
    print(f"\n{args.recipe.name} on {card.name}, {args.steps} steps, packing {args.packing}")
    print("| run | tokens/s | ratio to peer | MFU | peak reserved GiB | loss at last step |")
    print("|---|---|---|---|---|---|")
    for name, row in results.items():
        tps = row["tokens_per_s"] or 0
        used = mfu(tps, params, card.name)
        share = f"{used:.1%}" if used is not None else "–"
        ratio = f"{tps / peer:.2f}" if peer else "–"
        memory, loss = row["vram_reserved_gib"], row["loss"]
        print(f"| {name} | {tps:,.0f} | {ratio} | {share} | {memory} | {loss} |")
    print(json.dumps(results, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=REPO / "recipes" / "qwen2.5-7b-lora.yaml")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--packing", choices=["none", "packed", "neat"], default="none")
    parser.add_argument("--model", help="a model folder (default: random weights, built here)")
    parser.add_argument("--dry-run", action="store_true", help="print the three runs' plans")
    parser.add_argument("--card", choices=sorted(CARDS), default="h200")
    args = parser.parse_args()
    return dry_run(args) if args.dry_run else real_run(args)


if __name__ == "__main__":
    sys.exit(main())
