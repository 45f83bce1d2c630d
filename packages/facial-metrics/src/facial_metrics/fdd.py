r"""Upper-face dynamics deviation (FDD): how much less (or more) the upper face moves than in the GT.

For one sequence with subject template :math:`\tau`, upper-face vertex set :math:`U` and frames
:math:`t = 1..T`, the motion energy of vertex :math:`v` is :math:`s_{t,v} = \lVert x_{t,v} - \tau_v
\rVert_2^2` (**squared** norm of the displacement from the template) and

.. math:: \mathrm{dyn}(x) = \frac{1}{|U|}\sum_{v\in U} \operatorname{std}_t\bigl(s_{t,v}\bigr)

with the population standard deviation over time (ddof = 0, NumPy's default). Over :math:`S` sequences:

* ``"codetalker"`` (default; CodeTalker ``main/cal_metric.py``, SelfTalk, torchmetrics FDD proposal):

  .. math:: \mathrm{FDD} = \frac{1}{S}\sum_{s}\bigl[\mathrm{dyn}(y_s) - \mathrm{dyn}(\hat y_s)\bigr]

  **signed**, GT minus prediction: positive means the prediction damps upper-face motion, negative
  means it exaggerates it; sequence-weighted, not frame-weighted.
* ``"abs"``: :math:`\frac{1}{S}\sum_s \lvert\mathrm{dyn}(y_s) - \mathrm{dyn}(\hat y_s)\rvert`, so that
  over- and under-damped sequences do not cancel (FaceDiffuser prints an absolute FDD; whether it takes
  the absolute value per sequence or of the mean is not documented).

The paper text of CodeTalker describes an L2 norm; its code uses the square, as here. Unit: squared
input units. Report scale: ×10⁻⁵ on BIWI, ×10⁻⁷ on VOCASET and the synthetic corpus. Lower is better
for ``"abs"``; for the signed variant the published tables also mark "lower is better", although 0 is
the ideal.

Streaming: a sequence may arrive in chunks (``end_of_sequence=False``); per upper-face vertex the
running count, sum and sum of squares of :math:`s_{t,v}` (shifted by the sequence's first frame for
numerical stability) are kept, so memory does not grow with the number of frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from .protocols import LengthRule
from .vertex_core import (
    MaskLike,
    StreamingMetric,
    align_lengths,
    as_template,
    as_vertices,
    mask_key,
    resolve_indices,
)

__all__ = [
    "FDD_VARIANTS",
    "FddVariant",
    "UpperFaceDynamicsDeviation",
    "fdd_sequence_deviation",
    "upper_face_dynamics_deviation",
]

FddVariant = Literal["codetalker", "abs"]
FDD_VARIANTS: tuple[str, ...] = ("codetalker", "abs")


def _check_variant(variant: str) -> None:
    if variant not in FDD_VARIANTS:
        raise ValueError(f"FDD variant must be one of {FDD_VARIANTS}, got {variant!r}")


@dataclass
class _Moments:
    """Shifted running moments of the motion energy of one open sequence, per (batch item, vertex)."""

    shift: torch.Tensor  # (B, U) first frame's values
    s1: torch.Tensor  # (B, U) sum of shifted values
    s2: torch.Tensor  # (B, U) sum of squared shifted values
    n: int

    @classmethod
    def start(cls, energy: torch.Tensor) -> _Moments:
        shift = energy[:, 0].detach()
        zeros = torch.zeros_like(shift)
        return cls(shift, zeros, zeros.clone(), 0)

    def add(self, energy: torch.Tensor) -> None:
        d = energy - self.shift.unsqueeze(1)
        self.s1 = self.s1 + d.sum(1)
        self.s2 = self.s2 + d.pow(2).sum(1)
        self.n += energy.shape[1]

    def dynamics(self) -> torch.Tensor:
        """``dyn`` per batch item ``(B,)``: mean over vertices of the temporal population std."""
        mean = self.s1 / self.n
        var = (self.s2 / self.n - mean.pow(2)).clamp_min(0.0)
        return var.sqrt().mean(-1)

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.shift, self.s1, self.s2))


def _motion_energy(x: torch.Tensor, template: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``s_{t,v} = ||x_{t,v} - template_v||^2`` over ``idx``, shape ``(B, T, U)``, returned in float64.

    The displacement is formed in the input precision; moments are accumulated in float64.
    """
    d = x.index_select(2, idx) - template.index_select(2, idx).to(x.dtype)
    return d.pow(2).sum(-1).to(torch.float64)


def _prepare(pred, gt, template, mask, length_rule):  # type: ignore[no-untyped-def]
    p, g = align_lengths(as_vertices(pred, "pred"), as_vertices(gt, "gt"), length_rule)
    tpl = as_template(template, "template", p.shape[0], p.shape[2]).to(p.device)
    idx = resolve_indices(mask, p.shape[2], p.device)
    return _motion_energy(g, tpl, idx), _motion_energy(p, tpl, idx)


