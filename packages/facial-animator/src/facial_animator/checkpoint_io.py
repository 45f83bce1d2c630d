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

__all__ = ["CheckpointError", "describe_load_failure", "meta_load_assign", "torch_load_file"]


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


def meta_load_assign(model: torch.nn.Module, provided: set[str] | frozenset[str], source: str) -> bool:
    """Whether ``model.load_state_dict`` must run with ``assign=True``; refuses half-materialised models.

    A model built under ``torch.device("meta")`` has no storage: ``load_state_dict`` without
    ``assign=True`` copies into nothing and leaves every tensor on ``meta``. Returns ``True`` when some
    parameter or buffer is on ``meta`` (the checkpoint's tensors are then assigned), ``False``
    otherwise. Raises :class:`CheckpointError` when a ``meta`` tensor is absent from ``provided`` (the
    state-dict keys that will be loaded) or is not part of the state dict at all (a non-persistent
    buffer): it would stay without values.
    """
    persistent = set(model.state_dict(keep_vars=True))
    on_meta = [
        name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"
    ]
    if not on_meta:
        return False
    left = sorted(n for n in on_meta if n not in provided or n not in persistent)
    if left:
        raise CheckpointError(
            f"{source}: the model was built on the meta device and {len(left)} of its tensors would stay "
            f"without values (not in the checkpoint, or non-persistent buffers): {left[:8]}; build the "
            "model on a real device (e.g. torch.device('cpu')) and load the checkpoint into it"
        )
    return True
