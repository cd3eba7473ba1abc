"""One run in memory inside the chat worker: the base model loaded once with transformers, the
LoRA adapter on top with PEFT (not merged, so the base answers with the adapter switched off),
prompts built by LLaMA-Factory's template exactly as in training, replies streamed token by token.

Imported only by the chat worker process: it loads torch.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
    TextIteratorStreamer,
)

from lorastudio.chat.engine import LoadFailure
from lorastudio.messages import Msg, msg

TOP_K = 50  # LLaMA-Factory's GeneratingArguments default, used when sampling


def _first_line(exc: BaseException) -> Msg:
    """The error's first line, as the library wrote it."""
    text = str(exc).strip().splitlines()
    return msg("text.verbatim", text=f"{type(exc).__name__}: {text[0] if text else ''}"[:400])


def _model_path(setup: dict[str, Any]) -> str:
    """The local folder of the base model; a ModelScope id is downloaded as training did."""
    model = setup["model"]
    if setup["hub"] == "modelscope" and not Path(model).exists():
        from modelscope import snapshot_download

        return snapshot_download(model)
    return model


def _template(tokenizer: Any, setup: dict[str, Any]) -> Any:
    """LLaMA-Factory's template with the run's prompt-shaping arguments (default_system, ...).

    get_template_and_fix_tokenizer changes the shared template object; the registry keeps a
    pristine copy, so a later run loaded into this worker starts from LLaMA-Factory's defaults.
    """
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.data.template import TEMPLATES
    from llamafactory.hparams import DataArguments

    pristine = copy.deepcopy(TEMPLATES[setup["template"]])
    try:
        args = DataArguments(template=setup["template"], **setup["template_args"])
        return get_template_and_fix_tokenizer(tokenizer, args)
    finally:
        TEMPLATES[setup["template"]] = pristine


def _load_base(path: str, setup: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {
        "dtype": getattr(torch, setup["dtype"]),
        "trust_remote_code": setup["trust_remote_code"],
    }
    if setup["quantization"]:
        from transformers import BitsAndBytesConfig

        bits = int(setup["quantization"])
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=bits == 4,
            load_in_8bit=bits == 8,
            bnb_4bit_compute_dtype=kwargs["dtype"],
            bnb_4bit_quant_type="nf4",  # as LLaMA-Factory quantizes for QLoRA training
            bnb_4bit_use_double_quant=True,
        )
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    if setup["device"] == "npu":
        import torch_npu  # noqa: F401  (registers the npu device)
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    return model if setup["quantization"] else model.to(setup["device"])


class LoadedRun:
    """Base + adapter of one run, ready to answer."""

    def __init__(self, setup: dict[str, Any]):
        """Load the run described by a ChatSetup's JSON.

        Raises:
            LoadFailure: kind ``model_missing`` or ``adapter_damaged``.
        """
        from peft import PeftModel

        started = time.monotonic()
        self.setup = setup
        try:
            path = _model_path(setup)
            self.tokenizer = AutoTokenizer.from_pretrained(
                path, trust_remote_code=setup["trust_remote_code"]
            )
            self.template = _template(self.tokenizer, setup)
            base = _load_base(path, setup)
        except (OSError, ValueError, ImportError) as exc:
            raise LoadFailure(
                "model_missing",
                msg("chat.base_unloadable", model=setup["model"], reason=_first_line(exc)),
                msg("chat.fix.base_unloadable"),
            ) from exc
        try:
            self.model = PeftModel.from_pretrained(base, setup["run_dir"], is_trainable=False)
        except Exception as exc:
            misfit = msg(
                "chat.adapter_misfit",
                path=setup["run_dir"],
                model=setup["model"],
                reason=_first_line(exc),
            )
            raise LoadFailure("adapter_damaged", misfit, msg("chat.fix.adapter_misfit")) from exc
        self.model.eval()
        self.stop_ids = self.template.get_stop_token_ids(self.tokenizer)
        self.load_seconds = time.monotonic() - started

    def info(self) -> dict[str, Any]:
        params = sum(p.numel() for p in self.model.parameters())
        return {
            "run": self.setup["run_id"],
            "model": self.setup["model"],
            "template": self.setup["template"],
            "device": self.setup["device"],
            "dtype": self.setup["dtype"],
            "quantization": self.setup["quantization"],
            "parameters": params,
            "load_seconds": round(self.load_seconds, 2),
        }

    def prompt_ids(
        self, messages: list[dict[str, str]], system: str, thinking: str = "auto"
    ) -> list[int]:
        """Token ids of the prompt, as LLaMA-Factory's HF engine builds them; ``thinking`` on
        or off sets a thinking template's ``enable_thinking`` for this prompt (auto: as the run
        trained), as LLaMA-Factory's own web chat does."""
        paired = [*messages, {"role": "assistant", "content": ""}]
        trained = getattr(self.template, "enable_thinking", None)
        if thinking != "auto" and hasattr(self.template, "enable_thinking"):
            self.template.enable_thinking = thinking == "on"
        try:
            prompt_ids, _ = self.template.encode_oneturn(self.tokenizer, paired, system or None)
        finally:
            if hasattr(self.template, "enable_thinking"):
                self.template.enable_thinking = trained
        return prompt_ids

    def prompt(self, messages: list[dict[str, str]], system: str, thinking: str) -> tuple[str, int]:
        ids = self.prompt_ids(messages, system, thinking)
        return self.tokenizer.decode(ids, skip_special_tokens=False), len(ids)

    def reply(
        self,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        adapter: bool,
        should_stop: Callable[[], bool],
    ) -> Reply:
        prompt_ids = self.prompt_ids(messages, params["system"], params.get("thinking", "auto"))
        return Reply(self, prompt_ids, params, adapter, should_stop)


