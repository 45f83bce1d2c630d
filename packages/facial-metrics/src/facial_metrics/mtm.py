r"""Mean temporal misalignment (MTM): the lip-sync offset between prediction and ground truth, by DTW.

Definition (Chae-Yeon et al., "Perceptually Accurate 3D Talking Head Generation", CVPR 2025; facts
from the released ``evaluation/evaluate_MTM.py`` and ``evaluation/readme.md``, re-implemented here):

1. Per frame, the lip opening :math:`o_t` of GT and prediction
   (:func:`~facial_metrics.lip_opening.lip_opening`; the reference uses one FLAME vertex per lip,
   3531 and 3504, and the Euclidean distance).
2. Both curves are smoothed by a Gaussian filter, :math:`\sigma = 2` frames (SciPy
   ``gaussian_filter1d`` semantics: kernel truncated at :math:`\lfloor 4\sigma + 0.5\rfloor` frames,
   normalised, ``reflect`` borders).
3. Derivative DTW (Keogh & Pazzani 2001): with :math:`\dot o_t = o_t - o_{t-1}` and
   :math:`\dot o_1 = 0`, cost :math:`c_{ij} = \lvert \dot o^{gt}_i - \dot o^{pred}_j\rvert`,
   :math:`D_{ij} = c_{ij} + \min(D_{i-1,j}, D_{i,j-1}, D_{i-1,j-1})`, :math:`D_{00} = 0`, borders
   :math:`\infty`; the path is traced back from :math:`(T_{gt}, T_{pred})` preferring the diagonal,
   then :math:`i-1`, then :math:`j-1` on ties, until one index reaches 0.
4. Extrema of each smoothed curve: local maxima and minima (SciPy ``find_peaks`` semantics: strict
   neighbours, the middle of a plateau, never the first or last frame).
5. A path pair :math:`(i, j)` is a match when :math:`i` is a GT extremum and :math:`j` a predicted
   extremum of the same kind (max/max or min/min) and :math:`j` lies between the GT extrema next to
   :math:`i` (inclusive; frame 0 / the last frame where there is none). Its offset is
   :math:`\lvert i - j\rvert` frames.
6. Per sequence, MTM is the **mean absolute offset** over its matches; sequences without any match are
   left out (and counted); over a test set, the mean over sequences. The reference reports frames
   and converts to ms; here the value is in **milliseconds**: frames × 1000 / fps.

The sign of the offset (lead or lag) is not kept, as in the reference. Lower is better; 0 means every
matched opening/closing extremum happens on the same frame. Unit: ms, reported ×1. Not
differentiable. The GT must be at the animation rate (VOCASET: the loader's ``gt[::2]``, which the
reference script applies itself).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .lip_opening import _check_axis, lip_opening
from .protocols import LengthRule
from .vertex_core import MaskLike, StreamingMetric, align_lengths, as_vertices, mask_key

__all__ = [
    "TemporalMisalignment",
    "ddtw_path",
    "find_extrema",
    "gaussian_smooth",
    "mtm_sequence_offsets",
    "temporal_misalignment",
]


def gaussian_smooth(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """1-D Gaussian smoothing with half-sample symmetric (``reflect``) borders, as SciPy's
    ``gaussian_filter1d(x, sigma, mode="reflect", truncate=truncate)``; ``sigma = 0`` returns a copy."""
    x = np.asarray(x, dtype=np.float64)
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return x.copy()
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(x, radius, mode="symmetric")
    return np.convolve(padded, kernel, mode="valid")


def find_extrema(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of local maxima and minima of a 1-D signal (SciPy ``find_peaks`` without conditions).

    A maximum is a sample (or a plateau of equal samples, represented by its middle index, rounded
    down) whose left and right neighbours are both strictly lower; the first and last samples never
    qualify. Minima are the maxima of ``-x``.
    """
    x = np.asarray(x, dtype=np.float64)

    def maxima(s: np.ndarray) -> np.ndarray:
        out: list[int] = []
        n = len(s)
        i = 1
        while i < n - 1:
            if s[i - 1] < s[i]:
                k = i + 1
                while k < n - 1 and s[k] == s[i]:
                    k += 1
                if s[k] < s[i]:
                    out.append((i + k - 1) // 2)
                i = k
            else:
                i += 1
        return np.asarray(out, dtype=np.int64)

    return maxima(x), maxima(-x)


def ddtw_path(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Derivative-DTW warping path between 1-D signals ``x`` and ``y`` as ``(K, 2)`` index pairs.

    See step 3 of the module docstring. The cost matrix is filled one anti-diagonal at a time.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx = np.diff(x, prepend=x[0])
    dy = np.diff(y, prepend=y[0])
    n, m = len(dx), len(dy)
    cost = np.abs(dx[:, None] - dy[None, :])
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j], acc[i, j - 1]), acc[i - 1, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    path: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        if step == 0:
            i, j = i - 1, j - 1
        elif step == 1:
            i -= 1
        else:
            j -= 1
    path.reverse()
    return np.asarray(path, dtype=np.int64).reshape(-1, 2)


def _matched_offsets(gt_curve: np.ndarray, pred_curve: np.ndarray, sigma: float) -> np.ndarray:
    g = gaussian_smooth(gt_curve, sigma)
    p = gaussian_smooth(pred_curve, sigma)
    path = ddtw_path(g, p)
    gmax, gmin = find_extrema(g)
    pmax, pmin = find_extrema(p)
    kind_gt = {int(k): 1 for k in gmax} | {int(k): -1 for k in gmin}
    kind_pred = {int(k): 1 for k in pmax} | {int(k): -1 for k in pmin}
    order = sorted(kind_gt)
    pos = {k: n for n, k in enumerate(order)}
    offsets: list[int] = []
    for i, j in path.tolist():
        if i in kind_gt and kind_gt[i] == kind_pred.get(j):
            n = pos[i]
            left = order[n - 1] if n > 0 else 0
            right = order[n + 1] if n + 1 < len(order) else len(g) - 1
            if left <= j <= right:
                offsets.append(abs(i - j))
    return np.asarray(offsets, dtype=np.int64)


def mtm_sequence_offsets(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    axis: int | None = None,
    sigma: float = 2.0,
    length_rule: LengthRule = "error",
) -> list[np.ndarray]:
    """Matched extremum offsets in **frames**, one int array per sequence of the batch (may be empty).

    Args:
        pred, gt: one sequence ``(T, V, 3)`` or a batch ``(B, T, V, 3)``; at least 3 frames.
        upper_lip, lower_lip: vertex ids of the upper and lower lip.
        axis: ``None`` (Euclidean centroid distance) or the coordinate axis of the opening.
        sigma: Gaussian smoothing width in frames (reference: 2).
        length_rule: see :func:`~facial_metrics.vertex_core.align_lengths`.
    """
    _check_axis(axis)
    p, g = align_lengths(as_vertices(pred, "pred"), as_vertices(gt, "gt"), length_rule)
    if p.shape[1] < 3:
        raise ValueError(
            f"MTM needs at least 3 frames per sequence (an extremum needs two neighbours), got {p.shape[1]}"
        )
    op = lip_opening(p, upper_lip, lower_lip, axis, "pred").detach().cpu().numpy()
    og = lip_opening(g, upper_lip, lower_lip, axis, "gt").detach().cpu().numpy()
    return [_matched_offsets(og[b], op[b], sigma) for b in range(op.shape[0])]


def _check_fps(fps: float) -> float:
    if not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def temporal_misalignment(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    fps: float,
    axis: int | None = None,
    sigma: float = 2.0,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """MTM in milliseconds over the batch's sequences (float64 scalar); see the module docstring.

    Sequences without a matched extremum are left out; ``ValueError`` if no sequence has one.
    """
    fps = _check_fps(fps)
    offsets = mtm_sequence_offsets(pred, gt, upper_lip, lower_lip, axis, sigma, length_rule)
    per_seq = [o.mean() for o in offsets if o.size]
    if not per_seq:
        raise ValueError("MTM: no sequence has a matched lip-opening extremum; the offset is undefined")
    return torch.tensor(float(np.mean(per_seq)) * 1000.0 / fps, dtype=torch.float64)


class TemporalMisalignment(StreamingMetric):
    """Streaming MTM (a :class:`torchmetrics.Metric`, not differentiable).

    State (float64 scalars, ``dist_reduce_fx="sum"``): ``offset_sum_ms`` the sum of per-sequence mean
    offsets in ms, ``num_sequences`` the sequences with at least one match, ``num_unmatched`` those
    without (left out of the mean, kept for reporting). ``update(pred, gt)`` takes whole sequences.
    """

    higher_is_better = False
    is_differentiable = False
    unit = "ms"
    report_key = "mtm"
    state_names = ("offset_sum_ms", "num_unmatched", "num_sequences")

    def __init__(
        self,
        upper_lip: MaskLike,
        lower_lip: MaskLike,
        fps: float,
        axis: int | None = None,
        sigma: float = 2.0,
        length_rule: LengthRule = "error",
        **kwargs: Any,
    ) -> None:
        _check_axis(axis)
        fps = _check_fps(fps)
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        super().__init__(**kwargs)
        self.upper_lip = upper_lip
        self.lower_lip = lower_lip
        self.fps = fps
        self.axis = axis
        self.sigma = float(sigma)
        self.length_rule: LengthRule = length_rule

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.upper_lip), mask_key(self.lower_lip), self.fps, self.axis, self.sigma,
                self.length_rule)

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray) -> None:
        """Add the mean offsets of whole sequences ``pred`` vs ``gt``."""
        offs = mtm_sequence_offsets(pred, gt, self.upper_lip, self.lower_lip, self.axis, self.sigma,
                                    self.length_rule)
        matched = [float(o.mean()) * 1000.0 / self.fps for o in offs if o.size]
        self._add("offset_sum_ms", float(sum(matched)))
        self._add("num_sequences", float(len(matched)))
        self._add("num_unmatched", float(len(offs) - len(matched)))

    def compute(self) -> torch.Tensor:
        """Mean over matched sequences in ms (float64 scalar); ``RuntimeError`` if there is none."""
        if float(self.num_sequences) == 0:
            raise RuntimeError(
                "TemporalMisalignment.compute(): no sequence with a matched lip-opening extremum "
                f"(update() called {self._update_count} time(s), {int(self.num_unmatched)} unmatched)"
            )
        return self.offset_sum_ms / self.num_sequences
