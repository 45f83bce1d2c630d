"""Alignment files: ``{"words": [[label, start_s, end_s], ...], "phones": [...], ...metadata}`` (JSON)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .checks import DataError
from .sample import Segment

__all__ = ["load_alignment", "save_alignment"]


def save_alignment(
    path: str | os.PathLike[str], words: list[Segment], phones: list[Segment], **meta: Any
) -> None:
    """Write an alignment JSON atomically.

    Layout: ``{"words": [[label, start_s, end_s], ...], "phones": [...], ...metadata}``.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    payload = {**meta, "words": [list(w) for w in words], "phones": [list(x) for x in phones]}
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    os.replace(tmp, p)


def load_alignment(path: str | os.PathLike[str]) -> tuple[list[Segment], list[Segment], dict[str, Any]]:
    """Read an alignment JSON written by :func:`save_alignment`: ``(words, phones, metadata)``."""
    p = Path(path)
    try:
        payload = json.loads(p.read_text(encoding="utf-8"))
        words = [(str(a), float(b), float(c)) for a, b, c in payload["words"]]
        phones = [(str(a), float(b), float(c)) for a, b, c in payload["phones"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{p}: not a valid alignment file ({type(exc).__name__}: {exc})") from exc
    meta = {k: v for k, v in payload.items() if k not in ("words", "phones")}
    return words, phones, meta
