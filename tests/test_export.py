"""Export: `launch.py export RUN` merges the adapter into adapters/<run>/merged/ with
`llamafactory-cli export`, as a job of its own; the merged model loads with plain transformers
and answers like the adapter; `--detach` returns at once and the export lands by itself, and a
second `export` follows the one under way; a stopped or failed export leaves nothing
half-written and no process behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import LearnedRun, copied_run
from fake_runs import group_members, living

from lorastudio.chat.client import ChatClient
from lorastudio.chat.export import export_config
from lorastudio.chat.export_job import start_export, wait_for_export
from lorastudio.chat.params import ChatParams
from lorastudio.runs.export_status import ExportState, read_export

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
    _, run = copied_run(learned_run, tmp_path)
    base = yaml.safe_load((run / "llamafactory.yaml").read_text())["model_name_or_path"]
    weightless = tmp_path / "weightless-base"  # a config and a tokenizer, but no weights
    weightless.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(base) / name, weightless / name)

    start_export(run, model=str(weightless))
    failed = wait_for_export(run, timeout=300)

    assert failed.state is ExportState.FAILED and failed.exit_code not in (0, None)
    assert "llamafactory-cli export failed" in failed.reason.text("en")
    assert "export.log" in failed.reason.text("en")
    assert f"运行 {run.name} 的 llamafactory-cli export 失败" in failed.reason.text("zh")
    assert "merged/ 中没有写入任何内容" in failed.reason.text("zh")
    assert not (run / "merged").exists()
    assert not list(run.glob(".merged.*"))


def test_a_detached_export_lands_whole_and_a_second_export_follows_it(
    learned_run: LearnedRun, tmp_path: Path
):
    studio, run = copied_run(learned_run, tmp_path)

    detached = studio.cli("export", run.name, "--detach", timeout=60)

    assert detached.returncode == 0, detached.stdout + detached.stderr
    assert f"merging {run.name} into {run / 'merged'}" in detached.stdout
    assert f"python launch.py export {run.name} --stop" in detached.stdout
    under_way = read_export(run)
    assert under_way.live and under_way.supervisor_pid and under_way.pgid
    followed = studio.cli("export", run.name)  # it follows the export under way to its end
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert f"an export of {run.name} is running already; following it" in followed.stdout
    assert "merged in" in followed.stdout and "Merged 1 adapter(s)." in followed.stdout
    final = read_export(run)
    assert final.state is ExportState.SUCCEEDED and final.pid == under_way.pid  # one export
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(final.files)
    assert json.loads((run / "merged" / "config.json").read_text())["model_type"] == "qwen2"
    assert not list(run.glob(".merged.*"))
    assert group_members(under_way.pgid) == [] and living([under_way.supervisor_pid]) == []


def test_a_stopped_export_leaves_no_merged_folder_and_no_process(
    learned_run: LearnedRun, tmp_path: Path
):
    studio, run = copied_run(learned_run, tmp_path)
    detached = studio.cli("export", run.name, "--detach", timeout=60)
    assert detached.returncode == 0, detached.stdout + detached.stderr
    under_way = read_export(run)  # LLaMA-Factory is still loading: it takes seconds

    stopped = studio.cli("--lang", "zh", "export", run.name, "--stop", timeout=120)

    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    assert f"{run.name} 的导出：已停止——应请求停止；merged/ 中没有写入任何内容" in stopped.stdout
    assert read_export(run).state is ExportState.STOPPED
    assert not (run / "merged").exists() and not list(run.glob(".merged.*"))
    assert group_members(under_way.pgid) == [] and living([under_way.supervisor_pid]) == []
    again = studio.cli("export", run.name, "--stop", timeout=60)
    assert again.returncode == 2
    assert f"no export of run {run.name} is running (its last export: stopped)" in again.stderr
