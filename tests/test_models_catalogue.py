"""The model catalogue agrees with LLaMA-Factory 0.9.5 (every template exists, every hub id is the
one it registers, every Qwen text model it registers is catalogued), its shapes give the published
parameter counts and the counts transformers' own Qwen classes build, and every catalogued model
compiles to a config LLaMA-Factory's parser accepts."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
from pathlib import Path

import pytest
import yaml
from conftest import LF_DATA

from lorastudio.llamafactory import spec as llamafactory_spec
from lorastudio.llamafactory.compiler import Target, compile_recipe
from lorastudio.llamafactory.parser_check import ArgsCheck, check_train_args_many
from lorastudio.models.catalogue import CATALOGUE_FILE, catalogue, parse_catalogue
from lorastudio.models.templates import resolve_template
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

CATALOGUE = catalogue()
TRAINABLE = CATALOGUE.trainable()


@functools.cache
def llamafactory_models() -> dict[str, dict]:
    """LLaMA-Factory's register_model_group calls, read from its constants.py with ast (no torch):
    model name → {"huggingface": id, "modelscope": id, "template": name, "multimodal": bool}."""
    dist = importlib.metadata.distribution("llamafactory")
    source = Path(str(dist.locate_file("llamafactory/extras/constants.py"))).read_text()
    models: dict[str, dict] = {}
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "register_model_group"
        ):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        template = keywords.get("template")
        multimodal = keywords.get("multimodal")
        for name, hubs in zip(keywords["models"].keys, keywords["models"].values, strict=True):
            ids = {key.attr: value.value for key, value in zip(hubs.keys, hubs.values, strict=True)}
            models[name.value] = {
                "huggingface": ids.get("DEFAULT"),
                "modelscope": ids.get("MODELSCOPE"),
                "template": template.value if isinstance(template, ast.Constant) else None,
                "multimodal": isinstance(multimodal, ast.Constant) and multimodal.value is True,
            }
    return models


def registered(hf_id: str) -> tuple[str, dict] | None:
    return next(
        ((name, m) for name, m in llamafactory_models().items() if m["huggingface"] == hf_id), None
    )


def default_template(entry) -> tuple[str, bool | None]:
    choice, problems = resolve_template({"id": entry.huggingface}, None)
    assert choice is not None, problems
    return choice.template, choice.enable_thinking


def test_the_catalogue_file_loads_and_lists_every_model_once():
    assert parse_catalogue(CATALOGUE_FILE.read_text()).models == CATALOGUE.models
    names = [m.name for m in CATALOGUE.models]
    assert len(names) == len(set(names)) and len(TRAINABLE) >= 40


@pytest.mark.parametrize("family", CATALOGUE.families, ids=lambda f: f.key)
def test_every_family_template_is_one_llamafactory_knows(family):
    known = llamafactory_spec.known_templates()
    assert family.plain_template in known
    assert family.thinking_template is None or family.thinking_template in known


@pytest.mark.parametrize("entry", CATALOGUE.models, ids=lambda m: m.name)
def test_every_hub_id_is_the_one_llamafactory_registers(entry):
    found = registered(entry.huggingface)
    assert found is not None, f"{entry.huggingface} is not registered by LLaMA-Factory 0.9.5"
    name, model = found
    assert model["modelscope"] == entry.modelscope, name
    assert model["multimodal"] == (entry.family.reason == "vision_language"), name


@pytest.mark.parametrize("entry", TRAINABLE, ids=lambda m: m.name)
def test_auto_picks_the_template_llamafactory_registers_for_the_model(entry):
    name, model = registered(entry.huggingface)
    template, _ = default_template(entry)
    assert template in llamafactory_spec.known_templates()
    if model["template"] and re.search(r"-(Instruct|Thinking|Chat)", name):
        assert template == model["template"], name  # LF names a default only for chat models


QWEN_TEXT = re.compile(
    r"^Qwen(2\.5(-Coder)?|3|3\.5)-[\d.]+B(-A\d+B)?(-Base|-Instruct|-Thinking)?(-2507)?$"
)


def test_every_qwen_text_model_llamafactory_registers_is_in_the_catalogue():
    """Qwen2.5, Qwen2.5-Coder, Qwen3 (dense, MoE, 2507) and Qwen3.5 in LLaMA-Factory 0.9.5, less
    the quantized (GPTQ, AWQ), Math and 1M-context releases."""
    wanted = {
        m["huggingface"] for name, m in llamafactory_models().items() if QWEN_TEXT.match(name)
    }
    catalogued = {m.huggingface for m in CATALOGUE.models}
    assert wanted - catalogued == set()


# Published sizes (model cards), in billions: total, and active for MoE.
PUBLISHED = {
    "Qwen2.5-0.5B": 0.49,
    "Qwen2.5-1.5B": 1.54,
    "Qwen2.5-3B": 3.09,
    "Qwen2.5-7B": 7.61,
    "Qwen2.5-14B": 14.7,
    "Qwen2.5-32B": 32.5,
    "Qwen2.5-72B": 72.7,
    "Qwen3-0.6B": 0.6,
    "Qwen3-1.7B": 1.7,
    "Qwen3-4B": 4.0,
    "Qwen3-8B": 8.2,
    "Qwen3-14B": 14.8,
    "Qwen3-32B": 32.8,
    "Qwen3-30B-A3B": 30.5,
    "Qwen3-235B-A22B": 235,
}
ACTIVE = {"Qwen3-30B-A3B": 3.3, "Qwen3-235B-A22B": 22}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_catalogued_shapes_give_the_published_parameter_counts(name: str):
    shape = CATALOGUE.find(name).shape
    assert shape.params / 1e9 == pytest.approx(PUBLISHED[name], rel=0.02)  # 2 digits published
    if name in ACTIVE:
        assert shape.active_params / 1e9 == pytest.approx(ACTIVE[name], rel=0.02)


def transformers_count(entry) -> int:
    """Parameters transformers' own Qwen class builds for the catalogued shape (meta device)."""
    import torch
    from transformers import (
        Qwen2Config,
        Qwen2ForCausalLM,
        Qwen3Config,
        Qwen3ForCausalLM,
        Qwen3MoeConfig,
        Qwen3MoeForCausalLM,
    )

    s = entry.shape
    common = {
        "vocab_size": s.vocab_size,
        "hidden_size": s.hidden_size,
        "intermediate_size": s.intermediate_size,
        "num_hidden_layers": s.num_layers,
        "num_attention_heads": s.num_heads,
        "num_key_value_heads": s.num_kv_heads,
        "tie_word_embeddings": s.tie_word_embeddings,
    }
    if entry.family.key.startswith("qwen2.5"):
        config, model_class = Qwen2Config(**common), Qwen2ForCausalLM
    elif s.is_moe:
        moe = {
            "num_experts": s.num_experts,
            "num_experts_per_tok": s.num_experts_per_tok,
            "moe_intermediate_size": s.moe_intermediate_size,
        }
        config = Qwen3MoeConfig(**common, **moe, head_dim=s.head_dim)
        model_class = Qwen3MoeForCausalLM
    else:
        config, model_class = Qwen3Config(**common, head_dim=s.head_dim), Qwen3ForCausalLM
    with torch.device("meta"):
        model = model_class(config)
    return sum(p.numel() for p in model.parameters())


