"""What the user sees for each error the core raises: the one table that maps error types (and
the core's problem and fix texts) to locale keys, so every error reads in the user's language.
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
from lorastudio.messages import VERBATIM, Msg
from lorastudio.runs.occupancy import DeviceBusyError
from lorastudio.workspace import DataRegistryError
from ui.locale import TEXT, field_help, t

log = logging.getLogger("lorastudio.studio")

# Error type -> heading key; the first match in order wins (subclasses before their bases).
ERROR_TYPES: tuple[tuple[type[BaseException], str], ...] = (
    (RecipeError, "error.recipe"),
    (DeviceBusyError, "error.run"),
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


# The core's problem messages (Problem.message), each with the locale key that says it.
PROBLEM_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"is not a known key"), "problem.unknown_key"),
    (_rx(r"is required but missing"), "problem.missing"),
    (_rx(r"is incomplete or contradictory"), "problem.incomplete"),
    (_rx(r"has a wrong value"), "problem.wrong_value"),
    (
        _rx(r"is not valid YAML at line (?P<line>\d+), column (?P<column>\d+): (?P<reason>.*)"),
        "problem.bad_yaml",
    ),
    (_rx(r"is not a recipe \(expected a mapping of keys\)"), "problem.not_mapping"),
    (
        _rx(r"is newer than this LoRA Studio understands \((?P<version>\d+)\)"),
        "problem.newer_schema",
    ),
    (_rx(r"is not a template LLaMA-Factory knows"), "problem.unknown_template"),
    (_rx(r"names a local folder that does not exist \((?P<path>.*)\)"), "problem.folder_missing"),
    (_rx(r"is a folder without config\.json \((?P<path>.*)\)"), "problem.no_config"),
    (_rx(r"is neither a local folder nor a hub id"), "problem.not_an_id"),
    (_rx(r"is not registered in (?P<path>.*)"), "problem.not_registered"),
    (_rx(r"points outside the data folder \((?P<path>.*)\)"), "problem.outside_data"),
    (_rx(r"is not a file \((?P<path>.*)\)"), "problem.not_a_file"),
    (_rx(r"is not a data file LLaMA-Factory reads"), "problem.not_data"),
    (_rx(r"is set by the recipe itself"), "problem.managed"),
    (_rx(r"is not a LLaMA-Factory training argument"), "problem.not_an_argument"),
    (_rx(r"is not available here"), "problem.no_device"),
    (_rx(r"does not match this machine"), "problem.device_ids"),
    (
        _rx(r"is registered as (?P<name>.*), but (?P<path>.*) does not exist"),
        "problem.file_missing",
    ),
    (_rx(r"needs a CUDA GPU, not (?P<device>\w+)"), "problem.needs_cuda"),
    (_rx(r"needs a GPU \(bitsandbytes\), not the CPU"), "problem.quantization_cpu"),
    (_rx(r"needs DeepSpeed, which is not installed"), "problem.needs_deepspeed"),
    (_rx(r"is too little for checkpoints"), "problem.disk"),
    (_rx(r"cannot be read: (?P<reason>.*)"), "problem.unreadable"),
    (_rx(r"is not a YAML file"), "problem.not_yaml_file"),
    (
        _rx(r"is (?P<size>[\d.]+) MiB, too big to be a recipe \(limit (?P<limit>\d+) MiB\)"),
        "problem.too_big",
    ),
    (_rx(r"is not UTF-8 text"), "problem.not_utf8"),
    (_rx(r"is not a recipe \(it has no schema_version\)"), "problem.no_schema_version"),
    # scale-out (lorastudio.cluster.multinode, lorastudio.cluster.pytorchjob)
    (
        _rx(r"is already in use on this machine .*, so node 0 cannot host the .*"),
        "problem.port_in_use",
    ),
    (
        _rx(r"is a loopback address: only nodes on this same machine can reach it"),
        "problem.loopback",
    ),
    (
        _rx(r"is not an address of this machine, but this is node 0 \(the master\)"),
        "problem.not_this_machine",
    ),
    (
        _rx(r"is not a network interface of this machine \(it has (?P<names>.*)\)"),
        "problem.no_interface",
    ),
    (_rx(r"is empty, and so is data\.files"), "problem.no_data_either"),
    (_rx(r"is not set, and neither is train\.epochs"), "problem.no_length"),
    (_rx(r"must be below nodes\.count (?P<count>\d+)"), "problem.rank_count"),
    (
        _rx(r"is set, but data\.val_size is 0, so nothing is held out to evaluate on"),
        "problem.eval_no_split",
    ),
    (_rx(r"contains a NUL character, which no path can"), "problem.nul"),
    (_rx(r"is not in the (?P<layout>\w+) layout: (?P<wrong>.*)"), "problem.layout"),
    (
        _rx(r"does not fit LLaMA-Factory's (?P<arg>\S+), which takes (?P<kind>.*)"),
        "problem.extra_type",
    ),
    (_rx(r"points outside the studio folder \((?P<path>.*)\)"), "problem.outside_studio"),
)

# The core's fixes (Problem.fix), for the common cases; pydantic's wording comes lower-cased.
FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"input should be less than or equal to (?P<n>\S+)"), "fix.le"),
    (_rx(r"input should be less than (?P<n>\S+)"), "fix.lt"),
    (_rx(r"input should be greater than or equal to (?P<n>\S+)"), "fix.ge"),
    (_rx(r"input should be greater than (?P<n>\S+)"), "fix.gt"),
    (_rx(r"input should be a finite number"), "fix.finite"),
    (_rx(r"input should be a valid integer(?P<rest>.*)"), "fix.integer"),
    (_rx(r"input should be a valid number(?P<rest>.*)"), "fix.number"),
    (_rx(r"input should be a valid boolean(?P<rest>.*)"), "fix.boolean"),
    (_rx(r"input should be a valid string"), "fix.string"),
    (_rx(r"input should be a valid list"), "fix.list"),
    (_rx(r"input should be a valid dictionary"), "fix.dict"),
    (_rx(r"input should be (?P<choices>'.*)"), "fix.choice"),
    (_rx(r"string should match pattern '(?P<pattern>.*)'"), "fix.pattern"),
    (_rx(r"string should have at least (?P<n>\d+) character(?P<s>s?)"), "fix.min_length"),
    (_rx(r"fix the YAML syntax there \(indentation, a missing ':' or quote\)"), "fix.yaml_syntax"),
    (_rx(r"upload a recipe saved as \.yaml or \.yml"), "fix.upload_yaml"),
    (_rx(r"upload the recipe YAML itself, not a model, adapter or data file"), "fix.upload_small"),
    (_rx(r"save the recipe as UTF-8"), "fix.utf8"),
    (
        _rx(r"start from a shipped recipe; a recipe begins with `schema_version: 1`"),
        "fix.start_from_shipped",
    ),
    (_rx(r"start from a shipped recipe in recipes/"), "fix.shipped"),
    (_rx(r"set (?P<field>[\w.]+) instead"), "fix.set_instead"),
    (_rx(r"remove it; allowed keys: (?P<keys>.*)"), "fix.remove_key"),
    (_rx(r"set train\.epochs \(e\.g\. 3\) or train\.max_steps \(e\.g\. 500\)"), "fix.length"),
    (_rx(r"hardware\.offload needs hardware\.deepspeed 2 or 3"), "fix.offload"),
    (_rx(r"add it \(see a shipped recipe in recipes/\)"), "fix.add_section"),
    (_rx(r"number the machines 0 to (?P<last>\d+); the master is 0"), "fix.rank_count"),
    (_rx(r"set data\.val_size \(e\.g\. 0\.1\), or remove train\.eval_steps"), "fix.eval_split"),
    (_rx(r"remove it"), "fix.remove"),
    (_rx(r'write each record as \{"instruction".*'), "fix.alpaca_layout"),
    (_rx(r'write each record as \{"conversations".*'), "fix.sharegpt_layout"),
    (_rx(r"write true or false"), "fix.write_bool"),
    (_rx(r"write a whole number"), "fix.write_int"),
    (_rx(r"write a number"), "fix.write_number"),
    (_rx(r"write text"), "fix.write_text"),
    (_rx(r"write 1, the number \(not true\)"), "fix.version_number"),
    (_rx(r"write a value of type (?P<kind>.*)"), "fix.write_kind"),
    (_rx(r"give a path inside the studio folder, or remove it"), "fix.inside_studio"),
    (_rx(r"card indices start at 0, as nvidia-smi and npu-smi number them"), "fix.indices"),
    (
        _rx(r"no data: list at least one name in data\.datasets or a data\.files entry"),
        "fix.no_data",
    ),
    (
        _rx(r"download the model there, fix the path, or use a hub id like (?P<id>\S+)"),
        "fix.model_folder",
    ),
    (
        _rx(r"point it at the folder that holds the model's config\.json and weights"),
        "fix.model_config",
    ),
    (_rx(r"write a hub id like (?P<id>\S+) or a path to a model folder"), "fix.model_id"),
    (_rx(r"use qwen for Qwen2/Qwen2\.5, qwen3 for Qwen3 .*"), "fix.template"),
    (
        _rx(r"add it to that dataset_info\.json, list a local file under data\.files instead.*"),
        "fix.register",
    ),
    (
        _rx(r"put the file inside the data folder and give its path relative to it"),
        "fix.inside_data",
    ),
    (_rx(r"check the name; paths are relative to the data folder"), "fix.check_name"),
    (_rx(r"use one of (?P<choices>.*)"), "fix.use_one_of"),
    (_rx(r"check the name in LLaMA-Factory's docs"), "fix.lf_docs"),
    (_rx(r"upgrade LoRA Studio, or write schema_version: 1"), "fix.upgrade"),
    (_rx(r"remove it: LoRA Studio trains with (?P<arg>\S+) (?P<how>.*)"), "fix.managed_fixed"),
    (_rx(r"check the path; recipes live in recipes/"), "fix.check_path"),
    (
        _rx(r"copy the file there or set LORASTUDIO_DATA_DIR to the folder that has it"),
        "fix.copy_data",
    ),
    (
        _rx(r"run python launch\.py demo-data, which fetches LLaMA-Factory's demo data there"),
        "fix.demo_data",
    ),
    (_rx(r"set lora\.quantization: none, or train on an NVIDIA GPU"), "fix.quantization"),
    (_rx(r"set it to none"), "fix.set_none"),
    (_rx(r"pip install -e '\.\[deepspeed\]', or set hardware\.deepspeed: none"), "fix.deepspeed"),
    (_rx(r"free at least 1 GiB under (?P<path>.*)"), "fix.free_disk"),
    (
        _rx(r"hardware\.device is '(?P<kind>\w+)' but no .* Found: (?P<found>.*?); set .*"),
        "fix.no_device",
    ),
    # scale-out (lorastudio.cluster.multinode, lorastudio.cluster.pytorchjob)
    (
        _rx(r"pick a free port, e\.g\. --master-port (?P<port>\d+) on every node .*"),
        "fix.free_port",
    ),
    (_rx(r"set it to this machine's address on the network the nodes share"), "fix.shared_address"),
    (
        _rx(r"run node 0 on the machine with that address, or set --master-addr to this one's"),
        "fix.master_here",
    ),
    (_rx(r"name the interface the nodes reach each other on, or remove it"), "fix.interface"),
)

# The core's RunError messages.
RUN_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_rx(r"cannot download (?P<url>\S+) \((?P<reason>.*)\)\. Fix: .*"), "runerror.download"),
    (
        _rx(r"(?P<name>\S+) from (?P<source>\S+) is not LLaMA-Factory v0\.9\.5's .*"),
        "runerror.not_lf",
    ),
)

_DID_YOU_MEAN = re.compile(r"did you mean `(?P<word>[^`]+)`\?\s*")


def _translate(text: str, table: tuple[tuple[re.Pattern[str], str], ...], lang: str) -> str:
    """``text`` (written by the core, in English) in ``lang``; unknown texts stay as written."""
    if lang == "en":
        return text
    for pattern, key in table:
        match = pattern.fullmatch(text.strip())
        if match:
            return t(key, lang, **match.groupdict())
    return text


def translate_fix(fix: str, field: str, lang: str) -> str:
    """A core fix in ``lang``: known wordings translated, the field's help in that language."""
    if lang == "en":
        return fix
    parts = []
    for part in fix.split("; or "):
        prefix = ""
        match = _DID_YOU_MEAN.match(part)
        if match:
            prefix, part = t("fix.did_you_mean", lang, word=match["word"]), part[match.end() :]
        help_text, help_en = "", _help_of(field, "en").rstrip(".")
        if help_en and part.endswith(f" ({help_en})"):  # pydantic's words, then the field's help
            part, help_text = part.removesuffix(f" ({help_en})"), f"（{_help_of(field)}）"
        if part.startswith("add it — "):
            part, help_text = "", t("fix.add_it", lang, help=_help_of(field) or part[9:])
        parts.append(prefix + (_translate(part, FIXES, lang) if part else "") + help_text)
    return "；或 ".join(p for p in parts if p)


