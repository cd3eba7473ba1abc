"""Export: `launch.py export RUN` merges the adapter into adapters/<run>/merged/ with
`llamafactory-cli export`; the merged model loads with plain transformers and answers like the
adapter; a failed export leaves nothing half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import LearnedRun

from lorastudio.chat.client import ChatClient
from lorastudio.chat.export import Export, export_config
from lorastudio.chat.params import ChatParams
from lorastudio.errors import ExportError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(learned_run: LearnedRun):
    result = learned_run.studio.cli("export", learned_run.run_dir.name)
    return result, learned_run.run_dir / "merged"


def test_export_merges_into_the_run_folder_and_says_where(exported):
    result, merged = exported
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Merged 1 adapter(s)." in result.stdout
    assert "merged in" in result.stdout and str(merged) in result.stdout
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"):
        assert (merged / name).is_file(), name
    assert not list(merged.parent.glob(".merged.*"))  # no temporary folder left
    config = yaml.safe_load((merged.parent / "export.yaml").read_text())
    assert config["export_dir"] == str(merged) and config["template"] == "qwen"
    assert "Merged 1 adapter(s)." in (merged.parent / "export.log").read_text()


def test_the_merged_model_loads_with_plain_transformers_and_answers_like_the_adapter(
    exported, learned_run: LearnedRun, chat_client: ChatClient
):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, merged = exported
    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged)
    messages = [{"role": "user", "content": "Who are you?"}]
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)
    prompt = torch.tensor([ids["input_ids"]])
    assert tokenizer.decode(ids["input_ids"]) == chat_client.prompt_text(messages)  # same template
    with torch.inference_mode():
        out = model.generate(
            prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=24, do_sample=False
        )
    merged_answer = tokenizer.decode(out[0, prompt.shape[1] :], skip_special_tokens=True)

    adapter_answer = chat_client.answer(messages, ChatParams(temperature=0, max_new_tokens=24))
    assert merged_answer == adapter_answer
    assert adapter_answer.startswith(learned_run.answers["Who are you?"])


def test_the_export_config_carries_the_trainings_prompt_settings(
    learned_run: LearnedRun, tmp_path: Path
):
    config = yaml.safe_load((learned_run.run_dir / "llamafactory.yaml").read_text())
    (tmp_path / "llamafactory.yaml").write_text(yaml.safe_dump(config | {"default_system": "Hi."}))
    shutil.copy(learned_run.run_dir / "recipe.yaml", tmp_path / "recipe.yaml")
    exported = export_config(tmp_path, tmp_path / "merged")
    assert exported["default_system"] == "Hi." and exported["template"] == "qwen"
    assert exported["adapter_name_or_path"] == str(tmp_path)


def test_a_failed_export_leaves_no_merged_folder(learned_run: LearnedRun, tmp_path: Path):
    run = tmp_path / learned_run.run_dir.name
    run.mkdir()
    for name in (
        "recipe.yaml",
        "llamafactory.yaml",
        "status.json",
        "adapter_config.json",
        "adapter_model.safetensors",
    ):
        shutil.copy(learned_run.run_dir / name, run / name)
    base = yaml.safe_load((run / "llamafactory.yaml").read_text())["model_name_or_path"]
    weightless = tmp_path / "weightless-base"  # a config and a tokenizer, but no weights
    weightless.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(base) / name, weightless / name)

    lines: list[str] = []
    with pytest.raises(ExportError, match="llamafactory-cli export failed") as failed:
        for line in Export(run, model=str(weightless)).lines():
            lines.append(line)
    assert lines, "the log streamed while it ran"
    assert "export.log" in str(failed.value)
    assert f"运行 {run.name} 的 llamafactory-cli export 失败" in failed.value.text("zh")
    assert "merged/ 中没有写入任何内容" in failed.value.text("zh")
    assert not (run / "merged").exists()
    assert not list(run.glob(".merged.*"))
