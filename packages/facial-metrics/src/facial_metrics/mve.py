r"""Mean vertex error (MVE): mean L2 distance over all vertices and frames.

.. math:: \mathrm{MVE} = \frac{1}{N}\sum_t \frac{1}{|R|}\sum_{v\in R} \lVert \hat y_{t,v} - y_{t,v} \rVert_2

with :math:`R` all vertices (or a region, if a mask is given) and frames pooled over all sequences.
Source: FaceDiffuser ``evaluation/compute_objective_metrics.py`` and ScanTalk ``src/compute_metrics.py``
(true L2, not squared; not part of FaceFormer / CodeTalker). Unit: input units (m on VOCASET).
Report scale: ×10⁻³ (mm for metre data) by this project's convention; no published one exists.
Lower is better.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .protocols import LengthRule
from .vertex_core import MaskLike, StreamingMetric, align_lengths, as_vertices, mask_key, resolve_indices

__all__ = ["MeanVertexError", "mean_vertex_error", "mve_frame_errors"]


def mve_frame_errors(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    mask: MaskLike | None = None,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """Per-frame mean L2 error ``(B, T)`` over ``mask`` (all vertices when ``None``)."""
    p, g = align_lengths(as_vertices(pred, "pred"), as_vertices(gt, "gt"), length_rule)
    idx = resolve_indices(mask, p.shape[2], p.device)
    if idx is not None:
        p, g = p.index_select(2, idx), g.index_select(2, idx)
    return (p - g).pow(2).sum(-1).sqrt().mean(-1)


def mean_vertex_error(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    mask: MaskLike | None = None,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """MVE of one sequence or a batch (float64 scalar); see the module docstring."""
    e = mve_frame_errors(pred, gt, mask, length_rule)
    return e.to(torch.float64).sum() / e.numel()


class MeanVertexError(StreamingMetric):
    """Streaming MVE (a :class:`torchmetrics.Metric`): state = sum of per-frame mean errors and frame
    count (two float64 scalars, ``dist_reduce_fx="sum"``)."""

    higher_is_better = False
    is_differentiable = True
    unit = "input unit"
    report_key = "mve"
    state_names = ("error_sum", "num_frames")

    def __init__(
        self, mask: MaskLike | None = None, length_rule: LengthRule = "error", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mask = mask
        self.length_rule: LengthRule = length_rule

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.mask), self.length_rule)

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray) -> None:
        """Add the per-frame mean errors of ``pred`` vs ``gt`` (``(T, V, 3)`` or ``(B, T, V, 3)``)."""
        e = mve_frame_errors(pred, gt, self.mask, self.length_rule)
        self._add("error_sum", e.to(torch.float64).sum())
        self._add("num_frames", float(e.numel()))

    def compute(self) -> torch.Tensor:
        """Frame-pooled mean (float64 scalar); ``RuntimeError`` before any update."""
        if float(self.num_frames) == 0:
            raise RuntimeError("MeanVertexError.compute() called before any update()")
        return self.error_sum / self.num_frames
