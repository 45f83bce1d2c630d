"""Phonetic context-aware loss (Kim & Kim, Interspeech 2025, arXiv 2507.20568).

Official form (``PhoneticContextAwareLoss(window_size=5, reduction='mean')`` of the released
``loss.py``), for ground truth ``x`` and prediction ``x̂`` of shape ``(B, T, D)`` (``D = V·3``):

1. motion per frame ``m_t = ‖x_t − x_{t−1}‖₂`` over all ``D`` coordinates of the ground truth,
   ``m_0 = 0``;
2. centred moving average over ``k`` frames (odd ``k``, default 5) with replicate padding:
   ``r_t = mean(m_{t−(k−1)/2} … m_{t+(k−1)/2})``;
3. weights ``w_t = softmax_t(r_t / τ)`` per sequence (official: ``τ = 1``, no temperature);
4. ``L_pc = mean_{b,t,d}[w_bt·(x̂_btd − x_btd)²]·T = (1/B)·Σ_b Σ_t w_bt·mean_d(err²)``; with
   uniform weights ``w = 1/T`` this is exactly the plain MSE.

Near-uniform weights in metric units: motion norms are in mesh units (metres on VOCASET), so
``r_t`` is of order 1e-3 to 1e-2 and ``softmax(r)`` is nearly uniform. On VOCASET-scale synthetic
speech motion (5023 vertices; 500 mouth vertices moving up to 3 mm at 3–6 Hz, 30 fps, 4 s)
``std(w)·T ≈ 3.0e-3`` and ``max(w)·T − min(w)·T ≈ 2.7e-2`` (the largest deviation comes from
``m_0 = 0`` at the start), with a mean per-frame motion norm of 0.044 m — larger than the
1e-3 to 1e-2 reported for real VOCASET, where the weights are closer still to uniform. Every
frame's weight is within 3 % of uniform and the loss is MSE to within a fraction of a percent.
A temperature ``τ`` (e.g. ``τ ≈ std(r)``) restores a real re-weighting; it is an option of this
implementation, not of the paper's code. (Measured by :func:`vocaset_scale_uniformity`.)

Alignment form (this package's design): the coarticulation weight comes from phone alignments
instead of ground-truth motion. Each motion frame gets the viseme class of the phone that covers its
time stamp (``t / fps``; frames outside every phone get the silence class); ``δ_t = 1`` where the
class differs from the previous frame (``δ_0 = 0``); ``r_t`` is the centred, replicate-padded
window mean of ``δ``, i.e. the share of viseme transitions within the window; then steps 3–4 as
above. The phone → viseme mapping is an argument (e.g. a table from ``facial_metrics``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .reconstruction import check_pair

__all__ = [
    "PhoneticContextAwareLoss",
    "motion_context_weights",
    "viseme_sequence",
    "viseme_transition_weights",
    "vocaset_scale_uniformity",
    "weighted_frame_mse",
    "window_mean",
]

SILENCE = "sil"


def _flatten(x: Tensor) -> Tensor:
    return x.reshape(x.shape[0], x.shape[1], -1)


def window_mean(values: Tensor, window: int) -> Tensor:
    """Centred moving average over the last axis of ``(B, T)`` values with replicate padding."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    half = (window - 1) // 2
    padded = F.pad(values.unsqueeze(1), (half, half), mode="replicate") if half else values.unsqueeze(1)
    return F.avg_pool1d(padded, kernel_size=window, stride=1).squeeze(1)