def _help_of(field: str, lang: str = "zh") -> str:
    field = re.sub(r"\[[^\]]*\]", "", field)  # data.files[2], extra[1]: the list's own help
    try:
        return field_help(field, lang)
    except KeyError:  # a whole section, or no field at all
        key = f"section.help.{field}" if f"section.help.{field}" in TEXT else ""
        return t(key, lang) if key else ""


def problem_text(problem: Problem, lang: str, with_field: bool = True) -> str:
    """One problem as a line of Markdown: field, value, what is wrong, the fix."""
    message = _keyed(problem.message, lang) or _translate(
        _verbatim(problem.message), PROBLEM_MESSAGES, lang
    )
    fix_text = _keyed(problem.fix, lang) or translate_fix(
        _verbatim(problem.fix), problem.field, lang
    )
    fix = t("error.fix", lang, fix=fix_text)
    value = problem.shown_value()
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


def reason_text(reason: Msg | None, lang: str) -> str:
    """Why a run is as it is (a RunStatus or Progress reason), in ``lang``."""
    if reason is None:
        return ""
    return reason.text(lang) if reason.key != VERBATIM else _verbatim(reason)


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
        return "⚠️ " + error.text(lang)
    if isinstance(error, LoraStudioError) and error.message.key != "text.verbatim":
        return f"⚠️ {t(key, lang)} {error.text(lang)}"
    return f"⚠️ {t(key, lang)} {_translate(str(error), RUN_ERRORS, lang)}"


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
