"""LLaMA-Factory's demo datasets (`identity`, `alpaca_en_demo`, `alpaca_zh_demo`), which the
shipped recipes train on, fetched into the data folder: from LLaMA-Factory's repository at the
release LoRA Studio pins, from a mirror, or from a folder (a LLaMA-Factory checkout's `data/`).
Every file is checked against the SHA-256 of that release before it is written, so what lands is
what LLaMA-Factory ships, byte for byte; only `--name`/`--author` then fill identity's
placeholders."""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lorastudio.errors import LoraStudioError
from lorastudio.files import write_bytes_atomic, write_json_atomic
from lorastudio.messages import msg

# LLaMA-Factory v0.9.5's data/ (the version pyproject pins); the hashes are of that tag's files.
DEFAULT_SOURCE = "https://raw.githubusercontent.com/hiyouga/LLaMA-Factory/v0.9.5/data/"
DEMO_FILES = {
    "identity": (
        "identity.json",
        "fd029da7dd3df283ed034c82375d16d125a7b07cf1cb0316d03fb8743057d5f2",
    ),
    "alpaca_en_demo": (
        "alpaca_en_demo.json",
        "bcc37c64db1a739a0789a1b81f251146fcf4459f903474bc9e3c21bbb5628318",
    ),
    "alpaca_zh_demo": (
        "alpaca_zh_demo.json",
        "d5a4be46ae70d23a461ffc16048069324c0865ee9aa0c8730e21ac4b65ea0f08",
    ),
}
MAX_BYTES = 16 * 1024 * 1024  # the largest demo file is 0.9 MB; anything far bigger is not it
TIMEOUT_S = 60.0


def default_source() -> str:
    """``LORASTUDIO_DEMO_DATA_FROM`` (a team's mirror or folder) or LLaMA-Factory's GitHub."""
    return os.environ.get("LORASTUDIO_DEMO_DATA_FROM") or DEFAULT_SOURCE


class DemoDataError(LoraStudioError):
    """A demo file could not be fetched or is not the one LLaMA-Factory ships."""


@dataclass(frozen=True)
class Fetched:
    """What happened to one demo file."""

    dataset: str
    path: Path
    outcome: str  # "fetched" | "filled" (placeholders) | "present" | "kept" (the user's own)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_source(source: str, file_name: str, timeout: float) -> bytes:
    if "://" not in source:
        path = Path(source).expanduser() / file_name
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DemoDataError(
                msg("error.demo_unreadable", path=path, reason=exc.strerror or exc),
                msg("fix.demo_folder", file=file_name),
            ) from None
    url = source.rstrip("/") + "/" + file_name
    if not url.startswith(("http://", "https://")):
        raise DemoDataError(
            msg("error.demo_bad_source", source=source), msg("fix.demo_give_source")
        )
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DemoDataError(
            msg("error.download", url=url, reason=reason), msg("fix.download")
        ) from None
    if len(data) > MAX_BYTES:
        raise DemoDataError(
            msg("error.demo_too_big", url=url, limit=MAX_BYTES >> 20, file=file_name)
        )
    return data


def _fill_identity(data: bytes, name: str | None, author: str | None) -> bytes:
    """identity.json with {{name}} and {{author}} replaced, field by field (quotes stay JSON)."""
    if not name and not author:
        return data
    records = json.loads(data)
    for record in records:
        for key, value in record.items():
            if isinstance(value, str):
                record[key] = value.replace("{{name}}", name or "{{name}}").replace(
                    "{{author}}", author or "{{author}}"
                )
    return (json.dumps(records, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _register(data_dir: Path) -> None:
    """Add the demo datasets to the folder's dataset_info.json, keeping every other entry."""
    registry_path = data_dir / "dataset_info.json"
    registry = {}
    if registry_path.is_file():
        try:
            registry = json.loads(registry_path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:  # RecursionError: nested past reason
            raise DemoDataError(
                msg("error.registry_invalid", path=registry_path, reason=exc),
                msg("fix.demo_registry"),
            ) from None
    missing = {
        name: {"file_name": f} for name, (f, _) in DEMO_FILES.items() if name not in registry
    }
    if missing:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(registry_path, registry | missing)


def fetch_demo_data(
    data_dir: Path,
    source: str | None = None,
    name: str | None = None,
    author: str | None = None,
    force: bool = False,
    timeout: float = TIMEOUT_S,
) -> list[Fetched]:
    """Put LLaMA-Factory's demo files into ``data_dir`` and register them.

    A file already there that differs from LLaMA-Factory's (e.g. identity.json with the
    placeholders filled in) is kept unless ``force``. Every file is fetched and checked before
    any is written, so a bad source changes nothing.

    Raises:
        DemoDataError: a file could not be fetched, or its SHA-256 is not the release's.
    """
    source = source or default_source()
    plan: list[tuple[str, Path, bytes | None, bytes | None]] = []  # dataset, path, now, original
    for dataset, (file_name, digest) in DEMO_FILES.items():
        target = data_dir / file_name
        present = target.read_bytes() if target.is_file() else None
        if present is not None and _sha256(present) == digest:
            plan.append((dataset, target, present, present))
        elif present is not None and not force:
            plan.append((dataset, target, present, None))  # the user's own version: kept
        else:
            original = _read_source(source, file_name, timeout)
            if _sha256(original) != digest:
                raise DemoDataError(
                    msg(
                        "error.not_lf_file",
                        file=file_name,
                        source=source,
                        got=_sha256(original)[:16],
                        expected=digest[:16],
                    ),
                    msg("fix.other_source"),
                )
            plan.append((dataset, target, present, original))
    results = []
    for dataset, target, present, original in plan:
        if original is None:
            results.append(Fetched(dataset, target, "kept"))
            continue
        wanted = _fill_identity(original, name, author) if dataset == "identity" else original
        if wanted != present:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, wanted)
        outcome = "present" if wanted == present else "fetched" if present != original else "filled"
        results.append(Fetched(dataset, target, outcome))
    _register(data_dir)
    return results