def fdd_sequence_deviation(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    template: torch.Tensor | np.ndarray,
    mask: MaskLike,
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """Signed per-sequence term ``dyn(gt) - dyn(pred)``, shape ``(B,)`` (float64).

    Args:
        pred, gt: one whole sequence ``(T, V, 3)`` or a batch ``(B, T, V, 3)``.
        template: the subject's neutral mesh, ``(V, 3)`` or ``(B, V, 3)``.
        mask: upper-face vertex ids.
        length_rule: see :func:`~facial_metrics.vertex_core.align_lengths`.
    """
    e_gt, e_pred = _prepare(pred, gt, template, mask, length_rule)
    m_gt, m_pred = _Moments.start(e_gt), _Moments.start(e_pred)
    m_gt.add(e_gt)
    m_pred.add(e_pred)
    return m_gt.dynamics() - m_pred.dynamics()


def upper_face_dynamics_deviation(
    pred: torch.Tensor | np.ndarray,
    gt: torch.Tensor | np.ndarray,
    template: torch.Tensor | np.ndarray,
    mask: MaskLike,
    variant: FddVariant = "codetalker",
    length_rule: LengthRule = "error",
) -> torch.Tensor:
    """FDD over the sequences of a batch (each batch item is one whole sequence); float64 scalar.

    See the module docstring for the formula of each ``variant``.
    """
    _check_variant(variant)
    dev = fdd_sequence_deviation(pred, gt, template, mask, length_rule)
    if variant == "abs":
        dev = dev.abs()
    return dev.mean()


class UpperFaceDynamicsDeviation(StreamingMetric):
    """Streaming FDD (a :class:`torchmetrics.Metric`): state = sum of per-sequence terms and sequence
    count (two float64 scalars, ``dist_reduce_fx="sum"``).

    ``update(pred, gt, template)`` takes whole sequences by default. For a long sequence, pass its
    consecutive chunks with ``end_of_sequence=False`` and the last one with ``end_of_sequence=True``;
    the open sequence holds only per-vertex running moments (size ``B × |U|``, independent of the
    number of frames) in a plain attribute that torchmetrics never synchronises. :meth:`compute` and
    :meth:`merge` refuse to run while a sequence is open, and :meth:`forward` takes whole sequences only.
    """

    higher_is_better = False
    is_differentiable = True
    unit = "input unit²"
    report_key = "fdd"
    state_names = ("deviation_sum", "num_sequences")

    def __init__(
        self,
        mask: MaskLike,
        variant: FddVariant = "codetalker",
        length_rule: LengthRule = "error",
        **kwargs: Any,
    ) -> None:
        _check_variant(variant)
        super().__init__(**kwargs)
        self.mask = mask
        self.variant: FddVariant = variant
        self.length_rule: LengthRule = length_rule
        #: running moments of the open sequence: a plain attribute, not a torchmetrics state, so it is
        #: never synchronised across processes; compute / merge / forward refuse to run while it is set
        self._open: tuple[_Moments, _Moments] | None = None

    def _settings(self) -> tuple[object, ...]:
        return (mask_key(self.mask), self.variant, self.length_rule)

    def reset(self) -> None:
        """Zero the sums and drop an open sequence."""
        super().reset()
        self._open = None

    def forward(
        self,
        pred: torch.Tensor | np.ndarray,
        gt: torch.Tensor | np.ndarray,
        template: torch.Tensor | np.ndarray,
        end_of_sequence: bool = True,
    ) -> torch.Tensor:
        """FDD of this batch of whole sequences, also added to the global state (torchmetrics ``forward``).

        ``forward`` resets the metric around the batch, which would drop an open sequence, so it takes
        whole sequences only: ``RuntimeError`` with ``end_of_sequence=False`` or while a sequence opened
        by :meth:`update` is still open.
        """
        if not end_of_sequence or self._open is not None:
            raise RuntimeError(
                "UpperFaceDynamicsDeviation.forward takes whole sequences only; feed chunks of a long "
                "sequence with update(..., end_of_sequence=False) and close it before calling forward"
            )
        return super().forward(pred, gt, template)

    def update(
        self,
        pred: torch.Tensor | np.ndarray,
        gt: torch.Tensor | np.ndarray,
        template: torch.Tensor | np.ndarray,
        end_of_sequence: bool = True,
    ) -> None:
        e_gt, e_pred = _prepare(pred, gt, template, self.mask, self.length_rule)
        if self._open is None:
            self._open = (_Moments.start(e_gt), _Moments.start(e_pred))
        m_gt, m_pred = self._open
        if m_gt.shift.shape != e_gt[:, 0].shape:
            raise ValueError(
                f"chunk of an open sequence has batch/vertex shape {tuple(e_gt[:, 0].shape)}, "
                f"expected {tuple(m_gt.shift.shape)} as in its first chunk"
            )
        m_gt.add(e_gt)
        m_pred.add(e_pred)
        if not end_of_sequence:
            return
        dev = m_gt.dynamics() - m_pred.dynamics()
        if self.variant == "abs":
            dev = dev.abs()
        self._open = None
        self._add("deviation_sum", dev.sum())
        self._add("num_sequences", float(dev.numel()))

    def state_nbytes(self) -> int:
        """Bytes of the state, including the running moments of an open sequence."""
        extra = 0 if self._open is None else sum(m.nbytes() for m in self._open)
        return super().state_nbytes() + extra

    def merge(self, other: StreamingMetric) -> None:
        """Add another FDD's state; ``RuntimeError`` while either has an open sequence."""
        if self._open is not None or getattr(other, "_open", None) is not None:
            raise RuntimeError("cannot merge FDD states while a sequence is open (end_of_sequence=False)")
        super().merge(other)

    def compute(self) -> torch.Tensor:
        """Mean over sequences (float64 scalar); ``RuntimeError`` while a sequence is open."""
        if self._open is not None:
            raise RuntimeError("an FDD sequence is still open: pass end_of_sequence=True with its last chunk")
        if float(self.num_sequences) == 0:
            raise RuntimeError("UpperFaceDynamicsDeviation.compute() called before any update()")
        return self.deviation_sum / self.num_sequences