class _StopFlag(StoppingCriteria):
    def __init__(self, should_stop: Callable[[], bool]):
        self.should_stop = should_stop

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> bool:
        return self.should_stop()


class Reply:
    """One streamed reply; iterate it for text pieces, then read ``finish_reason``."""

    def __init__(self, run: LoadedRun, prompt_ids, params, adapter, should_stop):
        self.run, self.prompt_ids, self.params = run, prompt_ids, params
        self.adapter, self.should_stop = adapter, should_stop
        self.finish_reason = ""
        self.new_tokens = 0

    def _config(self) -> GenerationConfig:
        params, tokenizer = self.params, self.run.tokenizer
        common = {
            "max_new_tokens": params["max_new_tokens"],
            "eos_token_id": self.run.stop_ids,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if params["temperature"] == 0:  # greedy, as LLaMA-Factory does for temperature 0
            return GenerationConfig(do_sample=False, **common)
        return GenerationConfig(
            do_sample=True,
            temperature=params["temperature"],
            top_p=params["top_p"],
            top_k=TOP_K,
            **common,
        )

    def __iter__(self) -> Iterator[str]:
        model, device = self.run.model, self.run.model.device
        inputs = torch.tensor([self.prompt_ids], device=device)
        streamer = TextIteratorStreamer(
            self.run.tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        outcome: dict[str, Any] = {}

        def generate() -> None:
            switch = contextlib.nullcontext() if self.adapter else model.disable_adapter()
            try:
                with torch.inference_mode(), switch:
                    torch.manual_seed(self.params["seed"])  # both columns sample alike
                    outcome["ids"] = model.generate(
                        input_ids=inputs,
                        attention_mask=torch.ones_like(inputs),
                        generation_config=self._config(),
                        streamer=streamer,
                        stopping_criteria=StoppingCriteriaList([_StopFlag(self.should_stop)]),
                    )
            except BaseException as exc:  # reported to the client; the streamer must end
                outcome["error"] = exc
                streamer.end()

        thread = threading.Thread(target=generate, daemon=True)
        thread.start()
        for text in streamer:
            if text:
                yield text
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        new = outcome["ids"][0, len(self.prompt_ids) :].tolist()
        self.new_tokens = len(new)
        if self.should_stop():
            self.finish_reason = "cancelled"
        elif new and new[-1] in self.run.stop_ids:
            self.finish_reason = "stop"
        else:
            self.finish_reason = "length"


def load(setup: dict[str, Any]) -> LoadedRun:
    """This engine's entry (`lorastudio.chat.engine`): load the run ``setup`` describes.

    Raises:
        LoadFailure: kind ``model_missing`` or ``adapter_damaged``.
    """
    return LoadedRun(setup)


def release_memory() -> None:
    """Give freed model memory back to the operating system."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap pages otherwise
