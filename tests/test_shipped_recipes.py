"""Every shipped recipe (recipes/*.yaml) validates against LLaMA-Factory's demo data, compiles to
exactly its golden file (tests/golden/<recipe>.yaml), and LLaMA-Factory's own parser accepts what
it compiles to: every check for CPU recipes; for GPU and NPU recipes, keys, types and choices on
any machine and every check on a machine with that accelerator (tests marked gpu / npu).

Goldens change only on purpose: ``LORASTUDIO_UPDATE_GOLDEN=1 pytest tests/test_shipped_recipes.py``
rewrites them; review the diff and commit it with the change that caused it.
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import LF_DATA, REPO

from lorastudio.checks.validation import check_recipe_file
from lorastudio.cluster.multinode import per_node_commands
from lorastudio.errors import RecipeError
from lorastudio.launch.launcher import plan_target
from lorastudio.llamafactory.compiler import (
    DATASET_INFO_FILE,
    DEEPSPEED_FILE,
    Compiled,
    compile_recipe,
)
from lorastudio.llamafactory.parser_check import ArgsCheck, check_train_args_many
from lorastudio.machine.hardware import Accelerator, Hardware, detect
from lorastudio.recipe.schema import Recipe
from lorastudio.workspace import Workspace

RECIPES = sorted((REPO / "recipes").glob("*.yaml"))
GOLDEN_DIR = REPO / "tests" / "golden"
UPDATE_GOLDEN = os.environ.get("LORASTUDIO_UPDATE_GOLDEN") == "1"
UPDATE_COMMAND = "LORASTUDIO_UPDATE_GOLDEN=1 pytest tests/test_shipped_recipes.py"

SHIPPED_NAMES = {
    "cpu-smoke",
    "qwen2.5-0.5b-lora",
    "qwen2.5-1.5b-lora",
    "qwen2.5-1.5b-lora-2gpu",
    "qwen2.5-7b-lora",
    "qwen2.5-7b-lora-2node",
    "qwen2.5-7b-qlora-4bit",
    "qwen2.5-7b-lora-ds-zero2",
    "qwen2.5-7b-lora-ds-zero3",
    "qwen2.5-7b-lora-npu-8card",
    "qwen2.5-0.5b-identity-zh",
    "qwen3-8b-lora",
    "qwen3-30b-a3b-lora-ds-zero3",
    "qwen3-8b-lora-npu-8card",
}

# The machine goldens are compiled for: every shipped recipe's devices exist on it.
FAKE_HARDWARE = Hardware(
    cuda=tuple(Accelerator("cuda", i, "NVIDIA H100 80GB HBM3", 81559, 0) for i in range(8)),
    npu=tuple(Accelerator("npu", i, "910B3", 65536, 3314) for i in range(8)),
    cpu_count=96,
)
GOLDEN_WORKSPACE = Workspace(
    root=Path("/workspace"),
    data_dir=Path("/workspace/data"),
    adapters_dir=Path("/workspace/adapters"),
)
GOLDEN_RUN_DIR = GOLDEN_WORKSPACE.adapters_dir / "RUN"

# What transformers' TrainingArguments says to bf16 on a machine without a bf16 GPU or NPU.
BF16_REFUSAL = (
    "ValueError: Your setup doesn't support bf16/gpu. "
    "You need to assign use_cpu if you want to train the model on CPU."
)


@functools.cache
def registry() -> dict:
    return json.loads((LF_DATA / DATASET_INFO_FILE).read_text(encoding="utf-8"))


def load(path: Path) -> Recipe:
    studio = Path("/nonexistent-studio")
    workspace = Workspace(root=studio, data_dir=LF_DATA, adapters_dir=studio / "adapters")
    return check_recipe_file(path, workspace)


def device_of(path: Path) -> str | None:
    try:
        return plan_target(load(path), FAKE_HARDWARE).device
    except RecipeError:
        return None  # test_every_shipped_recipe_validates_… reports it


def by_device(*devices: str) -> list[Path]:
    return [path for path in RECIPES if device_of(path) in devices]


def recipe_ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def compile_for(path: Path, workspace: Workspace, run_dir: Path) -> Compiled:
    recipe = load(path)
    return compile_recipe(
        recipe,
        target=plan_target(recipe, FAKE_HARDWARE),
        run_dir=run_dir,
        workspace=workspace,
        registry=registry(),
    )


def node_commands(path: Path) -> dict:
    """What each node of a multi-node recipe types and the environment its run gets; for one
    node, just the command."""
    recipe = load(path)
    commands = per_node_commands(recipe, f"recipes/{path.name}")
    if recipe.hardware.nodes.count == 1:
        return {"command": commands[0]}
    nodes = []
    for rank, command in enumerate(commands):
        node = load(path).model_copy(deep=True)
        node.hardware.nodes.rank = rank
        target = plan_target(node, FAKE_HARDWARE)
        env = compile_recipe(
            node,
            target=target,
            run_dir=GOLDEN_RUN_DIR,
            workspace=GOLDEN_WORKSPACE,
            registry=registry(),
        ).env
        nodes.append({"rank": rank, "command": command, "env": env})
    return {"nodes": nodes}


def golden_text(path: Path) -> str:
    compiled = compile_for(path, GOLDEN_WORKSPACE, GOLDEN_RUN_DIR)
    document = {
        "args": compiled.args,
        "dataset_info": compiled.dataset_info,
        "deepspeed": compiled.deepspeed,
        "env": compiled.env,
        "argv": compiled.argv,
        "speed_plan": compiled.plan.describe().text("en") if compiled.plan else None,
    } | node_commands(path)
    header = (
        f"# What recipes/{path.name} compiles to on 8 H100 GPUs + 8 Ascend 910B3 NPUs,\n"
        f"# run folder {GOLDEN_RUN_DIR}. Written by tests/test_shipped_recipes.py: do not edit;\n"
        f"# regenerate on purpose with {UPDATE_COMMAND}\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def materialize(path: Path, root: Path) -> Compiled:
    """Compile into a real run folder (data from the fixtures), as the launcher lays it out."""
    run_dir = root / path.stem
    run_dir.mkdir(parents=True)
    workspace = Workspace(root=root, data_dir=LF_DATA, adapters_dir=root)
    compiled = compile_for(path, workspace, run_dir)
    (run_dir / DATASET_INFO_FILE).write_text(json.dumps(compiled.dataset_info))
    if compiled.deepspeed is not None:
        (run_dir / DEEPSPEED_FILE).write_text(json.dumps(compiled.deepspeed))
    return compiled


# ---------------------------------------------------------------- the recipes themselves


def test_the_recipes_folder_ships_exactly_the_documented_recipes():
    assert {path.stem for path in RECIPES} == SHIPPED_NAMES


@pytest.mark.parametrize("path", RECIPES, ids=recipe_ids(RECIPES))
def test_every_shipped_recipe_validates_against_llamafactorys_demo_data(path: Path):
    load(path)


@pytest.mark.parametrize("path", RECIPES, ids=recipe_ids(RECIPES))
def test_every_shipped_recipe_is_named_after_its_file(path: Path):
    assert load(path).name == path.stem


@pytest.mark.parametrize("path", RECIPES, ids=recipe_ids(RECIPES))
def test_every_shipped_recipe_opens_with_its_hardware_and_the_command_that_runs_it(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = "\n".join(line for line in lines[: lines.index("schema_version: 1")])

    assert all(line.startswith("#") for line in header.splitlines()), "the header is comments"
    assert "# Hardware:" in header
    assert f"# Run:      python launch.py train recipes/{path.name}" in header


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("path", RECIPES, ids=recipe_ids(RECIPES))
def test_every_shipped_recipe_compiles_to_its_golden_file(path: Path):
    golden = GOLDEN_DIR / f"{path.stem}.yaml"
    actual = golden_text(path)
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
        return
    if not golden.is_file():
        pytest.fail(f"{golden} is missing; write it with {UPDATE_COMMAND}", pytrace=False)
    expected = golden.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{golden.relative_to(REPO)} (golden)",
            tofile=f"recipes/{path.name} (compiled now)",
        )
        pytest.fail(
            "".join(diff) + f"\nIf this change is intended, run {UPDATE_COMMAND} and commit it.",
            pytrace=False,
        )


def test_every_golden_file_belongs_to_a_shipped_recipe():
    stale = {p.stem for p in GOLDEN_DIR.glob("*.yaml")} - {p.stem for p in RECIPES}
    assert not stale, f"golden files without a recipe: {sorted(stale)}; delete them"


# ---------------------------------------------------------------- LLaMA-Factory's parser


CPU_RECIPES = by_device("cpu")
ACCELERATOR_RECIPES = by_device("cuda", "npu")


@pytest.fixture(scope="module")
def parser_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str | None]:
    """One subprocess: CPU recipes at every check; GPU/NPU recipes at the types and parse levels
    (keyed by recipe name and level)."""
    root = tmp_path_factory.mktemp("runs")
    wanted = [(path, "full") for path in CPU_RECIPES]
    wanted += [(path, level) for path in ACCELERATOR_RECIPES for level in ("types", "parse")]
    compiled = {path: materialize(path, root) for path in CPU_RECIPES + ACCELERATOR_RECIPES}
    checks = [ArgsCheck(compiled[path].args, compiled[path].env, level) for path, level in wanted]
    results = check_train_args_many(checks)
    return {
        (path.stem, level): result for (path, level), result in zip(wanted, results, strict=True)
    }


@pytest.mark.slow
@pytest.mark.parametrize("path", CPU_RECIPES, ids=recipe_ids(CPU_RECIPES))
def test_llamafactory_accepts_every_cpu_recipe_with_every_check(path: Path, parser_verdicts):
    assert parser_verdicts[path.stem, "full"] is None


@pytest.mark.slow
@pytest.mark.parametrize("path", ACCELERATOR_RECIPES, ids=recipe_ids(ACCELERATOR_RECIPES))
def test_llamafactory_accepts_the_keys_types_and_choices_of_every_gpu_and_npu_recipe(
    path: Path, parser_verdicts
):
    assert parser_verdicts[path.stem, "types"] is None


@pytest.mark.slow
@pytest.mark.parametrize("path", ACCELERATOR_RECIPES, ids=recipe_ids(ACCELERATOR_RECIPES))
def test_without_a_bf16_device_llamafactory_refuses_gpu_and_npu_recipes_only_for_bf16(
    path: Path, parser_verdicts
):
    """Why the default run stops at the types level for these recipes: the dataclass parse
    (and so every deeper check) needs a bf16 device. If this starts failing because the parse
    passes, check these recipes at the parse level here instead."""
    hardware = detect()
    if hardware.cuda or hardware.npu:
        pytest.skip("this machine has a GPU or NPU; the gpu/npu tests check these recipes fully")
    assert parser_verdicts[path.stem, "parse"] == BF16_REFUSAL


@pytest.fixture(scope="module")
def accelerator_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """Every check, for each GPU/NPU recipe this machine can check (its device is here; DeepSpeed
    or bitsandbytes is installed if it uses them), keyed by recipe name."""
    hardware = detect()
    has_deepspeed = importlib.util.find_spec("deepspeed") is not None
    has_bitsandbytes = importlib.util.find_spec("bitsandbytes") is not None
    root = tmp_path_factory.mktemp("accelerator-runs")
    checkable = {}
    for path in ACCELERATOR_RECIPES:
        recipe = load(path)
        if (
            hardware.devices(device_of(path))
            and (recipe.hardware.deepspeed == "none" or has_deepspeed)
            and (recipe.lora.quantization == "none" or has_bitsandbytes)
        ):
            checkable[path.stem] = materialize(path, root)
    checks = [ArgsCheck(c.args, c.env, "full") for c in checkable.values()]
    return dict(zip(checkable, check_train_args_many(checks), strict=True))


DEVICE_LABELS = {"cuda": "an NVIDIA GPU", "npu": "an Ascend NPU"}


def assert_fully_accepted(path: Path, device: str, verdicts: dict[str, str | None]) -> None:
    if not detect().devices(device):
        pytest.skip(f"needs {DEVICE_LABELS[device]}")
    if path.stem not in verdicts:
        pytest.skip(
            "needs DeepSpeed or bitsandbytes, which is not installed: "
            "pip install -e '.[deepspeed]' / pip install bitsandbytes"
        )
    assert verdicts[path.stem] is None


CUDA_RECIPES = by_device("cuda")
NPU_RECIPES = by_device("npu")


@pytest.mark.gpu
@pytest.mark.parametrize("path", CUDA_RECIPES, ids=recipe_ids(CUDA_RECIPES))
def test_llamafactory_accepts_every_gpu_recipe_with_every_check_on_a_gpu(
    path: Path, accelerator_verdicts
):
    assert_fully_accepted(path, "cuda", accelerator_verdicts)


@pytest.mark.npu
@pytest.mark.parametrize("path", NPU_RECIPES, ids=recipe_ids(NPU_RECIPES))
def test_llamafactory_accepts_every_npu_recipe_with_every_check_on_an_npu(
    path: Path, accelerator_verdicts
):
    assert_fully_accepted(path, "npu", accelerator_verdicts)
