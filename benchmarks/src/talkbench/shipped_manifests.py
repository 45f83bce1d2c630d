"""Where the shipped lip readers lie and what their manifests say (``talkbench/shipped/<name>.json``).

Reading a manifest needs nothing of the harness: the configuration checks a preset against it
(render settings, topology, sha256) without importing the readers' training code
(:mod:`talkbench.shipped_readers`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "EXPERT_ID_PREFIX",
    "JUDGE_ID_PREFIX",
    "SHIPPED_DIR",
    "SHIPPED_ID_PREFIXES",
    "ShippedReaderError",
    "list_shipped",
    "shipped_manifest",
    "shipped_name",
    "shipped_path",
    "shipped_sha256",
]

#: the folder of the shipped readers (package data)
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"

#: how a run's ``reader.id`` names a shipped judge: ``talkbench-judge-<name>``
JUDGE_ID_PREFIX = "talkbench-judge-"
#: how a run's ``expert.id`` names a shipped pretrained expert: ``talkbench-pretrained-<name>``
EXPERT_ID_PREFIX = "talkbench-pretrained-"
SHIPPED_ID_PREFIXES: tuple[str, ...] = (JUDGE_ID_PREFIX, EXPERT_ID_PREFIX)


class ShippedReaderError(ValueError):
    """A shipped reader that is unknown, altered, or used with renders it was not trained on."""


def list_shipped() -> list[str]:
    """Names of the shipped readers."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))


def shipped_name(reader_id: str) -> str | None:
    """The shipped reader a run's ``reader.id`` / ``expert.id`` names (with its prefix, or the bare
    name), ``None`` when it names none (a reader the preset trained itself)."""
    name = reader_id
    for prefix in SHIPPED_ID_PREFIXES:
        name = name.removeprefix(prefix)
    return name if name in list_shipped() else None


def shipped_path(name: str) -> Path:
    """The checkpoint of the shipped reader ``name``."""
    return SHIPPED_DIR / f"{name}.pt"


def shipped_manifest(name: str, key: str = "reader.judge") -> dict[str, Any]:
    """The manifest of the shipped reader ``name`` (recipe, sha256, training time, readings)."""
    path = SHIPPED_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(list_shipped()) or "none"
        raise ShippedReaderError(
            f"{key} {name!r}: no such shipped reader in {SHIPPED_DIR} (shipped: {known})"
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def shipped_sha256(name: str | None) -> str | None:
    """The sha256 the manifest of the shipped reader ``name`` records (``None`` for ``None``)."""
    if name is None:
        return None
    return str(shipped_manifest(name)["sha256"])
