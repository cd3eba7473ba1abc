"""The parameter shape of a Qwen-style decoder, dense or mixture-of-experts: its sizes as
config.json states them, and the parameter counts memory and speed depend on.

Which modules are `nn.Linear` matters twice: LoRA (`lora.target: all`) adapts every linear layer
and QLoRA quantizes only linear layers. In transformers 5 (the version LLaMA-Factory 0.9.5 runs
on here) a Qwen3-MoE layer keeps its experts as two 3-D parameters (`gate_up_proj`, `down_proj`)
and its router as a plain parameter, so in an MoE model only the attention projections are
linear: LoRA adapts those, and the experts stay in 16-bit under QLoRA.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ATTENTION_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP_MODULES = ("gate_proj", "up_proj", "down_proj")
LINEAR_MODULES = ATTENTION_MODULES + MLP_MODULES


@dataclass(frozen=True)
class ModelShape:
    """The sizes of a Qwen2/Qwen3-style decoder that memory and speed depend on.

    Attributes:
        num_experts: experts per MoE layer (0: a dense model).
        num_experts_per_tok: experts each token runs through (MoE).
        moe_intermediate_size: one expert's MLP width (MoE).
        attention_bias: q/k/v projections carry a bias (Qwen2/2.5 yes, Qwen3 no).
        qk_norm: a norm on each head's queries and keys (Qwen3).
    """

    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    tie_word_embeddings: bool
    head_dim: int | None = None
    num_experts: int = 0
    num_experts_per_tok: int = 0
    moe_intermediate_size: int = 0
    attention_bias: bool = True
    qk_norm: bool = False

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a transformers config.json (Qwen2, Qwen2.5, Qwen3, Qwen3-MoE, Llama-style).

        Raises:
            KeyError, TypeError, ValueError: the config lacks a size or states it oddly.
        """
        text = config.get("text_config") or config
        model_type = str(text.get("model_type") or config.get("model_type") or "")
        experts = int(text.get("num_experts") or text.get("num_local_experts") or 0)
        qwen3 = model_type.startswith("qwen3")
        return cls(
            vocab_size=int(text["vocab_size"]),
            hidden_size=int(text["hidden_size"]),
            intermediate_size=int(text["intermediate_size"]),
            num_layers=int(text["num_hidden_layers"]),
            num_heads=int(text["num_attention_heads"]),
            num_kv_heads=int(text.get("num_key_value_heads") or text["num_attention_heads"]),
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            head_dim=text.get("head_dim"),
            num_experts=experts,
            num_experts_per_tok=int(text.get("num_experts_per_tok") or 0) if experts else 0,
            moe_intermediate_size=int(text.get("moe_intermediate_size") or 0) if experts else 0,
            attention_bias=bool(text.get("attention_bias", not qwen3)),
            qk_norm=qwen3,
        )

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def _head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear module in one decoder layer (an MoE layer's experts
        are not linear modules: see the module's docstring)."""
        h, i = self.hidden_size, self.intermediate_size
        q, kv = self.num_heads * self._head_dim, self.num_kv_heads * self._head_dim
        shapes = {"q_proj": (h, q), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (q, h)}
        if not self.is_moe:
            shapes |= {"gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
        return shapes

    @property
    def linear_params(self) -> int:
        """Weights of the decoder's linear layers (what QLoRA quantizes)."""
        per_layer = sum(a * b for a, b in self.linear_shapes().values())
        return per_layer * self.num_layers

    @property
    def expert_params(self) -> int:
        """Weights of every expert of every MoE layer, and the routers (0 for a dense model)."""
        if not self.is_moe:
            return 0
        one_expert = 3 * self.hidden_size * self.moe_intermediate_size
        router = self.hidden_size * self.num_experts
        return self.num_layers * (self.num_experts * one_expert + router)

    @property
    def other_params(self) -> int:
        """Embeddings, output head, norms and attention biases (kept in 16-bit under QLoRA)."""
        shapes = self.linear_shapes()
        biases = sum(shapes[n][1] for n in ("q_proj", "k_proj", "v_proj"))
        norms = 2 * self.hidden_size + (2 * self._head_dim if self.qk_norm else 0)
        embeddings = self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        per_layer = (biases if self.attention_bias else 0) + norms
        return embeddings + self.num_layers * per_layer + self.hidden_size

    @property
    def params(self) -> int:
        """Every parameter: what memory holds (all experts of an MoE model)."""
        return self.linear_params + self.expert_params + self.other_params

    @property
    def active_params(self) -> int:
        """Parameters one token runs through: what speed (FLOPs) depends on. For an MoE model
        only ``num_experts_per_tok`` experts of each layer; for a dense model all of them."""
        if not self.is_moe:
            return self.params
        one_expert = 3 * self.hidden_size * self.moe_intermediate_size
        unused = self.num_layers * (self.num_experts - self.num_experts_per_tok) * one_expert
        return self.params - unused

    def lora_params(self, rank: int, target: str | list[str]) -> int:
        """Trainable LoRA parameters: rank × (in + out) for each adapted module of every layer
        (names the model has no linear module for adapt nothing)."""
        shapes = self.linear_shapes()
        names = list(shapes) if target == "all" else [t for t in target if t in shapes]
        return self.num_layers * sum(rank * sum(shapes[name]) for name in names)
