"""`python launch.py models [--json] [--local]`: every catalogued model with both hub ids, its
template and its memory for a default LoRA — the number pre-flight computes — judged against
this machine (recorded H100s, a CPU box of a given RAM), and the models of the Hugging Face and
ModelScope caches (folders made here from the Qwen2.5 config.json fixture) recognised."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import FIXTURES, TOKENIZER, Studio

import lorastudio.checks.fit as fit
import lorastudio.cli.models as cli_models
from lorastudio.checks.preflight import run_preflight
from lorastudio.cli.main import main
from lorastudio.llamafactory.compiler import Target
from lorastudio.machine.hardware import Hardware, parse_nvidia_smi_table
from lorastudio.recipe.schema import parse_recipe_text
from lorastudio.workspace import Workspace

H100S = Hardware(
    cuda=tuple(
        parse_nvidia_smi_table((FIXTURES / "nvidia-smi" / "h100-sxm-8gpu-idle.txt").read_text())
    ),
    npu=(),
    cpu_count=64,
)
CPU_BOX = Hardware(cuda=(), npu=(), cpu_count=8)
QWEN25_CONFIG = (TOKENIZER / "config.json").read_text()  # Qwen/Qwen2.5-0.5B-Instruct's


def on(monkeypatch, hardware: Hardware, ram_gib: int = 24) -> None:
    """This machine, as the command finds it: its cards, and the RAM a CPU run may use."""

    class Memory:
        available = ram_gib << 30

    monkeypatch.setattr(cli_models, "detect", lambda: hardware)
    monkeypatch.setattr(fit.psutil, "virtual_memory", lambda: Memory())


@pytest.fixture
def caches(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """Empty Hugging Face and ModelScope caches of this test's own."""
    hf, ms = tmp_path / "hf-hub", tmp_path / "modelscope"
    hf.mkdir()
    ms.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(ms))
    return hf, ms


def put_in_hf_cache(hf: Path, model_id: str, config: str) -> Path:
    folder = hf / f"models--{model_id.replace('/', '--')}" / "snapshots" / "7ae5576"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(config)
    return folder


def models(tmp_path: Path, *args: str) -> str:
    out = io.StringIO()
    assert main(["models", *args], root=tmp_path, out=out) == 0
    return out.getvalue()


def listed(tmp_path: Path, *args: str) -> dict:
    return json.loads(models(tmp_path, "--json", *args))


def row(data: dict, name: str) -> dict:
    return next(r for r in data["catalogue"] if r["name"] == name)


def test_every_catalogued_model_is_listed_with_both_hub_ids_and_its_template(
    tmp_path, monkeypatch, caches
):
    on(monkeypatch, H100S)
    data = listed(tmp_path)
    assert len(data["catalogue"]) == 59
    qwen3 = row(data, "Qwen3-8B")
    assert (qwen3["huggingface"], qwen3["modelscope"]) == ("Qwen/Qwen3-8B", "Qwen/Qwen3-8B")
    assert (qwen3["family"], qwen3["size"], qwen3["variant"]) == ("qwen3", "8B", "hybrid")
    assert (qwen3["template"], qwen3["enable_thinking"]) == ("qwen3", True)
    assert row(data, "Qwen3-4B-Instruct-2507")["template"] == "qwen3_nothink"
    assert row(data, "Qwen2.5-7B")["template"] == "qwen"
    unsupported = row(data, "Qwen3.5-9B")
    assert not unsupported["supported"] and unsupported["fits"] is None


def test_the_memory_shown_is_what_pre_flight_computes_for_that_model(tmp_path, monkeypatch, caches):
    on(monkeypatch, H100S)
    data = listed(tmp_path)
    recipe = parse_recipe_text(
        "schema_version: 1\nname: m\nmodel: {id: Qwen/Qwen3-8B}\n"
        "data: {datasets: [identity]}\ntrain: {max_steps: 1}\n"
    )
    workspace = Workspace(tmp_path, tmp_path / "data", tmp_path / "adapters")
    report = run_preflight(recipe, workspace, Target("cuda", 1), H100S, {}, probe=dict)
    assert data["setup"] == {
        "lora_rank": 8,
        "lora_target": "all",
        "batch_size": 1,
        "cutoff_len": 1024,
    }
    assert row(data, "Qwen3-8B")["memory_gib"]["lora_bf16"] == round(report.memory.total / 2**30, 2)


