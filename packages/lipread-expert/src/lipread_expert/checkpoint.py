"""Checkpoints of lip readers: atomic writes, ``torch.load(weights_only=True)`` reads.

A checkpoint is a plain dict of tensors and python primitives::

    {"format": "lipread-expert/1", "config": {...}, "modality": str, "odim": int,
     "input_spec": {...}, "token_list": [str] | None, "model": state_dict,
     "optimizer": state_dict | None, "scheduler": state_dict | None, "step": int, "extra": {...}}

It is written to a temporary file in the target folder and renamed over the target, so a crash
never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from .config import LipReaderConfig
from .input_spec import InputSpec
from .model import LipReader

FORMAT = "lipread-expert/1"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as what it should be; the message names the file.

    Raised for empty, truncated, non-torch and code-carrying (refused by ``weights_only``) files,
    and for files of the wrong kind.
    """


def _load_problem(path: Path, exc: BaseException) -> str:
    """One line saying why ``torch.load`` failed on ``path``."""
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
    """``torch.load(path, weights_only=True)``; any failure is a :class:`CheckpointError` naming
    ``path``, what was ``expected`` (e.g. "an auto-avsr checkpoint") and the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: expected {expected}; {_load_problem(path, exc)}") from exc


def save_checkpoint(
    path: str | Path,
    model: LipReader,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    step: int = 0,
    token_list: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if token_list is not None and len(token_list) != model.odim:
        raise ValueError(f"token_list has {len(token_list)} entries but the model's odim is {model.odim}")
    payload = {
        "format": FORMAT,
        "config": model.config.to_dict(),
        "modality": model.modality,
        "odim": model.odim,
        "input_spec": model.input_spec.to_dict(),
        "token_list": list(token_list) if token_list is not None else None,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": int(step),
        "extra": dict(extra or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, read with ``weights_only=True``; raises if it is not ours."""
    path = Path(path)
    payload = torch_load_file(path, f"a lipread-expert checkpoint ({FORMAT})", map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a lipread-expert checkpoint (format {FORMAT}); for official auto-avsr "
            "weights use load_official_checkpoint"
        )
    return payload


def load_checkpoint(
    path: str | Path,
    model: LipReader | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[LipReader, dict[str, Any]]:
    """Restore a reader (built from the stored config when ``model`` is None) and, if given, the
    optimizer and scheduler. Returns the model and the checkpoint dict (for ``step``,
    ``token_list``, ``extra``)."""
    payload = read_checkpoint(path, map_location)
    if model is None:
        model = LipReader(
            LipReaderConfig.from_dict(payload["config"]), payload["modality"], payload["odim"],
            InputSpec.from_dict(payload["input_spec"]),
        )
    elif model.modality != payload["modality"] or model.odim != payload["odim"]:
        raise ValueError(
            f"{path}: checkpoint holds a {payload['modality']} reader with odim {payload['odim']}, "
            f"the given model is {model.modality} with odim {model.odim}"
        )
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        if payload["optimizer"] is None:
            raise ValueError(f"{path}: no optimizer state stored")
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        if payload["scheduler"] is None:
            raise ValueError(f"{path}: no scheduler state stored")
        scheduler.load_state_dict(payload["scheduler"])
    return model, payload
