"""The catalogue's words, one module per area of the core: ``TEXTS = {key: (English, Chinese)}``."""