def test_on_h100s_an_8b_model_fits_a_72b_one_only_as_qlora_and_the_largest_moe_not_at_all(
    tmp_path, monkeypatch, caches
):
    on(monkeypatch, H100S)
    data = listed(tmp_path)
    assert data["machine"]["device"] == "cuda" and data["machine"]["precision"] == "bf16"
    assert 79 < data["machine"]["budget_gib"] < 80  # one H100 80GB, all free
    assert row(data, "Qwen3-8B")["fits"]["summary"] == "fits"
    big = row(data, "Qwen2.5-72B-Instruct")["fits"]
    assert (big["lora"], big["qlora_4bit"], big["summary"]) == ("no_fit", "fits", "qlora")
    assert row(data, "Qwen3-235B-A22B")["fits"]["summary"] == "no_fit"
    table = models(tmp_path)
    line = next(x for x in table.splitlines() if x.startswith("Qwen/Qwen2.5-72B-Instruct "))
    assert line.endswith("only QLoRA 4-bit fits") and "141.0 GiB" in line


def test_on_a_cpu_box_a_model_is_judged_in_fp32_and_qlora_is_not_offered(
    tmp_path, monkeypatch, caches
):
    on(monkeypatch, CPU_BOX, ram_gib=24)
    data = listed(tmp_path)
    assert data["machine"] == {
        "device": "cpu",
        "precision": "fp32",
        "budget_gib": 24.0,
        "where": {"en": "RAM available", "zh": "可用内存"},
    }
    small, big = row(data, "Qwen2.5-0.5B-Instruct"), row(data, "Qwen3-8B")
    assert small["fits"] == {"lora": "fits", "qlora_4bit": None, "summary": "fits"}
    assert big["memory_gib"]["lora_bf16"] < 24 < big["memory_gib"]["this_machine"]  # fp32 here
    assert big["fits"]["summary"] == "no_fit"


def test_models_in_the_hugging_face_and_modelscope_caches_are_listed_and_recognised(
    tmp_path, monkeypatch, caches
):
    on(monkeypatch, CPU_BOX)
    hf, ms = caches
    put_in_hf_cache(hf, "Qwen/Qwen2.5-0.5B-Instruct", QWEN25_CONFIG)
    llama = json.loads(QWEN25_CONFIG) | {"model_type": "llama", "architectures": ["Llama"]}
    put_in_hf_cache(hf, "someone/tiny-llama", json.dumps(llama))
    scoped = ms / "models" / "Qwen" / "Qwen2___5-0___5B-Instruct"
    scoped.mkdir(parents=True)
    (scoped / "config.json").write_text(QWEN25_CONFIG)

    data = listed(tmp_path, "--local")

    assert "catalogue" not in data
    assert data["caches"] == {"huggingface": str(hf), "modelscope": str(ms)}
    found = {(m["hub"], m["id"]): m for m in data["local"]}
    assert set(found) == {
        ("huggingface", "Qwen/Qwen2.5-0.5B-Instruct"),
        ("huggingface", "someone/tiny-llama"),
        ("modelscope", "Qwen/Qwen2.5-0.5B-Instruct"),
    }
    qwen = found[("modelscope", "Qwen/Qwen2.5-0.5B-Instruct")]
    assert (qwen["family"], qwen["catalogued"], qwen["model_type"]) == (
        "qwen2.5",
        "Qwen2.5-0.5B-Instruct",
        "qwen2",
    )
    assert qwen["path"] == str(scoped) and qwen["params"] == 494_032_768
    assert qwen["fits"]["summary"] == "fits"
    stranger = found[("huggingface", "someone/tiny-llama")]
    assert stranger["family"] is None and stranger["catalogued"] is None


def test_empty_caches_are_named_where_they_were_looked_for(tmp_path, monkeypatch, caches):
    on(monkeypatch, CPU_BOX)
    hf, ms = caches
    text = models(tmp_path, "--local")
    assert f"No models in this machine's caches ({hf}, {ms})." in text
    assert "Qwen/Qwen3-8B" not in text


@pytest.mark.slow
def test_the_command_speaks_chinese_with_lang_zh(tmp_path: Path):
    hf, ms = tmp_path / "hf", tmp_path / "ms"
    put_in_hf_cache(hf, "Qwen/Qwen2.5-0.5B-Instruct", QWEN25_CONFIG)
    studio = Studio(tmp_path, tmp_path / "data")
    studio.env |= {"HF_HUB_CACHE": str(hf), "MODELSCOPE_CACHE": str(ms)}

    result = studio.cli("--lang", "zh", "models")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("本机：")
    header = next(x for x in lines if x.startswith("模型（HUGGING FACE = MODELSCOPE）"))
    assert "系列" in header and "LoRA bf16 内存" in header and header.endswith("本机")
    qwen3 = next(x for x in lines if x.startswith("Qwen/Qwen3-8B "))
    assert "指令（混合思考）" in qwen3 and "qwen3" in qwen3
    assert f"本机 Hugging Face 和 ModelScope 缓存（{hf}、{ms}）中的模型：" in lines
    cached = next(x for x in lines if x.startswith("Qwen/Qwen2.5-0.5B-Instruct ") and str(hf) in x)
    assert "Hugging Face 缓存" in cached and "Qwen2.5" in cached
    assert "fits" not in result.stdout and "Traceback" not in result.stderr
