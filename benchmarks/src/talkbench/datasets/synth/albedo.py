"""Per-vertex albedo of the synthetic head's parts, for renders that look like a camera's.

Colours are linear RGB in [0, 1], chosen so that their luma (ITU-R BT.601 weights, what the lip
readers' grayscale conversion uses) orders the parts as a camera sees them: teeth 0.92, eyes 0.90,
skin 0.71 (the uniform grey 180/255 of ``synth-face-v1``'s renders), tongue 0.54, lips 0.50, the
mouth cavity 0.13 (dark, as the inside of a mouth is without a light in it). Each eyeball gets an iris
(brown, luma 0.20) where its surface lies within 24 degrees of straight ahead (+z) seen from the
eyeball's centre, and a pupil within 10 degrees.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PART_ALBEDO", "vertex_albedo"]

#: part name -> linear RGB albedo
PART_ALBEDO: dict[str, tuple[float, float, float]] = {
    "skin": (0.85, 0.66, 0.56),
    "lips": (0.72, 0.40, 0.40),
    "mouth_cavity": (0.25, 0.08, 0.08),
    "upper_teeth": (0.95, 0.93, 0.86),
    "lower_teeth": (0.95, 0.93, 0.86),
    "tongue": (0.80, 0.42, 0.45),
    "left_eye": (0.90, 0.90, 0.90),
    "right_eye": (0.90, 0.90, 0.90),
}
_IRIS = (0.35, 0.18, 0.10)
_PUPIL = (0.03, 0.03, 0.03)


def vertex_albedo(topology: str) -> np.ndarray:
    """``float32 (V, 3)`` albedo of ``synth-head-v2`` (from its part labels)."""
    from .head import HEAD_TOPOLOGY, load_head

    if topology != HEAD_TOPOLOGY:
        raise ValueError(f"{topology!r} has no parts to colour; only {HEAD_TOPOLOGY} does")
    head = load_head()
    table = np.array([PART_ALBEDO[name] for name in head.part_names], dtype=np.float32)
    out = table[head.parts]
    for eye in ("left_eye", "right_eye"):
        ids = head.part(eye)
        d = head.vertices[ids] - head.vertices[ids].mean(axis=0)
        cos = d[:, 2] / np.linalg.norm(d, axis=1)
        out[ids[cos > np.cos(np.deg2rad(24.0))]] = _IRIS
        out[ids[cos > np.cos(np.deg2rad(10.0))]] = _PUPIL
    return out
