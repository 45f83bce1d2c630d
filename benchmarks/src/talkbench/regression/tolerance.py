"""The tolerance rule of the regression benchmark and the verdict of one comparison.

For one metric of one leaderboard row, with baseline mean ``b`` (over the baseline's seeds), new mean
``v``, and the sample standard deviations over seeds ``s_b`` and ``s_v``::

    σ   = max(s_b, s_v)                                  spread over seeds, the wider of the two runs
    tol = max(k · σ,  rel · |b|,  abs_floor[metric] · report_scale)

Defaults: ``k = 3``, ``rel = 0.10``, and an absolute floor given in *report units* (the numbers a table
shows, ``value / report_scale``) per metric (:data:`DEFAULT_ABS_FLOORS`). The relative floor absorbs the
floating-point drift between machines (thread counts, BLAS builds) that a seeded CPU run still has;
the absolute floor keeps metrics whose mean is near zero (the signed FDD) or whose spread is zero
(a single seed, or deterministic rows such as ``ground truth``) from failing on rounding noise.

Direction (:mod:`talkbench.results.direction`, the one registry of metric directions): the *worsening*
is ``b(v) − b(b)`` with the badness ``b(x)``: ``v − b`` when lower is better, ``b − v`` when higher is
better (``MetricSummary.higher_is_better``), and ``|v| − |b|`` for a signed metric whose best value is 0
(FDD): moving away from 0 in either sign is the worsening.

- worsening > tol → ``REGRESSED`` (fails);
- −worsening > tol → ``improved``: passes by default; with ``fail_on_improvement`` it fails as
  ``IMPROVED`` so that the baseline is refreshed and the tolerance stays tight around the new level;
- otherwise ``ok``.

Two-sided metrics (default: ``fdd``, which is signed — GT minus prediction — so a *negative* value means
exaggerated upper-face motion, not a better animator) fail as ``CHANGED`` when ``|v − b| > tol`` in either
direction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from ..results.direction import badness, metric_best

__all__ = [
    "DEFAULT_ABS_FLOORS",
    "DEFAULT_K",
    "DEFAULT_REL",
    "DEFAULT_TWO_SIDED",
    "FAILING_VERDICTS",
    "ToleranceRule",
    "Verdict",
    "judge",
]

DEFAULT_K = 3.0
DEFAULT_REL = 0.10
#: absolute floors in report units (value / report_scale): LVE ×1e-5 m², FDD ×1e-7 m², MVE mm,
#: CER / WER / VER percentage points on the synth and VOCASET protocols
DEFAULT_ABS_FLOORS: dict[str, float] = {
    "lve": 0.05,
    "fdd": 0.5,
    "mve": 0.01,
    "cer": 2.0,
    "wer": 2.0,
    "ver": 2.0,
}
DEFAULT_TWO_SIDED: tuple[str, ...] = ("fdd",)

Verdict = Literal["ok", "improved", "REGRESSED", "IMPROVED", "CHANGED", "MISSING", "INCOMPARABLE", "new"]
#: verdicts that make a comparison fail
FAILING_VERDICTS: frozenset[str] = frozenset({"REGRESSED", "IMPROVED", "CHANGED", "MISSING", "INCOMPARABLE"})


@dataclass(frozen=True)
class ToleranceRule:
    """Parameters of the tolerance rule (see the module docstring for the formula).

    Attributes:
        k: multiple of the spread over seeds.
        rel: relative floor, a fraction of ``|baseline mean|``.
        abs_floors: metric → absolute floor in report units; a metric not listed has floor 0.
        two_sided: metrics that fail on a change beyond the tolerance in either direction.
        fail_on_improvement: also fail (``IMPROVED``) when a one-sided metric improves beyond tolerance.
    """

    k: float = DEFAULT_K
    rel: float = DEFAULT_REL
    abs_floors: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_ABS_FLOORS))
    two_sided: tuple[str, ...] = DEFAULT_TWO_SIDED
    fail_on_improvement: bool = False

    def __post_init__(self) -> None:
        if not self.k >= 0:
            raise ValueError(f"tolerance k must be >= 0, got {self.k!r}")
        if not self.rel >= 0:
            raise ValueError(f"tolerance rel must be >= 0, got {self.rel!r}")
        for metric, floor in self.abs_floors.items():
            if not floor >= 0:
                raise ValueError(f"absolute floor of {metric!r} must be >= 0, got {floor!r}")

    def with_abs_floors(self, floors: dict[str, float]) -> ToleranceRule:
        """A copy whose absolute floors are updated with ``floors`` (report units)."""
        return replace(self, abs_floors={**self.abs_floors, **floors})

    def tolerance(
        self, metric: str, baseline_mean: float, baseline_std: float, new_std: float, report_scale: float
    ) -> float:
        """``max(k·max(s_b, s_v), rel·|b|, abs_floor[metric]·report_scale)`` in raw units."""
        sigma = max(baseline_std, new_std)
        floor = self.abs_floors.get(metric, 0.0) * report_scale
        return max(self.k * sigma, self.rel * abs(baseline_mean), floor)

    def describe(self) -> str:
        """One line stating the rule with its parameters."""
        floors = ", ".join(f"{m} {f:g}" for m, f in sorted(self.abs_floors.items()))
        two = ", ".join(self.two_sided) or "none"
        improvement = "fail" if self.fail_on_improvement else "pass"
        return (
            f"tol = max({self.k:g}·σ_seeds, {self.rel:g}·|baseline|, abs floor [{floors}] report units); "
            f"two-sided: {two}; improvements beyond tol {improvement}"
        )


def judge(
    rule: ToleranceRule,
    metric: str,
    baseline_mean: float,
    new_mean: float,
    tolerance: float,
    higher_is_better: bool,
) -> Verdict:
    """Verdict of one metric comparison under ``rule`` (direction-aware; see the module docstring)."""
    if metric in rule.two_sided:
        return "CHANGED" if abs(new_mean - baseline_mean) > tolerance else "ok"
    best = metric_best(metric, higher_is_better)
    worsening = badness(best, new_mean) - badness(best, baseline_mean)
    if worsening > tolerance:
        return "REGRESSED"
    if -worsening > tolerance:
        return "IMPROVED" if rule.fail_on_improvement else "improved"
    return "ok"
