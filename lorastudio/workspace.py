"""Where things live: the studio's folder, its data folder (LLaMA-Factory's `dataset_info.json`
layout) and its adapters folder. Resolved once from the environment by the entry point."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorastudio.errors import LoraStudioError
from lorastudio.messages import msg


class DataRegistryError(LoraStudioError):
    """The data folder's dataset_info.json cannot be read."""


@dataclass(frozen=True)
class Workspace:
    """The folders a studio works in. Every path is absolute."""

    root: Path
    data_dir: Path
    adapters_dir: Path

    @classmethod
    def from_env(cls, root: str | Path | None = None) -> Workspace:
        """Build from ``LORASTUDIO_HOME``, ``LORASTUDIO_DATA_DIR`` and ``LORASTUDIO_ADAPTERS_DIR``.

        Args:
            root: the studio folder when ``LORASTUDIO_HOME`` is unset (launch.py passes its own).
        """
        home = Path(os.environ.get("LORASTUDIO_HOME") or root or Path.cwd()).expanduser().resolve()
        data = os.environ.get("LORASTUDIO_DATA_DIR") or home / "data"
        adapters = os.environ.get("LORASTUDIO_ADAPTERS_DIR") or home / "adapters"
        return cls(
            root=home,
            data_dir=Path(data).expanduser().resolve(),
            adapters_dir=Path(adapters).expanduser().resolve(),
        )

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "dataset_info.json"

    def dataset_registry(self) -> dict[str, Any]:
        """The datasets registered in the data folder (empty when it has no dataset_info.json)."""
        if not self.registry_path.is_file():
            return {}
        try:
            registry = json.loads(self.registry_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested past reason
            raise DataRegistryError(
                msg("error.registry_invalid", path=self.registry_path, reason=exc),
                msg("fix.registry"),
            ) from None
        if not isinstance(registry, dict):
            raise DataRegistryError(
                msg("error.registry_not_object", path=self.registry_path), msg("fix.registry")
            )
        return registry

    def resolve_model(self, model_id: str) -> Path | None:
        """The local folder a model id names, or None when it is a hub id."""
        path = Path(model_id).expanduser()
        if path.is_absolute():
            return path
        if model_id.startswith((".", "~")) or (self.root / path).exists():
            return (self.root / path).resolve()
        return None
