"""Everything checked before a run starts: the recipe against the world it will run in, and
pre-flight against this machine."""
