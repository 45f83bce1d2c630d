"""Articulation of ``synth-head-v2``: the corpus's rig channels retargeted onto the 52 ARKit face units.

The corpus's motion model (Cohen–Massaro coarticulation of viseme targets, mood expressions, blinks;
:mod:`.coarticulation`, :mod:`.motion`) produces per-frame values of :data:`HEAD_CHANNELS`: the six
speech channels of ``synth-face-v1`` plus ``tongue_tip``, and the seven expression channels. Each
channel drives a fixed mix of face units (:data:`RETARGET`, unit weight per channel value 1); the
head's vertices are ``template + sum_k w_k(t) U_k`` with ``U_k`` the unit offsets and ``w_k`` the
mixed weights, clipped to ``[0, 1]`` as ARKit weights are.

``mouthClose`` is not a fixed mix: ARKit defines it as closing the lips *against* an open jaw, so
its weight is solved per frame. With ``s = clip((lip_close - 0.25) / 0.3, 0, 1)`` (no pull below
0.25, full pull from 0.55: a short bilabial, coarticulated, reaches about 0.6 at its midpoint) the
weight is ``s * w*``, where ``w*`` in ``[0, 1]`` brings the lip gap of the speaker's head, measured
on the midline (lowest point of the upper lip minus highest point of the lower lip, within 4 mm of
the midline), from its value under the other units to :data:`CLOSED_GAP_M` (two secant steps on
the gap as a function of the weight). So /p b m/ shut the lips whatever the jaw, rounding or
identity do, and a pause (lip_close 0.55) closes them too.

Sizes at channel value 1, measured on the neutral head: ``jaw_open`` → ``jawOpen`` 0.5 (lips part by
about 17 mm at the midline, as ``synth-face-v1``'s 16 mm; the lower incisors drop 9 mm);
``lower_lip_tuck`` → ``mouthRollLower`` 0.8 (with the slight jaw of /f v/ the lower lip meets the
upper incisors' edge); ``upper_lip_raise`` → ``mouthUpperUp`` and ``mouthShrugUpper`` 0.6 (the
upper incisors show); ``tongue_tip`` → ``tongueOut`` 0.65 (the tip 4-5 mm in front of the upper
incisors, on the lower lip, for /th dh/).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .head import HeadMesh, load_head
from .rig import EXPRESSION_CHANNELS, SPEECH_CHANNELS

__all__ = ["CLOSED_GAP_M", "HEAD_CHANNELS", "HEAD_SPEECH_CHANNELS", "RETARGET", "HeadRig", "build_head_rig"]

#: the midline lip gap that a full ``lip_close`` brings the lips to (slightly pressed)
CLOSED_GAP_M = -0.0003
_MIDLINE_M = 0.004

HEAD_SPEECH_CHANNELS = (*SPEECH_CHANNELS, "tongue_tip")
HEAD_CHANNELS = HEAD_SPEECH_CHANNELS + EXPRESSION_CHANNELS


def _both(stem: str, w: float) -> dict[str, float]:
    return {f"{stem}Left": w, f"{stem}Right": w}


#: channel -> {face unit: weight at channel value 1} (``lip_close``'s ``mouthClose`` is computed, see above)
RETARGET: dict[str, dict[str, float]] = {
    "jaw_open": {"jawOpen": 0.5, **_both("mouthLowerDown", 0.15)},
    "lip_close": {**_both("mouthPress", 0.3)},
    "lip_round": {"mouthPucker": 0.85, "mouthFunnel": 0.35},
    "lip_spread": {**_both("mouthStretch", 0.45), **_both("mouthSmile", 0.15)},
    "lower_lip_tuck": {"mouthRollLower": 0.8},
    "upper_lip_raise": {**_both("mouthUpperUp", 0.6), "mouthShrugUpper": 0.6},
    "tongue_tip": {"tongueOut": 0.65},
    "smile": {**_both("mouthSmile", 0.6), **_both("cheekSquint", 0.35)},
    "frown": {**_both("mouthFrown", 0.6), **_both("browDown", 0.1)},
    "brow_raise": {**_both("browOuterUp", 0.8), "browInnerUp": 0.5},
    "brow_lower": {**_both("browDown", 0.8), **_both("eyeSquint", 0.2)},
    "brow_inner_up": {"browInnerUp": 0.9},
    "blink": {**_both("eyeBlink", 1.0)},
    "eye_wide": {**_both("eyeWide", 0.8)},
}
if set(RETARGET) != set(HEAD_CHANNELS):
    raise RuntimeError("RETARGET must map every head channel")


class HeadRig:
    """Channel values ``(T, 14)`` → face-unit weights ``(T, 52)`` → vertices (module docstring)."""

    def __init__(self, head: HeadMesh) -> None:
        self.head = head
        names = head.unit_names
        mix = np.zeros((len(HEAD_CHANNELS), len(names)), dtype=np.float64)
        for c, channel in enumerate(HEAD_CHANNELS):
            for unit, w in RETARGET[channel].items():
                mix[c, names.index(unit)] = w
        self.mix = mix
        self._jaw = names.index("jawOpen")
        self._close = names.index("mouthClose")
        self._lip_close = HEAD_CHANNELS.index("lip_close")
        self.basis = head.unit_basis.reshape(len(names), -1)  # (52, V*3)
        v = head.vertices
        upper, lower = head.region("upper_lip"), head.region("lower_lip")
        self.gap_upper = upper[np.abs(v[upper, 0]) < _MIDLINE_M]
        self.gap_lower = lower[np.abs(v[lower, 0]) < _MIDLINE_M]
        self._dy_upper = head.unit_basis[:, self.gap_upper, 1].astype(np.float64)  # (52, U)
        self._dy_lower = head.unit_basis[:, self.gap_lower, 1].astype(np.float64)

    def lip_gap(self, template: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """``(T,)`` midline lip gap in metres of ``template`` under unit ``weights`` ``(T, 52)``
        (negative: the lips press into each other)."""
        w = np.asarray(weights, dtype=np.float64)
        t = np.asarray(template, dtype=np.float64)
        up = t[self.gap_upper, 1][None] + w @ self._dy_upper
        lo = t[self.gap_lower, 1][None] + w @ self._dy_lower
        return up.min(axis=1) - lo.max(axis=1)

    def unit_weights(self, params: np.ndarray, template: np.ndarray | None = None) -> np.ndarray:
        """ARKit weights ``float32 (T, 52)`` in ``[0, 1]`` for channel values ``params`` ``(T, 14)`` on
        ``template`` (a speaker's neutral head; default the shipped neutral)."""
        params = np.asarray(params, dtype=np.float64)
        if params.ndim != 2 or params.shape[1] != len(HEAD_CHANNELS):
            raise ValueError(f"params must be (T, {len(HEAD_CHANNELS)}), got {params.shape}")
        base = self.head.vertices if template is None else template
        w = np.clip(params @ self.mix, 0.0, 1.0)
        strength = np.clip((params[:, self._lip_close] - 0.25) / 0.3, 0.0, 1.0)
        w[:, self._close] = 0.0
        g0 = self.lip_gap(base, w)
        lo, hi = np.zeros(len(w)), np.ones(len(w))
        g_lo, w[:, self._close] = g0, 1.0
        g_hi = self.lip_gap(base, w)
        x = np.zeros(len(w))
        for _ in range(2):  # secant steps on gap(x) = CLOSED_GAP_M
            slope = np.where(np.abs(g_hi - g_lo) > 1e-9, (g_hi - g_lo) / np.maximum(hi - lo, 1e-9), -1.0)
            x = np.clip(lo + (CLOSED_GAP_M - g_lo) / np.where(slope < 0, slope, -1.0), 0.0, 1.0)
            w[:, self._close] = x
            g_x = self.lip_gap(base, w)
            above = g_x > CLOSED_GAP_M
            lo, g_lo = np.where(above, x, lo), np.where(above, g_x, g_lo)
            hi, g_hi = np.where(above, hi, x), np.where(above, g_hi, g_x)
        x = np.where(g0 > CLOSED_GAP_M, x, 0.0)
        w[:, self._close] = strength * x
        return w.astype(np.float32)

    def vertices_from_weights(self, template: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Vertices ``float32 (T, V, 3)``: ``template + weights @ units`` for unit ``weights`` ``(T, 52)``
        (what a corpus stores; one function for generating and loading, so both give the same bits)."""
        w = np.asarray(weights, dtype=np.float32)
        offsets = (w @ self.basis).reshape(len(w), -1, 3)
        return (np.asarray(template, dtype=np.float32)[None] + offsets).astype(np.float32)

    def apply(self, template: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Vertices ``float32 (T, V, 3)`` of a speaker's ``template`` driven by ``params``."""
        return self.vertices_from_weights(template, self.unit_weights(params, template))


@lru_cache(maxsize=1)
def build_head_rig() -> HeadRig:
    """The rig of the shipped head (cached)."""
    return HeadRig(load_head())
