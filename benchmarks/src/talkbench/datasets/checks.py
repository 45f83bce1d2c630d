"""Validation at the data boundary and the audio/motion truncation rule.

Truncation rule (all loaders): audio at 16 kHz with ``S`` samples and motion with ``T`` frames at
``fps`` describe ``S / 16000`` and ``T / fps`` seconds. Both are cut to the shorter of the two:

* frames kept: ``T' = min(T, floor(S * fps / 16000))``;
* samples kept: ``S' = min(S, round(T' * 16000 / fps))``.

A difference larger than ``max_mismatch_s`` (default 0.5 s) is not a rounding artefact but a wrong
pairing of files, and raises :class:`DataError` naming both files.
"""

from __future__ import annotations

import math

import numpy as np

from .sample import AUDIO_RATE

__all__ = ["DEFAULT_MAX_MISMATCH_S", "DataError", "check_template", "check_vertices", "truncate_pair"]

DEFAULT_MAX_MISMATCH_S = 0.5


class DataError(ValueError):
    """A dataset file that does not satisfy the layout's contract; the message names the file."""


def check_vertices(vertices: np.ndarray, num_vertices: int, source: str) -> np.ndarray:
    """Return ``vertices`` as ``float32 (T, V, 3)``, accepting the flat ``(T, V*3)`` layout.

    Raises :class:`DataError` (naming ``source``) on a wrong vertex count, an empty sequence, NaN/Inf
    or a non-floating dtype (integer coordinates are a wrong file, not something to cast).
    """
    arr = np.asarray(vertices)
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{source}: vertex coordinates must be floating point, got dtype {arr.dtype}")
    if arr.ndim == 2:
        if arr.shape[1] != num_vertices * 3:
            raise DataError(
                f"{source}: {arr.shape[1]} values per frame, expected {num_vertices * 3} "
                f"({num_vertices} template vertices x 3)"
            )
        arr = arr.reshape(arr.shape[0], num_vertices, 3)
    elif arr.ndim == 3:
        if arr.shape[1:] != (num_vertices, 3):
            raise DataError(
                f"{source}: frames of shape {arr.shape[1:]}, expected ({num_vertices}, 3) "
                "to match the template"
            )
    else:
        raise DataError(f"{source}: expected (T, V*3) or (T, V, 3) vertices, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DataError(f"{source}: the sequence has no frames")
    arr = np.asarray(arr, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr).all(axis=(1, 2)))[0, 0])
        raise DataError(f"{source}: NaN or Inf vertex coordinates (first at frame {bad})")
    return arr


def check_template(template: object, source: str, num_vertices: int | None = None) -> np.ndarray:
    """Return a template as ``float32 (V, 3)``; :class:`DataError` naming ``source`` otherwise
    (wrong shape, NaN/Inf, or a non-floating dtype)."""
    arr = np.asarray(template)
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{source}: template coordinates must be floating point, got dtype {arr.dtype}")
    if arr.ndim == 1 and arr.size % 3 == 0:
        arr = arr.reshape(-1, 3)
    if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        raise DataError(f"{source}: a template must be (V, 3), got shape {arr.shape}")
    if num_vertices is not None and arr.shape[0] != num_vertices:
        raise DataError(f"{source}: template has {arr.shape[0]} vertices, expected {num_vertices}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{source}: NaN or Inf in the template")
    return arr


def truncate_pair(
    vertices: np.ndarray,
    audio: np.ndarray,
    fps: float,
    source: str,
    max_mismatch_s: float = DEFAULT_MAX_MISMATCH_S,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the module's truncation rule to a (vertices, 16 kHz audio) pair."""
    t, s = int(vertices.shape[0]), int(audio.shape[0])
    gap = abs(t / fps - s / AUDIO_RATE)
    if gap > max_mismatch_s:
        raise DataError(
            f"{source}: motion lasts {t / fps:.3f} s but audio {s / AUDIO_RATE:.3f} s "
            f"(difference {gap:.3f} s > {max_mismatch_s} s); check that the files belong together"
        )
    t_keep = min(t, math.floor(s * fps / AUDIO_RATE + 1e-9))
    if t_keep <= 0:
        raise DataError(f"{source}: audio of {s} samples is shorter than one motion frame")
    s_keep = min(s, round(t_keep * AUDIO_RATE / fps))
    return vertices[:t_keep], audio[:s_keep]
