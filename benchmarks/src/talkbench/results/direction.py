r"""Which way is better, per metric: the one place the leaderboard, the guidance Δ and the regression
check ask.

Every metric has a *best* direction:

* ``"lower"`` — lower is better (LVE, MVE, CER, WER, VER);
* ``"higher"`` — higher is better (none of the built-in metrics; kept for added ones);
* ``"zero"`` — the metric is **signed** and 0 is ideal: FDD (``codetalker`` variant) is
  ``GT − prediction`` of the upper-face dynamics, so a negative value means *exaggerated* upper-face
  motion, not a better animator (CodeTalker, CVPR 2023, §4.2, ``cal_metric.py``). Such a metric is
  compared by its distance from 0, :math:`|x|`.

Comparisons go through the *badness* :math:`b(x)`, lower is better:

.. math::
    b(x) = \begin{cases} x & \text{lower} \\ -x & \text{higher} \\ |x| & \text{zero}
    \end{cases}

so "the best value" is :math:`\arg\min b(x)` and "``y`` is better than ``x``" is :math:`b(y) < b(x)`.
For the non-negative ``abs`` variant of FDD the ``"zero"`` rule ranks exactly like ``"lower"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

__all__ = [
    "METRIC_BEST",
    "Best",
    "badness",
    "best_of",
    "direction_phrase",
    "metric_best",
    "sort_key",
    "verdict",
]

Best = Literal["lower", "higher", "zero"]

#: the best direction of every metric whose direction is not plain "lower is better" by default;
#: metrics not listed follow their ``higher_is_better`` flag
METRIC_BEST: dict[str, Best] = {"fdd": "zero"}


def metric_best(metric: str, higher_is_better: bool = False) -> Best:
    """The best direction of ``metric``: :data:`METRIC_BEST` if listed, else from ``higher_is_better``."""
    if metric in METRIC_BEST:
        return METRIC_BEST[metric]
    return "higher" if higher_is_better else "lower"


def badness(best: Best, value: float) -> float:
    """:math:`b(x)` of the module docstring: lower is better under every direction."""
    if best == "lower":
        return value
    if best == "higher":
        return -value
    if best == "zero":
        return abs(value)
    raise ValueError(f"unknown best direction {best!r}; expected 'lower', 'higher' or 'zero'")


def best_of(best: Best, values: Iterable[float]) -> float:
    """The best of ``values`` (the one with the smallest :func:`badness`; the first of ties)."""
    return min(values, key=lambda v: badness(best, v))


def sort_key(best: Best, value: float) -> float:
    """The number a table sorts a cell by: the value itself, or :math:`|x|` for a ``"zero"`` metric."""
    return abs(value) if best == "zero" else value


def direction_phrase(best: Best) -> str:
    """``"lower is better"``, ``"higher is better"`` or ``"signed; closer to 0 is better"``."""
    return {
        "lower": "lower is better",
        "higher": "higher is better",
        "zero": "signed; closer to 0 is better",
    }[best]


def verdict(best: Best, ci_low: float, ci_high: float) -> Literal["better", "worse", "no measurable effect"]:
    """``"better"`` / ``"worse"`` / ``"no measurable effect"`` from the interval of a change.

    ``ci_low`` / ``ci_high`` bound Δ = guided − baseline for ``"lower"`` and ``"higher"`` metrics, and the
    change of the distance from 0, :math:`|g| - |b|`, for ``"zero"`` metrics. Lower-is-better (and
    distance): better when ``ci_high < 0``, worse when ``ci_low > 0``; higher-is-better: the mirror.
    """
    if ci_low > ci_high:
        raise ValueError(f"interval [{ci_low}, {ci_high}] has its ends swapped")
    if best == "higher":
        ci_low, ci_high = -ci_high, -ci_low
    elif best not in ("lower", "zero"):
        raise ValueError(f"unknown best direction {best!r}")
    if ci_high < 0:
        return "better"
    if ci_low > 0:
        return "worse"
    return "no measurable effect"
