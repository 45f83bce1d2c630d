"""Reading checkpoint files safely: ``torch.load(weights_only=True)`` with errors that name the file.

Every loader of this package reads through :func:`torch_load_file`; an empty, truncated, non-torch
or code-carrying file (one that ``weights_only`` refuses) raises :class:`CheckpointError`, a
``ValueError`` whose one-line message names the file, what was expected and the problem.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "describe_load_failure", "torch_load_file"]


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as what it should be; the message names the file."""


def describe_load_failure(path: Path, exc: BaseException) -> str:
    """One line saying why ``torch.load`` failed on ``path`` (empty, not torch, truncated, refused code)."""
    try:
        head = path.read_bytes()[:8]
    except OSError as err:
        return f"cannot be read ({err})"
    text = str(exc)
    if not head:
        return "the file is empty"
    if not head.startswith((b"PK", b"\x80")):
        return f"not a torch.save file (starts with {head!r})"
    if isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in text:
        m = re.search(r"GLOBAL (\S+)", text) or re.search(r"WeightsUnpickler error:\s*(.+)", text)
        detail = f" ({m.group(1).strip()})" if m else ""
        return (
            "it holds objects other than tensors and plain containers, refused by weights-only "
            f"loading{detail}; it may carry code and is not loaded"
        )
    if head.startswith(b"PK"):
        return f"a truncated or corrupt torch.save archive ({type(exc).__name__})"
    first = text.strip().splitlines()[0][:160] if text.strip() else ""
    return f"not a readable torch.save file ({type(exc).__name__}{': ' + first if first else ''})"


def torch_load_file(path: str | Path, expected: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a failure is a :class:`CheckpointError` naming
    ``path``, what was ``expected`` (e.g. "a FaceFormer state_dict") and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: expected {expected}; {describe_load_failure(path, exc)}") from exc
