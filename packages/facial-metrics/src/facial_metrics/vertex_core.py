"""Shared plumbing of the vertex metrics: input validation, length alignment, mask resolution and
the streaming-metric base class (a :class:`torchmetrics.Metric`) with sum-reducible state.

Shapes follow the project convention: vertices are ``(T, V, 3)`` for one sequence or ``(B, T, V, 3)``
for a batch of equally long sequences, in the dataset's native units. NumPy arrays are accepted and
converted with :func:`torch.as_tensor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torchmetrics import Metric

from .masks import RegionMask
from .protocols import LengthRule, Protocol, get_protocol

__all__ = [
    "LengthRule",
    "StreamingMetric",
    "align_lengths",
    "as_template",
    "as_vertices",
    "mask_key",
    "resolve_indices",
]

_LENGTH_RULES = ("error", "truncate_to_gt", "truncate_to_shorter")

MaskLike = RegionMask | Sequence[int] | np.ndarray | torch.Tensor


def as_vertices(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """Validate a vertex array and return it as a 4-D floating tensor ``(B, T, V, 3)``.

    Raises ``TypeError`` / ``ValueError`` naming ``name`` for a wrong type, rank, last dimension,
    empty time axis, or non-finite values.
    """
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy array, got {type(x).__name__}")
    t = torch.as_tensor(x)
    if not torch.is_floating_point(t):
        raise TypeError(f"{name}: expected floating-point vertices, got dtype {t.dtype}")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or t.shape[-1] != 3:
        shape = tuple(torch.as_tensor(x).shape)
        raise ValueError(f"{name}: expected shape (T, V, 3) or (B, T, V, 3), got {shape}")
    if t.shape[0] == 0 or t.shape[1] == 0 or t.shape[2] == 0:
        raise ValueError(f"{name}: empty batch, time or vertex axis in shape {tuple(t.shape)}")
    _check_finite(t, name)
    return t


def _check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``t`` holds NaN or Inf.

    One reduction is the fast path (NaN and Inf propagate through a sum); only when the sum is not
    finite is the element-wise test run, which also clears a sum that merely overflowed.
    """
    if bool(torch.isfinite(t.sum())):
        return
    bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise ValueError(f"{name}: contains {bad} NaN/Inf value(s)")


def as_template(x: torch.Tensor | np.ndarray, name: str, batch: int, num_vertices: int) -> torch.Tensor:
    """Validate a template ``(V, 3)`` or ``(B, V, 3)`` and return it as ``(B, 1, V, 3)``."""
    t = as_vertices(torch.as_tensor(x).unsqueeze(-3), name)  # (B?,1,V,3) checks dtype, finiteness
    if t.shape[0] == 1 and batch > 1:
        t = t.expand(batch, -1, -1, -1)
    if t.shape[0] != batch or t.shape[2] != num_vertices:
        raise ValueError(
            f"{name}: expected shape ({num_vertices}, 3) or ({batch}, {num_vertices}, 3), "
            f"got {tuple(torch.as_tensor(x).shape)}"
        )
    return t


