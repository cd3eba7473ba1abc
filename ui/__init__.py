"""LoRA Studio's browser UI (gradio). The only package that imports gradio; every callback is a
thin call into `lorastudio`. Start it with `python launch.py`."""
