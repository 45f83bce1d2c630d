r"""Per-frame lip opening, the signal shared by the lip-sync metrics (MTM, SLCC, LOC).

For a frame :math:`x_t` (vertices ``(V, 3)``), an upper-lip vertex set :math:`U` and a lower-lip vertex
set :math:`L` (index arrays on any topology), with the centroids
:math:`\bar u_t = \frac1{|U|}\sum_{v\in U} x_{t,v}` and :math:`\bar l_t = \frac1{|L|}\sum_{v\in L} x_{t,v}`:

.. math:: o_t = \lVert \bar u_t - \bar l_t \rVert_2 \qquad (\texttt{axis=None}, \text{default})

.. math:: o_t = \lvert \bar u_{t,a} - \bar l_{t,a} \rvert \qquad (\texttt{axis}=a \in \{0, 1, 2\})

With one vertex per set this is the inter-lip distance of the MTM reference code (Chae-Yeon et al.,
CVPR 2025, ``evaluation/evaluate_MTM.py``: FLAME upper-lip vertex 3531, lower-lip vertex 3504).
Centroids of larger sets (e.g. the inner-lip contour rows) make it robust to a single noisy vertex;
``axis`` restricts it to the vertical coordinate (1 for FLAME / VOCASET and the synthetic face, whose
y axis points up) so that lip protrusion does not count as opening. Unit: input units.
"""

from __future__ import annotations

import numpy as np
import torch

from .vertex_core import MaskLike, as_vertices, resolve_indices

__all__ = ["lip_opening", "pearson_r"]


def _check_axis(axis: int | None) -> None:
    if axis is not None and axis not in (0, 1, 2):
        raise ValueError(f"axis must be None (Euclidean distance) or one of 0, 1, 2, got {axis!r}")


def lip_opening(
    vertices: torch.Tensor | np.ndarray,
    upper_lip: MaskLike,
    lower_lip: MaskLike,
    axis: int | None = None,
    name: str = "vertices",
) -> torch.Tensor:
    """Per-frame lip opening ``o_t`` of shape ``(B, T)`` (float64); see the module docstring.

    Args:
        vertices: ``(T, V, 3)`` or ``(B, T, V, 3)``.
        upper_lip, lower_lip: vertex ids of the two lip sets (a
            :class:`~facial_metrics.masks.RegionMask` or an integer sequence; checked against ``V``).
        axis: ``None`` for the Euclidean distance of the centroids, or the coordinate axis to use.
        name: argument name used in error messages.
    """
    _check_axis(axis)
    if upper_lip is None or lower_lip is None:
        raise ValueError("upper_lip and lower_lip must both be vertex sets, got None")
    x = as_vertices(vertices, name)
    up = resolve_indices(upper_lip, x.shape[2], x.device)
    lo = resolve_indices(lower_lip, x.shape[2], x.device)
    if up is None or lo is None:  # unreachable after the None check; keeps type checkers informed
        raise ValueError("upper_lip and lower_lip must both be vertex sets")
    d = x.index_select(2, up).to(torch.float64).mean(2) - x.index_select(2, lo).to(torch.float64).mean(2)
    if axis is None:
        return d.pow(2).sum(-1).sqrt()
    return d[..., axis].abs()


def _is_constant(x: torch.Tensor) -> torch.Tensor:
    """Per row of ``(..., T)``: population std ``<= 1e-12 * max|x|`` (a constant signal up to rounding)."""
    scale = x.abs().amax(-1).clamp_min(torch.finfo(torch.float64).tiny)
    return x.std(-1, unbiased=False) <= 1e-12 * scale


def pearson_r(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Pearson correlation along the last axis, in float64 (rows must not be constant).

    .. math:: r = \frac{\sum_t (x_t-\bar x)(y_t-\bar y)}
                       {\sqrt{\sum_t (x_t-\bar x)^2}\,\sqrt{\sum_t (y_t-\bar y)^2}}

    Callers check for constant rows first (:func:`_is_constant`); the result is clamped to [-1, 1].
    """
    x = x.to(torch.float64)
    y = y.to(torch.float64)
    xc = x - x.mean(-1, keepdim=True)
    yc = y - y.mean(-1, keepdim=True)
    r = (xc * yc).sum(-1) / (xc.pow(2).sum(-1).sqrt() * yc.pow(2).sum(-1).sqrt())
    return r.clamp(-1.0, 1.0)
