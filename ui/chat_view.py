"""What the Chat tab shows: its sections' widgets (the sampling settings read from ChatParams,
where each default, range and help is written once), conversations in gradio's messages format,
the chat worker's status line and the prompt-set table."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import gradio as gr
import pandas as pd

from lorastudio.chat.client import ChatClient
from lorastudio.chat.params import ChatParams, Message
from lorastudio.chat.prompt_sets import PromptRow
from lorastudio.chat.thinking import split_thinking
from lorastudio.runs.index import RunInfo
from lorastudio.runs.status import RunState
from ui import export_view
from ui.labels import Labels
from ui.locale import chat_help, t

PARAMS = tuple(ChatParams.model_fields)  # system, temperature, top_p, max_new_tokens, seed
SLIDER_STEP = 0.05
CHAT_STATES = (RunState.SUCCEEDED, RunState.STOPPED)  # they ended with an adapter to chat with


def chat_runs(infos: list[RunInfo]) -> list[str]:
    """The runs one can chat with: ended (succeeded or stopped) with an adapter saved."""
    return [info.id for info in infos if info.adapter and info.state in CHAT_STATES]


def bounds(name: str) -> tuple[float | None, float | None, bool]:
    """A setting's range from its schema: (low, high, whether low itself is excluded)."""
    low = high = None
    low_open = False
    for rule in ChatParams.model_fields[name].metadata:
        if getattr(rule, "ge", None) is not None:
            low = rule.ge
        if getattr(rule, "gt", None) is not None:
            low, low_open = rule.gt, True
        if getattr(rule, "le", None) is not None:
            high = rule.le
        if getattr(rule, "lt", None) is not None:
            high = rule.lt - 1  # integers only (the seed)
    return low, high, low_open


def param_help(name: str, lang: str) -> str:
    """A setting's help, written beside it in the schema (its description, and the Chinese in
    ``json_schema_extra``), with its range for numbers."""
    text = chat_help(name, lang)
    if ChatParams.model_fields[name].annotation is int:
        low, high, _ = bounds(name)
        text += " " + t("field.range", lang, range=f"{low}–{high}")
    return text


def param_widgets(labels: Labels) -> dict[str, gr.components.Component]:
    """One widget per ChatParams field, in schema order: text, slider (floats) or a number box
    (integers: a typed value out of range is refused with a message, not clamped)."""
    widgets: dict[str, gr.components.Component] = {}
    for name, field in ChatParams.model_fields.items():
        texts = {"label": f"chat.param.{name}", "info": lambda lang, n=name: param_help(n, lang)}
        common = {"value": field.default, "elem_id": f"chat-{name.replace('_', '-')}"}
        if get_origin(field.annotation) is Literal:  # thinking: shown for thinking templates
            choices = list(get_args(field.annotation))
            widgets[name] = labels.make(gr.Radio, texts, choices=choices, visible=False, **common)
        elif field.annotation is str:
            widgets[name] = labels.make(gr.Textbox, texts, lines=2, **common)
        elif field.annotation is float:
            low, high, low_open = bounds(name)
            low = (low or 0.0) + (SLIDER_STEP if low_open else 0.0)
            widgets[name] = labels.make(
                gr.Slider, texts, minimum=low, maximum=high, step=SLIDER_STEP, **common
            )
        else:
            widgets[name] = labels.make(gr.Number, texts, precision=0, **common)
    return widgets


def plain(history: list[Any] | None) -> list[Message]:
    """A gr.Chatbot's messages as the core's conversation: role and text only; a reply's folded
    thinking is left out (the template drops earlier turns' thinking anyway)."""
    turns = []
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "")
        content = (
            message.get("content") if isinstance(message, dict) else getattr(message, "content", "")
        )
        meta = message.get("metadata") if isinstance(message, dict) else None
        if meta and meta.get("title"):
            continue
        if role in ("user", "assistant") and isinstance(content, str):
            turns.append({"role": role, "content": content})
    return turns


def reply_messages(text: str, lang: str) -> list[dict[str, Any]]:
    """A reply as the Chatbot shows it: its thinking folded above the answer (open, with a
    spinner, while the model is still thinking), then the answer."""
    split = split_thinking(text)
    if split.thinking is None or not (split.thinking or split.thinking_open):
        return [{"role": "assistant", "content": split.answer}]  # no block, or an empty one
    title = t("chat.thinking_now" if split.thinking_open else "chat.thinking_title", lang)
    status = "pending" if split.thinking_open else "done"
    thought = {
        "role": "assistant",
        "content": split.thinking or "…",
        "metadata": {"title": f"💭 {title}", "status": status},
    }
    return (
        [thought]
        if split.thinking_open
        else [thought, {"role": "assistant", "content": split.answer}]
    )


