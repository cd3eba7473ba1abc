"""LLaMA-Factory as LoRA Studio drives it: what it accepts, the compiled config and environment,
and its own argument parser."""
