"""Recipe texts written to hurt, shared by the CLI and the studio's tests."""

from __future__ import annotations


def laughs(levels: int = 9) -> str:
    """The "billion laughs": 9 aliases of 9 aliases … — 373 bytes that name 9⁹ strings."""
    lines = ["schema_version: 1", "name: laughs", 'a0: &a0 ["lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        aliases = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


BRACKETS = "schema_version: 1\nextra: " + "[" * 20_000  # RecursionError in PyYAML's composer