def align_lengths(
    pred: torch.Tensor, gt: torch.Tensor, rule: LengthRule
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resolve a prediction / ground-truth length mismatch on the time axis (axis 1 of 4-D input).

    Rules (never silent; the caller picks one explicitly, protocols record theirs):

    * ``"error"``: lengths must be equal, otherwise ``ValueError``.
    * ``"truncate_to_gt"``: a longer prediction is cut to the GT length; a shorter one is an error
      (CodeTalker ``main/cal_metric.py``).
    * ``"truncate_to_shorter"``: both are cut to the shorter length (torchmetrics LVE, FaceDiffuser).

    Batch size and vertex count must match in every case.
    """
    if rule not in _LENGTH_RULES:
        raise ValueError(f"length_rule must be one of {_LENGTH_RULES}, got {rule!r}")
    if pred.shape[0] != gt.shape[0] or pred.shape[2:] != gt.shape[2:]:
        raise ValueError(
            "pred and gt must agree in batch size and vertex count: "
            f"pred {tuple(pred.shape)} vs gt {tuple(gt.shape)}"
        )
    tp, tg = pred.shape[1], gt.shape[1]
    if tp == tg:
        return pred, gt
    if rule == "error":
        raise ValueError(
            f"pred has {tp} frames but gt has {tg}; pass length_rule='truncate_to_gt' or "
            "'truncate_to_shorter' to truncate explicitly"
        )
    if rule == "truncate_to_gt":
        if tp < tg:
            raise ValueError(
                f"pred has {tp} frames, fewer than gt's {tg}; length_rule='truncate_to_gt' only cuts a "
                "longer prediction (use 'truncate_to_shorter' to cut the GT too)"
            )
        return pred[:, :tg], gt
    n = min(tp, tg)
    return pred[:, :n], gt[:, :n]


def resolve_indices(mask: MaskLike | None, num_vertices: int, device: torch.device) -> torch.Tensor | None:
    """Vertex ids of ``mask`` as a ``long`` tensor on ``device`` after range/topology checks.

    ``None`` means "all vertices" and is returned unchanged.
    """
    if mask is None:
        return None
    if isinstance(mask, RegionMask):
        mask.check(num_vertices)
        idx = torch.from_numpy(np.array(mask.indices))
    else:
        idx = torch.as_tensor(np.asarray(mask.cpu() if isinstance(mask, torch.Tensor) else mask))
        if idx.ndim != 1 or idx.numel() == 0:
            raise ValueError(
                f"mask: expected a non-empty 1-D sequence of vertex ids, got shape {tuple(idx.shape)}"
            )
        if idx.dtype.is_floating_point or idx.dtype == torch.bool:
            raise ValueError(f"mask: vertex ids must be integers, got dtype {idx.dtype}")
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num_vertices:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"mask: vertex index {bad} is out of range for meshes with {num_vertices} vertices"
            )
    return idx.to(device=device, dtype=torch.long)


def mask_key(mask: MaskLike | None) -> tuple[object, ...]:
    """Hashable identity of a mask argument (``id`` and hash for a :class:`RegionMask`)."""
    if mask is None:
        return ("all",)
    if isinstance(mask, RegionMask):
        return (mask.id, mask.sha256)
    arr = mask.cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    return tuple(arr.tolist())


class StreamingMetric(Metric):
    """Base of the streaming metrics: a :class:`torchmetrics.Metric` over sum-reducible float64 state.

    Every state named in :attr:`state_names` is declared with
    ``add_state(name, torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")``: a scalar whose size
    does not depend on how many frames or sequences were seen, so DDP synchronisation (an
    ``all_reduce(SUM)`` of each state, done by torchmetrics inside ``compute``),
    :class:`~torchmetrics.MetricCollection`, ``forward``, ``.to(device)`` and Lightning logging work
    unchanged. ``full_state_update = False``: ``forward`` runs ``update`` once on the batch and adds the
    batch state to the global one.

    Conveniences kept from the pre-torchmetrics base: :meth:`merge` (add another instance's state,
    refusing a different metric or different settings), :meth:`state` and :meth:`state_nbytes`.
    Keyword arguments of :class:`torchmetrics.Metric` (``dist_sync_on_step``, ``process_group``,
    ``sync_on_compute``, ...) are passed through by every subclass.

    States stay float64 under ``.half()`` / ``.float()`` / ``.double()`` (torchmetrics only converts
    them through :meth:`~torchmetrics.Metric.set_dtype`).

    Caveat: :class:`~torchmetrics.MetricCollection` with ``compute_groups=True`` (its default) merges
    metrics whose states have the same names and equal values after the first update, e.g. an LVE and
    an MVE on a first batch where the prediction equals the ground truth (both sums 0). Pass
    ``compute_groups=False`` when such a first batch is possible.
    """

    #: whether a larger value is better
    higher_is_better: ClassVar[bool | None] = False
    #: whether ``forward`` / the functional form is differentiable with respect to the prediction
    is_differentiable: ClassVar[bool | None] = False
    #: the global state is a sum of batch states, so ``forward`` needs only one ``update`` call
    full_state_update: ClassVar[bool | None] = False
    #: unit of the raw value
    unit: ClassVar[str] = ""
    #: key of the metric in :attr:`Protocol.report_scales`
    report_key: ClassVar[str] = ""
    #: names of the sum-reducible state tensors
    state_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in self.state_names:
            default = torch.zeros(self._state_shape(name), dtype=torch.float64)
            self.add_state(name, default=default, dist_reduce_fx="sum")

    def _state_shape(self, name: str) -> tuple[int, ...]:
        """Shape of state ``name`` (scalars unless a subclass says otherwise; fixed at construction)."""
        return ()

    def state(self) -> dict[str, torch.Tensor]:
        """Copies of the sum-reducible state tensors."""
        return {name: getattr(self, name).detach().clone() for name in self.state_names}

    def state_nbytes(self) -> int:
        """Total bytes held by the state tensors."""
        return sum(t.numel() * t.element_size() for t in self.state().values())

    def merge(self, other: StreamingMetric) -> None:
        """Add another instance's state (same class and settings) to this one."""
        if type(other) is not type(self) or self._settings() != other._settings():
            raise ValueError(f"cannot merge {other!r} into {self!r}: different metric or settings")
        for name in self.state_names:
            mine = getattr(self, name)
            setattr(self, name, mine + getattr(other, name).detach().to(mine.device, mine.dtype))
        self._update_count += other._update_count
        self._computed = None

    def _settings(self) -> tuple[object, ...]:
        return ()

    def _add(self, name: str, value: torch.Tensor | float) -> None:
        """Add ``value`` to state ``name``, on the state's device and in its dtype.

        No ``detach``: torchmetrics runs ``update`` without grad, except inside ``forward``, where the
        batch value keeps its graph (the global state is reduced under ``no_grad``).
        """
        cur = getattr(self, name)
        setattr(self, name, cur + torch.as_tensor(value).to(cur.device, cur.dtype))

    @classmethod
    def report_scale(cls, protocol: str | Protocol) -> float:
        """Scale of the reported column under ``protocol`` (e.g. ``1e-4`` for BIWI LVE)."""
        p = get_protocol(protocol) if isinstance(protocol, str) else protocol
        return float(p.report_scales[cls.report_key])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self._settings()))})"
