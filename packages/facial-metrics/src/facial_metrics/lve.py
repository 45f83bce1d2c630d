r"""Lip vertex error (LVE): the largest lip-region error per frame, averaged over frames.

Variants (``variant=``), with :math:`y_{t,v}` the ground truth and :math:`\hat y_{t,v}` the prediction
of lip vertex :math:`v \in L` in frame :math:`t`, and :math:`N` the number of frames pooled over all
sequences seen:

* ``"max_sq"`` (default; FaceFormer / CodeTalker ``main/cal_metric.py``, MeshTalk convention, and
  torchmetrics ``lip_vertex_error``):

  .. math:: \mathrm{LVE} = \frac{1}{N}\sum_t \max_{v\in L} \lVert \hat y_{t,v} - y_{t,v} \rVert_2^2

  squared distance, **no square root**; frames pooled (a long sequence weighs more than a short one).
* ``"max_l2"``: the same with the true L2 distance, :math:`\frac1N\sum_t \max_v \lVert\cdot\rVert_2`
  (UniTalker's "L2norm" column).
* ``"mean_l2"``: mean instead of max over the lip vertices,
  :math:`\frac1N\sum_t \frac1{|L|}\sum_v \lVert\cdot\rVert_2`.

Unit: squared input units for ``max_sq`` (m² on FLAME / VOCASET, normalised-unit² on BIWI), input
units otherwise. Report scale (``max_sq``): ×10⁻⁴ on BIWI, ×10⁻⁵ on VOCASET and the synthetic corpus
(``baselines.md`` §5). Lower is better.

The numbers depend on the lip vertex set: results record ``mask.id`` and ``mask.sha256``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch

from .protocols import LengthRule
from .vertex_core import MaskLike, StreamingMetric, align_lengths, as_vertices, mask_key, resolve_indices

__all__ = ["LVE_VARIANTS", "LipVertexError", "LveVariant", "lip_vertex_error", "lve_frame_errors"]

LveVariant = Literal["max_sq", "max_l2", "mean_l2"]
LVE_VARIANTS: tuple[str, ...] = ("max_sq", "max_l2", "mean_l2")


def _check_variant(variant: str) -> None:
    if variant not in LVE_VARIANTS:
        raise ValueError(f"LVE variant must be one of {LVE_VARIANTS}, got {variant!r}")


def lve_frame_errors(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    mask: MaskLike,
    variant: LveVariant = "max_sq",
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """Per-frame LVE terms ``e_t`` of shape ``(B, T)`` (the core shared by the function and class).

    Args:
        pred, gt: vertices ``(T, V, 3)`` or ``(B, T, V, 3)``.
        mask: lip vertex ids (a :class:`~facial_metrics.masks.RegionMask`, checked against ``V``).
        variant: see the module docstring.
        length_rule: how to resolve unequal lengths, see
            :func:`~facial_metrics.vertex_core.align_lengths`.
    """
    _check_variant(variant)
    p, g = align_lengths(as_vertices(pred, "pred"), as_vertices(gt, "gt"), length_rule)
    idx = resolve_indices(mask, p.shape[2], p.device)
    if g.device != p.device:
        raise ValueError(f"pred is on {p.device} but gt is on {g.device}")
    diff = p.index_select(2, idx) - g.index_select(2, idx)
    sq = diff.pow(2).sum(-1)  # (B, T, M)
    if variant == "max_sq":
        return sq.amax(-1)
    if variant == "max_l2":
        return sq.amax(-1).sqrt()
    return sq.sqrt().mean(-1)


def lip_vertex_error(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    mask: MaskLike,
    variant: LveVariant = "max_sq",
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """LVE of one sequence or a batch of equally long sequences, frames pooled (float64 scalar).

    See the module docstring for the formula of each ``variant``; arguments as in
    :func:`lve_frame_errors`. Differentiable with respect to ``pred``.
    """
    e = lve_frame_errors(pred, gt, mask, variant, length_rule)
    return e.to(torch.float64).sum() / e.numel()


class LipVertexError(StreamingMetric):
    """Streaming LVE (a :class:`torchmetrics.Metric`): state = sum of per-frame terms and frame count
    (two float64 scalars, ``dist_reduce_fx="sum"``).

    ``update(pred, gt)`` takes one sequence ``(T, V, 3)`` or a batch ``(B, T, V, 3)``; ``compute()``
    gives the frame-pooled mean over everything seen since ``reset()``, equal to
    :func:`lip_vertex_error` on the concatenation of all frames.
    """

    higher_is_better = False
    is_differentiable = True
    unit = "input unit² (max_sq) / input unit (max_l2, mean_l2)"
    report_key = "lve"
    state_names = ("error_sum", "num_frames")

    def __init__(
        self,
        mask: MaskLike,
        variant: LveVariant = "max_sq",
        length_rule: LengthRule = "error",
        **kwargs: Any,
    ) -> None:
        _check_variant(variant)
        super().__init__(**kwargs)
        self.mask = mask
        self.variant: LveVariant = variant
        self.length_rule: LengthRule = length_rule

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.mask), self.variant, self.length_rule)

    def update(self, pred: torch.Tensor | np.ndarray, gt: torch.Tensor | np.ndarray) -> None:
        """Add the per-frame terms of ``pred`` vs ``gt`` (``(T, V, 3)`` or ``(B, T, V, 3)``)."""
        e = lve_frame_errors(pred, gt, self.mask, self.variant, self.length_rule)
        self._add("error_sum", e.to(torch.float64).sum())
        self._add("num_frames", float(e.numel()))

    def compute(self) -> torch.Tensor:
        """Frame-pooled mean (float64 scalar); ``RuntimeError`` before any update."""
        if float(self.num_frames) == 0:
            raise RuntimeError("LipVertexError.compute() called before any update()")
        return self.error_sum / self.num_frames
