"""What one studio process works with, resolved once by the entry point and passed to the tabs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lorastudio.machine.hardware import Hardware
from lorastudio.workspace import Workspace


@dataclass(frozen=True)
class StudioConfig:
    """The studio's folders, this machine's devices and the start-up language.

    Attributes:
        workspace: data, adapters and the studio folder.
        recipe_dirs: where the recipe picker looks (shipped recipes first, the studio's own
            recipes folder last: Save recipe writes there).
        hardware: what `lorastudio.hardware.detect` found at start-up.
        lang: the language a fresh browser gets (``en`` or ``zh``).
        downloads_dir: where edited recipes are written for the download button.
        poll_seconds: how often the live view looks for new trainer lines.
    """

    workspace: Workspace
    recipe_dirs: tuple[Path, ...]
    hardware: Hardware
    lang: str
    downloads_dir: Path
    poll_seconds: float = 0.2

    @property
    def saved_recipes_dir(self) -> Path:
        """Where Save recipe writes: the studio folder's recipes/ (the picker's last folder)."""
        return self.recipe_dirs[-1] if self.recipe_dirs else self.workspace.root / "recipes"