ONE_PER_SHAPE = list({id(m.shape): m for m in TRAINABLE if "Coder" not in m.name}.values())


@pytest.mark.slow
@pytest.mark.parametrize("entry", ONE_PER_SHAPE, ids=lambda m: m.name)
def test_catalogued_shapes_count_what_transformers_builds(entry):
    assert entry.shape.params == transformers_count(entry)


# ---------------------------------------------------------------- compiled for LLaMA-Factory

WS = Workspace(Path("/nonexistent-studio"), LF_DATA, Path("/nonexistent-studio/adapters"))
RUN = WS.adapters_dir / "RUN"


def catalogue_recipe(entry, hub: str = "huggingface") -> str:
    return yaml.safe_dump(
        {
            "schema_version": 1,
            "name": "catalogue",
            "model": {"id": entry.hub_id(hub), "hub": hub},
            "data": {"datasets": ["identity"], "cutoff_len": 256},
            "train": {"max_steps": 10},
            "hardware": {"device": "cpu"},
        }
    )


def compiled_args(entry, hub: str = "huggingface") -> dict:
    recipe = parse_recipe_text(catalogue_recipe(entry, hub))
    registry = {"identity": {"file_name": "identity.json"}}
    compiled = compile_recipe(
        recipe, target=Target("cpu"), run_dir=RUN, workspace=WS, registry=registry
    )
    return compiled.args


@pytest.mark.parametrize("entry", TRAINABLE, ids=lambda m: m.name)
def test_every_catalogued_model_compiles_with_its_template_and_thinking(entry):
    args = compiled_args(entry, "modelscope")
    template, thinking = default_template(entry)
    assert args["model_name_or_path"] == entry.modelscope
    assert args["template"] == template
    assert args.get("enable_thinking") == thinking
    assert (thinking is None) == (entry.thinking in ("none", "optional"))


@pytest.mark.slow
def test_llamafactory_parses_the_compiled_config_of_every_catalogued_model():
    checks = [ArgsCheck(compiled_args(entry), level="parse") for entry in TRAINABLE]
    verdicts = dict(zip([m.name for m in TRAINABLE], check_train_args_many(checks), strict=True))
    assert {name: v for name, v in verdicts.items() if v is not None} == {}
