"""What the user sees for each error the core raises: the one table that maps error types to
headings, and each error said in the user's language (the core's keyed messages say themselves;
the few texts not yet keyed are matched to locale keys here).
No traceback ever reaches the page: anything unexpected becomes a one-line message here and
its traceback goes to the studio's console."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from lorastudio.errors import (
    ChatInputError,
    ExportError,
    LoraStudioError,
    Problem,
    RecipeError,
    RunError,
    TemplateMismatchError,
)
from lorastudio.llamafactory.spec import LlamaFactoryMissingError
from lorastudio.messages import Msg
from lorastudio.runs.occupancy import DeviceBusyError
from lorastudio.workspace import DataRegistryError
from ui.locale import TEXT, t

log = logging.getLogger("lorastudio.studio")

# Error type -> heading key; the first match in order wins (subclasses before their bases).
ERROR_TYPES: tuple[tuple[type[BaseException], str], ...] = (
    (RecipeError, "error.recipe"),
    (DeviceBusyError, "error.device_busy"),
    (RunError, "error.run"),
    (DataRegistryError, "error.setup"),
    (LlamaFactoryMissingError, "error.setup"),
    (TemplateMismatchError, "error.template_guard"),
    (ChatInputError, "error.chat_input"),
    (ExportError, "error.export"),
    (LoraStudioError, "error.run"),
)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)


# Problem messages the core still writes as plain English (scale-out to Kubernetes and chat,
# until they are keyed), each with the locale key that says it. Keyed messages never come here.
PROBLEM_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    # lorastudio.cluster.pytorchjob
    (
        _rx(r"is resolved on the machine that runs it, and a cluster is not this machine"),
        "problem.auto_on_cluster",
    ),
    (
        _rx(r"is a folder on this machine, outside the studio folder, so the pods cannot see it"),
        "problem.model_off_claim",
    ),
    # chat
    (_rx(r"is empty"), "problem.empty"),
)

# Their fixes.
FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    # lorastudio.cluster.pytorchjob
    (_rx(r"set hardware\.device: cuda or npu, or pass --device cuda\|npu"), "fix.cluster_device"),
    (
        _rx(r"copy it onto the claim \(e\.g\. (?P<path>\S+)\) and give model\.id as models/NAME.*"),
        "fix.model_on_claim",
    ),
    # chat
    (_rx(r"write what to ask"), "fix.write_prompt"),
    (_rx(r"remove it"), "fix.remove_it"),
    (_rx(r"add test prompts to the recipe, e\.g\. .*"), "fix.add_prompts"),
)

# The core's RunError messages.
RUN_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"run (?P<run>\S+) is not running \(it is (?P<state>\w+)\)"), "runerror.not_running"),
    (_rx(r"run (?P<run>\S+) is still (?P<state>\w+)"), "runerror.still_live"),
    (_rx(r"run (?P<run>\S+) already finished; start a new run to train more"), "runerror.finished"),
    (
        _rx(r"run (?P<run>\S+) has no checkpoint to resume from .*save_steps=(?P<every>\S+) .*"),
        "runerror.no_checkpoint",
    ),
    (
        _rx(r"run (?P<run>\S+) is (?P<state>\w+); stop it before deleting it"),
        "runerror.live_delete",
    ),
    (
        _rx(r"the run's supervisor did not start within (?P<seconds>\d+) s; see (?P<path>.*)"),
        "runerror.no_supervisor",
    ),
    # Kubernetes (lorastudio.cluster.kubernetes)
    (_rx(r"Kubernetes needs the kubernetes client: .*"), "runerror.no_kubernetes_client"),
    (
        _rx(r"no Kubernetes cluster is configured \((?P<reason>.*)\)\. Put a kubeconfig .*"),
        "runerror.no_kubeconfig",
    ),
    (
        _rx(
            r"cannot reach the Kubernetes API server at (?P<server>\S+) to .*? "
            r"\((?P<reason>.*)\); check .*"
        ),
        "runerror.unreachable",
    ),
    (_rx(r"the cluster at (?P<server>\S+) has no PyTorchJob resource .*"), "runerror.no_operator"),
    (
        _rx(
            r"the cluster at (?P<server>\S+) refused to .*? "
            r"\((?P<status>\d+) ?(?P<reason>.*)\); your .*"
        ),
        "runerror.cluster_refused",
    ),
    (
        _rx(r"cannot .*?: it already exists \((?P<reason>.*)\); delete it or render a new run"),
        "runerror.already_exists",
    ),
    (
        _rx(r"the cluster at (?P<server>\S+) could not .*?: (?P<status>\S+) ?(?P<reason>.*)"),
        "runerror.cluster_failed",
    ),
)

# The core's chat and export messages (ChatError, ExportError).
CHAT_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"no run is loaded; pick a run first"), "chaterror.not_loaded"),
    (
        _rx(
            r"the chat worker was killed by signal (?P<signal>\d+) while .*?; the next message "
            r"starts a fresh one\. Its log: (?P<log>.*)"
        ),
        "chaterror.killed",
    ),
    (
        _rx(
            r"the chat worker exited with code (?P<code>\S+) while .*?; the next message starts "
            r"a fresh one\. Its log: (?P<log>.*)"
        ),
        "chaterror.exited",
    ),
    (
        _rx(r"(?P<path>.*) is not a readable run folder \((?P<reason>.*)\); .*"),
        "chaterror.not_a_run",
    ),
    (
        _rx(r"run (?P<run>\S+) is still training; its adapter lands when it ends"),
        "chaterror.still_training",
    ),
    (
        _rx(r"run (?P<run>\S+) has no adapter: it is (?P<state>\w+)(?P<reason>.*)\. Fix: .*"),
        "chaterror.no_adapter",
    ),
    (_rx(r"the adapter file (?P<path>.*) is missing\. Fix: .*"), "chaterror.adapter_missing"),
    (
        _rx(r"(?P<path>\S+) is not valid JSON \((?P<reason>.*)\)\. Fix: .*"),
        "chaterror.adapter_json",
    ),
    (_rx(r"(?P<path>\S+) is not a PEFT adapter config\. Fix: .*"), "chaterror.adapter_config"),
    (
        _rx(r"the adapter weights (?P<path>\S+) (?P<problem>.*)\. Fix: copy the run folder .*"),
        "chaterror.adapter_weights",
    ),
    (
        _rx(
            r"the base model folder (?P<path>.*), recorded in (?P<config>.*), does not exist "
            r"on this machine\. Fix: .*"
        ),
        "chaterror.base_folder_missing",
    ),
    (
        _rx(
            r"the base model folder (?P<path>.*), recorded in (?P<config>.*), holds no "
            r"config\.json on this machine\. Fix: .*"
        ),
        "chaterror.base_folder_empty",
    ),
    (
        _rx(r"the base model '(?P<model>.*)' could not be loaded \((?P<reason>.*)\)\. Fix: .*"),
        "chaterror.base_unloadable",
    ),
    (
        _rx(
            r"the adapter in (?P<path>.*) does not load onto '(?P<model>.*)' "
            r"\((?P<reason>.*)\)\. Fix: .*"
        ),
        "chaterror.adapter_misfit",
    ),
    (
        _rx(
            r"run (?P<run>\S*) was trained on (?P<device>\w+), which this machine does not "
            r"have\. Fix: .*"
        ),
        "chaterror.no_device",
    ),
    (
        _rx(r"template '(?P<template>.*)' is not one LLaMA-Factory knows .*"),
        "chaterror.unknown_template",
    ),
    (
        _rx(r"cannot read the run's recipe for its test prompts: (?P<reason>.*)"),
        "chaterror.no_recipe",
    ),
    (
        _rx(
            r"llamafactory-cli export failed for run (?P<run>\S+): (?P<reason>.*)\. Nothing was "
            r"written to merged/; the full log is (?P<log>.*)"
        ),
        "chaterror.export_failed",
    ),
    (
        _rx(
            r"llamafactory-cli export ended without writing a model for (?P<run>\S+); "
            r"see (?P<log>.*)"
        ),
        "chaterror.export_empty",
    ),
)

# Reasons a run ended, as the supervisor writes them.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"stopped by request at step (?P<step>\d+) \((?P<how>.*)\)"), "reason.stopped"),
    (_rx(r"the run's supervisor process disappeared.*"), "reason.vanished"),
)


def _translate(text: str, table: tuple[tuple[re.Pattern[str], str], ...], lang: str) -> str:
    """``text`` (written by the core, in English) in ``lang``; unknown texts stay as written."""
    if lang == "en":
        return text
    for pattern, key in table:
        match = pattern.fullmatch(text.strip())
        if match:
            return t(key, lang, **match.groupdict())
    return text


def problem_text(problem: Problem, lang: str, with_field: bool = True) -> str:
    """One problem as a line of Markdown: field, value, what is wrong, the fix."""
    message = _keyed(problem.message, lang) or _translate(
        _verbatim(problem.message), PROBLEM_MESSAGES, lang
    )
    fix_text = _keyed(problem.fix, lang) or _translate(_verbatim(problem.fix), FIXES, lang)
    fix = t("error.fix", lang, fix=fix_text)
    value = problem.shown_value()  # from the value itself: rendered text is never parsed
    shown = f" = {value}" if value else ""
    head = f"`{problem.field}{shown}`" if with_field else (f"`{value}`" if value else "")
    return t("error.line", lang, head=head, message=message, fix=fix).strip()


def _keyed(text: Msg | str, lang: str) -> str:
    """A keyed message in ``lang``; "" for text the core still writes as a plain sentence."""
    if isinstance(text, Msg) and text.key != "text.verbatim":
        return text.text(lang)
    return ""


def _verbatim(text: Msg | str) -> str:
    return str(text.args.get("text", "")) if isinstance(text, Msg) else text


def reason_text(status: dict[str, Any], lang: str) -> str:
    """Why a run ended, in ``lang`` (the diagnosis kind picks the text where it is known)."""
    reason = status.get("reason") or ""
    if lang == "en" or not reason:
        return reason
    failure = status.get("failure")
    if failure and f"failure.{failure}" in _failure_keys():
        return t(f"failure.{failure}", lang)
    return _translate(reason, REASONS, lang)


def _failure_keys() -> set[str]:
    return {key for key in TEXT if key.startswith("failure.")}


def explain(error: BaseException, lang: str) -> str:
    """Markdown for any error a callback met; unexpected ones are logged, never shown raw."""
    key = next((key for kind, key in ERROR_TYPES if isinstance(error, kind)), None)
    if key is None:
        log.error("unexpected error in the studio", exc_info=error)
        return "⚠️ " + t("error.unexpected", lang, kind=type(error).__name__)
    if isinstance(error, RecipeError | ChatInputError):
        lines = [f"- {problem_text(p, lang)}" for p in error.problems]
        return "\n".join([t(key, lang, count=len(error.problems)), *lines])
    if isinstance(error, TemplateMismatchError):
        return "⚠️ " + t(key, lang, asked=error.asked, trained=error.trained, run=error.run)
    if isinstance(error, DeviceBusyError):
        state = t(f"state.{error.state}", lang) if error.state in _STATES else error.state
        return "⚠️ " + t(key, lang, devices=error.claim.describe(), holder=error.holder, state=state)
    if isinstance(error, LoraStudioError) and error.message.key != "text.verbatim":
        return f"⚠️ {t(key, lang)} {error.text(lang)}"
    return f"⚠️ {t(key, lang)} {_translate(str(error), RUN_ERRORS + CHAT_ERRORS, lang)}"


_STATES = frozenset({"starting", "running", "stopping", "succeeded", "failed", "stopped"})


def guarded(message: gr.Markdown, fn: Callable[..., dict]) -> Callable[..., dict]:
    """Wrap a callback whose first input is the language and which returns updates as a dict:
    any error becomes a sentence in ``message`` (its traceback goes to the console), and a
    callback with nothing to update updates nothing."""

    @functools.wraps(fn)
    def call(lang: str, *args: Any) -> dict:
        try:
            out = fn(lang, *args)
        except Exception as exc:
            return {message: explain(exc, lang)}
        return out or {message: gr.skip()}

    return call


def streamed(message: gr.Markdown, fn: Callable[..., Iterator[dict]]) -> Callable[..., Iterator]:
    """``guarded`` for a generator callback: an error, raised before or while it streams,
    becomes a sentence in ``message``; what was shown until then stays on the page."""

    @functools.wraps(fn)
    def call(lang: str, *args: Any) -> Iterator[dict]:
        try:
            yield from fn(lang, *args)
        except Exception as exc:
            yield {message: explain(exc, lang)}

    return call