def motion_context_weights(target: Tensor, window: int = 5, temperature: float = 1.0) -> Tensor:
    """Official weights ``softmax_t(r_t / τ)`` from ground-truth motion → ``(B, T)``, rows summing to 1."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    x = _flatten(target.detach())
    motion = torch.linalg.vector_norm(x[:, 1:] - x[:, :-1], dim=-1)
    motion = torch.cat([motion.new_zeros(x.shape[0], 1), motion], dim=1)  # m_0 = 0
    return torch.softmax(window_mean(motion, window) / temperature, dim=1)


def weighted_frame_mse(pred: Tensor, target: Tensor, weights: Tensor, reduction: str = "mean") -> Tensor:
    """``mean_{b,t,d}[w_bt·err²]·T`` (``reduction='mean'``) or ``Σ w·err²`` (``'sum'``)."""
    check_pair(pred, target, "weighted_frame_mse")
    err = _flatten(pred - target).square()
    b, t, _ = err.shape
    if weights.shape != (b, t):
        raise ValueError(f"weights must be (B={b}, T={t}), got {tuple(weights.shape)}")
    weighted = weights.to(err.dtype).unsqueeze(-1) * err
    if reduction == "mean":
        return weighted.mean() * t
    if reduction == "sum":
        return weighted.sum()
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


class PhoneticContextAwareLoss(nn.Module):
    """``L_pc`` (module docstring): ``forward(pred, target, weights=None)``.

    ``weights`` default to the official motion form.

    Args:
        window_size: odd context window in frames (5 as the paper's best).
        reduction: ``"mean"`` (scaled so uniform weights give MSE) or ``"sum"``.
        temperature: ``τ`` of ``softmax(r/τ)``; 1.0 reproduces the official code.
    """

    def __init__(self, window_size: int = 5, reduction: str = "mean", temperature: float = 1.0) -> None:
        super().__init__()
        if window_size < 1 or window_size % 2 == 0:
            raise ValueError(f"window_size must be a positive odd number, got {window_size}")
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.window_size = window_size
        self.reduction = reduction
        self.temperature = temperature

    def weights(self, target: Tensor) -> Tensor:
        return motion_context_weights(target, self.window_size, self.temperature)

    def forward(self, pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
        check_pair(pred, target, "PhoneticContextAwareLoss")
        w = self.weights(target) if weights is None else weights
        return weighted_frame_mse(pred, target, w, self.reduction)


def _strip_stress(phone: str) -> str:
    return re.sub(r"\d+$", "", phone.strip())


def viseme_sequence(
    phones: Sequence[tuple[str, float, float]], num_frames: int, fps: float,
    phone_to_viseme: Mapping[str, str], *, silence: str = SILENCE,
) -> list[str]:
    """Viseme class of every motion frame: the class of the phone covering ``t / fps``.

    Phone labels are looked up as given, then without ARPAbet stress digits (``AH0`` → ``AH``), in
    upper and lower case. Frames covered by no phone get ``silence``. An unknown phone raises
    ``KeyError`` naming it.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    classes = [silence] * num_frames
    for label, start, end in phones:
        if end < start:
            raise ValueError(f"phone {label!r} ends ({end}) before it starts ({start})")
        viseme = None
        for key in (label, _strip_stress(label), _strip_stress(label).upper(), _strip_stress(label).lower()):
            if key in phone_to_viseme:
                viseme = phone_to_viseme[key]
                break
        if viseme is None:
            raise KeyError(
                f"phone {label!r} is not in the phone->viseme mapping; add it (or map it to {silence!r})"
            )
        first = max(0, math.ceil(start * fps - 1e-9))
        for t in range(first, num_frames):
            time = t / fps
            if time >= end:
                break
            if time >= start:
                classes[t] = viseme
    return classes


def viseme_transition_weights(
    phones: Sequence[Sequence[tuple[str, float, float]]], num_frames: int, fps: float,
    phone_to_viseme: Mapping[str, str], *, window: int = 5, temperature: float = 1.0,
    silence: str = SILENCE,
) -> Tensor:
    """Alignment-form weights ``(B, T)``: softmax of the windowed share of viseme-class transitions."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    rows = []
    for utterance in phones:
        classes = viseme_sequence(utterance, num_frames, fps, phone_to_viseme, silence=silence)
        delta = [0.0] + [float(a != b) for a, b in zip(classes[1:], classes[:-1])]
        rows.append(delta)
    transitions = torch.tensor(rows, dtype=torch.float32)
    return torch.softmax(window_mean(transitions, window) / temperature, dim=1)


def vocaset_scale_uniformity(seed: int = 0, temperature: float = 1.0) -> dict[str, float]:
    """How uniform the official weights are on VOCASET-scale synthetic speech motion.

    5023 vertices, 500 random "mouth" vertices oscillating at 3–6 Hz with amplitudes up to 3 mm
    (metres, as VOCASET), 30 fps, 4 s. Returns ``std(w)·T``, ``max(w)·T − min(w)·T`` and the mean
    windowed motion ``mean(r)`` (metres).
    """
    g = torch.Generator().manual_seed(seed)
    fps, seconds, num_vertices = 30.0, 4.0, 5023
    t = torch.arange(int(fps * seconds)) / fps
    mouth = torch.randperm(num_vertices, generator=g)[:500]
    freqs = 3.0 + 3.0 * torch.rand(500, generator=g)
    phase = 2 * torch.pi * torch.rand(500, generator=g)
    amp = 0.003 * torch.rand(500, 3, generator=g)  # up to 3 mm
    motion = torch.zeros(len(t), num_vertices, 3)
    motion[:, mouth] = amp * torch.sin(2 * torch.pi * freqs * t[:, None] + phase)[..., None]
    w = motion_context_weights(motion[None], temperature=temperature)[0] * len(t)
    m = torch.linalg.vector_norm(motion[1:] - motion[:-1], dim=(-2, -1))
    return {"std_wT": float(w.std()), "range_wT": float(w.max() - w.min()), "mean_motion": float(m.mean())}
