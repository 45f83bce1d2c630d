r"""Lip-opening correlation (LOC): does the predicted mouth open and close when the real one does?

For one sequence with per-frame lip openings :math:`o_t(\hat y)` and :math:`o_t(y)`
(:func:`~facial_metrics.lip_opening.lip_opening`: distance between the upper- and lower-lip
centroids, or its component along ``axis``), :math:`t = 1..T`:

.. math:: r_s = \frac{\sum_t (\hat o_t-\bar{\hat o})(o_t-\bar o)}
                     {\sqrt{\sum_t (\hat o_t-\bar{\hat o})^2}\sqrt{\sum_t (o_t-\bar o)^2}}
          \qquad \mathrm{LOC} = \frac1S \sum_s r_s

the Pearson correlation over frames, averaged over the :math:`S` sequences (sequence-weighted).
This project's metric, in the spirit of the lip-opening curves compared by MTM (Chae-Yeon et al.,
CVPR 2025) and of the correlation measures of audio-visual speech research; unlike LVE it ignores
the scale and offset of the opening and scores only its time course. Unit: correlation in [-1, 1],
reported ×1. Higher is better (1: the opening is an affine, increasing function of the GT's).

Degenerate inputs: fewer than 2 frames, or a ground truth whose opening is constant
(population std ≤ 1e-12 × its largest value), raise ``ValueError`` (the correlation is undefined); a
**prediction** whose opening is constant (a frozen mouth) scores :math:`r_s = 0` (no linear
relation), so a bad model is scored rather than crashing the evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .lip_opening import _check_axis, _is_constant, lip_opening, pearson_r
from .protocols import LengthRule
from .vertex_core import MaskLike, StreamingMetric, align_lengths, as_vertices, mask_key

__all__ = ["LipOpeningCorrelation", "lip_opening_correlation", "loc_sequence_correlations"]


def loc_sequence_correlations(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    axis: int | None = None,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """Per-sequence correlations ``r_s`` of shape ``(B,)`` (float64); see the module docstring.

    Args:
        pred, gt: one sequence ``(T, V, 3)`` or a batch ``(B, T, V, 3)``.
        upper_lip, lower_lip: vertex ids of the upper and lower lip.
        axis: ``None`` (Euclidean centroid distance) or the coordinate axis of the opening.
        length_rule: see :func:`~facial_metrics.vertex_core.align_lengths`.
    """
    _check_axis(axis)
    p, g = align_lengths(as_vertices(pred, "pred"), as_vertices(gt, "gt"), length_rule)
    if p.shape[1] < 2:
        raise ValueError(f"LOC needs at least 2 frames per sequence, got {p.shape[1]}")
    op = lip_opening(p, upper_lip, lower_lip, axis, "pred")
    og = lip_opening(g, upper_lip, lower_lip, axis, "gt").to(op.device)
    flat_gt = _is_constant(og)
    if bool(flat_gt.any()):
        bad = flat_gt.nonzero().flatten().tolist()
        raise ValueError(
            f"gt: the lip opening is constant over time in batch item(s) {bad}; "
            "its correlation with the prediction is undefined"
        )
    flat_pred = _is_constant(op)
    r = pearson_r(op, og)
    return torch.where(flat_pred, torch.zeros_like(r), r)


def lip_opening_correlation(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    axis: int | None = None,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """LOC: mean over the batch's sequences of the per-sequence correlation (float64 scalar)."""
    return loc_sequence_correlations(pred, gt, upper_lip, lower_lip, axis, length_rule).mean()


class LipOpeningCorrelation(StreamingMetric):
    """Streaming LOC (a :class:`torchmetrics.Metric`): state = sum of per-sequence correlations and the
    sequence count (two float64 scalars, ``dist_reduce_fx="sum"``).

    ``update(pred, gt)`` takes one whole sequence ``(T, V, 3)`` or a batch ``(B, T, V, 3)``;
    ``compute()`` equals :func:`lip_opening_correlation` over all sequences seen.
    """

    higher_is_better = True
    is_differentiable = True
    unit = "correlation"
    report_key = "loc"
    state_names = ("correlation_sum", "num_sequences")

    def __init__(
        self,
        upper_lip: MaskLike,
        lower_lip: MaskLike,
        axis: int | None = None,
        length_rule: LengthRule = "error",
        **kwargs: Any,
    ) -> None:
        _check_axis(axis)
        super().__init__(**kwargs)
        self.upper_lip = upper_lip
        self.lower_lip = lower_lip
        self.axis = axis
        self.length_rule: LengthRule = length_rule

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.upper_lip), mask_key(self.lower_lip), self.axis, self.length_rule)

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray) -> None:
        """Add the correlations of whole sequences ``pred`` vs ``gt``."""
        r = loc_sequence_correlations(pred, gt, self.upper_lip, self.lower_lip, self.axis, self.length_rule)
        self._add("correlation_sum", r.sum())
        self._add("num_sequences", float(r.numel()))

    def compute(self) -> torch.Tensor:
        """Mean correlation over sequences (float64 scalar); ``RuntimeError`` before any update."""
        if float(self.num_sequences) == 0:
            raise RuntimeError("LipOpeningCorrelation.compute() called before any update()")
        return self.correlation_sum / self.num_sequences
