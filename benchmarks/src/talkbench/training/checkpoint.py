"""Atomic, resumable training checkpoints.

A checkpoint holds everything a run needs to continue exactly where it stopped: the step, the
state_dicts of every module and optimizer, the scheduler state and the torch RNG states (CPU and
CUDA). It is written to a temporary file in the same folder and renamed over the target
(``os.replace``), so a killed process leaves the previous checkpoint intact. Reading uses
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from facial_animator.checkpoint_io import describe_load_failure

__all__ = ["CheckpointError", "capture_rng", "load_training_state", "restore_rng", "save_training_state"]


class CheckpointError(ValueError):
    """A talkbench checkpoint or cache file that cannot be read; the message names the file."""


def capture_rng() -> dict[str, Any]:
    """torch RNG states (CPU, and every CUDA device when present)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, dicts, lists, numbers, strings) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_training_state(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    expected: str = "a talkbench training checkpoint",
) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_training_state` (``weights_only=True``).

    An empty, truncated, non-torch or code-carrying file, or one that does not hold a dict, raises
    :class:`CheckpointError` naming the file, ``expected`` and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: expected {expected}; {describe_load_failure(path, exc)}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected {expected} (a dict), got {type(state).__name__}")
    return state