def memory(size: int | None) -> str:
    return "–" if size is None else f"{size / 2**20:.0f} MiB"


def status_text(client: ChatClient, lang: str) -> str:
    """What the chat worker holds: run, base model, template, device, dtype, its memory."""
    info, setup = client.info, client.setup
    if setup is None:
        return t("chat.none_loaded", lang)
    if info is None:  # the worker crashed; the next request restarts it and reloads the run
        return "⚠️ " + t("chat.reloads", lang, run=setup.run_id)
    text = t(
        "chat.loaded",
        lang,
        run=info.get("run", setup.run_id),
        model=info.get("model", setup.model),
        template=info.get("template", setup.template),
        device=info.get("device", setup.device),
        dtype=info.get("dtype", setup.dtype),
        memory=memory(client.worker_memory()),
    )
    return "\n\n".join([text, *(f"ℹ️ {note.text(lang)}" for note in setup.notes)])


def prompt_table(rows: list[PromptRow], lang: str, pending: str | None = None) -> pd.DataFrame:
    """Prompt, base answer, adapter answer; ``pending`` is the prompt being answered now."""
    headers = [t("chat.col.prompt", lang), t("chat.base", lang), t("chat.adapter", lang)]
    data = [[row.prompt, row.base, row.adapter] for row in rows]
    if pending is not None:
        data.append([pending, "…", "…"])
    return pd.DataFrame(data, columns=headers)


def saved_rows(saved: list[dict[str, Any]]) -> list[PromptRow]:
    """The rows of a saved prompts.jsonl (extra keys such as the settings left out)."""
    return [PromptRow(r.get("prompt", ""), r.get("base", ""), r.get("adapter", "")) for r in saved]


# ---------------------------------------------------------------- the tab's sections


def button(labels: Labels, key: str, elem_id: str, **kwargs: Any) -> gr.Button:
    return labels.make(gr.Button, {"value": key}, elem_id=elem_id, **kwargs)


def settings(labels: Labels) -> tuple:
    """The template (the run's own, guarded) and the sampling settings."""
    template = labels.make(
        gr.Dropdown, {"label": "chat.template"}, choices=[], elem_id="chat-template"
    )
    force = labels.make(gr.Checkbox, {"label": "chat.force"}, value=False, elem_id="chat-force")
    template_note = gr.Markdown(elem_id="chat-template-note")
    labels.make(gr.Markdown, {"value": lambda lang: f"#### {t('chat.settings', lang)}"})
    return template, force, template_note, param_widgets(labels)


def conversation(labels: Labels) -> tuple:
    """Two columns answering the same message, one message box."""
    with gr.Row(equal_height=True):
        columns = [
            labels.make(
                gr.Chatbot,
                {"label": key},
                type="messages",
                allow_tags=False,
                height=460,
                elem_id=f"chat-{name}",
            )
            for key, name in (("chat.base", "base"), ("chat.adapter", "adapter"))
        ]
    prompt = labels.make(
        gr.Textbox,
        {"label": "chat.prompt", "placeholder": "chat.placeholder"},
        lines=2,
        elem_id="chat-prompt",
    )
    with gr.Row():
        send = button(labels, "chat.send", "chat-send", variant="primary")
        clear = button(labels, "chat.clear", "chat-clear")
    message = gr.Markdown(elem_id="chat-message")
    return *columns, prompt, send, clear, message


def prompt_set(labels: Labels) -> tuple:
    """The button that runs the recipe's test prompts, their table and where it was saved."""
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('chat.prompt_set', lang)}"})
    run_prompts = button(labels, "chat.run_prompts", "chat-run-prompts")
    texts = {"value": lambda lang: prompt_table([], lang)}
    table = labels.make(gr.Dataframe, texts, interactive=False, wrap=True, elem_id="chat-table")
    return run_prompts, table, gr.Markdown(elem_id="chat-table-note")


def export(labels: Labels) -> tuple:
    """Merge and export: the buttons that start and stop it, its log and its state (which the
    page follows from the run's files), and the page's following of it."""
    labels.make(gr.Markdown, {"value": lambda lang: f"### {t('chat.export', lang)}"})
    labels.make(gr.Markdown, {"value": "chat.export_info"})
    with gr.Row():
        merge = button(labels, "chat.export_button", "chat-export")
        stop = button(labels, "chat.export_stop", "chat-export-stop", interactive=False)
    log = labels.make(
        gr.Textbox,
        {"label": "chat.export_log"},
        lines=6,
        max_lines=6,
        interactive=False,
        autoscroll=True,
        elem_id="chat-export-log",
    )
    result = gr.Markdown(elem_id="chat-export-result")
    return merge, stop, log, result, gr.State(export_view.ExportWatch())
