"""The models LoRA Studio knows: the catalogue of Qwen models (hub ids, family, thinking,
parameter shape), the chat template each one needs, and the models already on this machine."""
