"""The headless face: `python launch.py validate|compile|train|runs|…`."""
