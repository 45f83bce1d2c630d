"""Compare a fresh run's ``result.json`` files with committed baseline results, metric by metric.

Rows are matched as on the leaderboard: by protocol, row kind, animator name and guidance label
(``synth | faceformer +AV``), never by run id or folder, so a baseline stays valid when run ids change.
Every baseline row and every baseline metric must be present in the new results (``MISSING`` otherwise);
rows and metrics only the new results have are listed as ``new`` and do not fail. A metric whose variant,
unit, report scale or direction differs between the two is ``INCOMPARABLE``. The numeric rule is
:mod:`talkbench.regression.tolerance`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..results.io import load_result
from ..results.schema import METRIC_NAMES, MetricSummary, RunResult
from .tolerance import FAILING_VERDICTS, ToleranceRule, Verdict, judge

__all__ = [
    "Comparison",
    "RegressionInputError",
    "RegressionReport",
    "RowKey",
    "compare_dirs",
    "compare_results",
    "load_result_set",
    "row_key",
    "row_label",
]

#: (protocol, kind, animator name, guidance label)
RowKey = tuple[str, str, str, str]


class RegressionInputError(ValueError):
    """A results folder that cannot be compared (absent, empty, unreadable, or with duplicate rows)."""


def row_key(result: RunResult) -> RowKey:
    """The identity of a leaderboard row: protocol, kind, animator name, guidance label."""
    return (result.protocol, result.kind, result.animator.name, result.guidance.label)


def row_label(key: RowKey) -> str:
    """``"synth | faceformer +AV"``, ``"synth | ground truth"``, ``"synth | faceformer"`` (baseline)."""
    protocol, kind, animator, guidance = key
    if kind != "method":
        return f"{protocol} | {kind}"
    return f"{protocol} | {animator}" + ("" if guidance == "baseline" else f" {guidance}")


def load_result_set(root: Path | str, *, what: str = "results") -> dict[RowKey, tuple[Path, RunResult]]:
    """Every ``result.json`` below ``root`` (any depth), validated and keyed by :func:`row_key`.

    Raises :class:`RegressionInputError` when ``root`` is not a folder, holds no ``result.json``, or two
    files describe the same row; a file that fails the schema raises ``ResultFileError`` naming it.
    """
    root = Path(root)
    if not root.is_dir():
        raise RegressionInputError(f"{what} folder {root} does not exist")
    files = sorted(root.rglob("result.json"))
    if not files:
        raise RegressionInputError(
            f"{what} folder {root} holds no result.json (expected <protocol>/<run_id>/result.json)"
        )
    out: dict[RowKey, tuple[Path, RunResult]] = {}
    for path in files:
        result = load_result(path)
        key = row_key(result)
        if key in out:
            raise RegressionInputError(
                f"{what}: {out[key][0]} and {path} are the same row ({row_label(key)}); keep one of them"
            )
        out[key] = (path, result)
    return out


@dataclass(frozen=True)
class Comparison:
    """One (row, metric) line of the report. Values are raw (divide by ``report_scale`` to display).

    ``baseline`` / ``new`` is ``None`` when that side lacks the row or metric; ``tolerance`` is ``None``
    when no numeric comparison was possible; ``detail`` explains a ``MISSING`` / ``INCOMPARABLE`` / ``new``.
    """

    row: RowKey
    metric: str
    baseline: MetricSummary | None
    new: MetricSummary | None
    tolerance: float | None
    verdict: Verdict
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING_VERDICTS

    @property
    def report_scale(self) -> float:
        summary = self.baseline or self.new
        return summary.report_scale if summary is not None else 1.0


@dataclass(frozen=True)
class RegressionReport:
    """All comparisons, in baseline row order then metric order, plus notes that do not fail."""

    comparisons: list[Comparison]
    rule: ToleranceRule
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.failed]

    @property
    def passed(self) -> bool:
        return not self.failures

    def counts(self) -> dict[str, int]:
        """Verdict → number of comparisons with it."""
        out: dict[str, int] = {}
        for c in self.comparisons:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out


_KIND_ORDER = {"ground truth": 0, "template": 1, "method": 2}
_GUIDANCE_ORDER = {"baseline": 0, "+AV": 1, "+phonetic": 2, "+AV +phonetic": 3}


def _row_order(keys: Iterable[RowKey]) -> list[RowKey]:
    """Protocol, then the bracketing rows, then animators with baseline before each guidance."""
    return sorted(
        keys,
        key=lambda k: (k[0], _KIND_ORDER.get(k[1], 9), k[2], _GUIDANCE_ORDER.get(k[3], 9), k[3]),
    )


def _metric_order(names: Iterable[str]) -> list[str]:
    order = {m: i for i, m in enumerate(METRIC_NAMES)}
    return sorted(names, key=lambda m: (order.get(m, len(order)), m))


def _incomparable(base: MetricSummary, new: MetricSummary) -> str:
    diffs = []
    for attr in ("variant", "unit", "report_scale", "higher_is_better"):
        a, b = getattr(base, attr), getattr(new, attr)
        if a != b:
            diffs.append(f"{attr} {a!r} → {b!r}")
    return "; ".join(diffs)


def _compare_row(key: RowKey, base: RunResult, new: RunResult, rule: ToleranceRule) -> list[Comparison]:
    out: list[Comparison] = []
    for metric in _metric_order(set(base.metrics) | set(new.metrics)):
        b, n = base.metrics.get(metric), new.metrics.get(metric)
        if b is None:
            out.append(Comparison(key, metric, None, n, None, "new", "metric not in the baseline"))
            continue
        if n is None:
            out.append(Comparison(key, metric, b, None, None, "MISSING", "metric absent from new results"))
            continue
        why = _incomparable(b, n)
        if why:
            out.append(Comparison(key, metric, b, n, None, "INCOMPARABLE", why))
            continue
        tol = rule.tolerance(metric, b.value, b.std, n.std, b.report_scale)
        verdict = judge(rule, metric, b.value, n.value, tol, b.higher_is_better)
        out.append(Comparison(key, metric, b, n, tol, verdict))
    return out


def compare_results(
    baseline: dict[RowKey, tuple[Path, RunResult]],
    new: dict[RowKey, tuple[Path, RunResult]],
    rule: ToleranceRule | None = None,
) -> RegressionReport:
    """Compare two result sets (as returned by :func:`load_result_set`) under ``rule``."""
    rule = rule or ToleranceRule()
    comparisons: list[Comparison] = []
    notes: list[str] = []
    for key in _row_order(baseline):
        _, base = baseline[key]
        if key not in new:
            for metric in _metric_order(base.metrics):
                comparisons.append(
                    Comparison(key, metric, base.metrics[metric], None, None, "MISSING",
                               "row absent from the new results")
                )
            continue
        _, fresh = new[key]
        comparisons.extend(_compare_row(key, base, fresh, rule))
        label = row_label(key)
        if base.seeds != fresh.seeds:
            notes.append(f"{label}: seeds differ (baseline {base.seeds}, new {fresh.seeds})")
        if base.dataset.content_sha256 != fresh.dataset.content_sha256:
            notes.append(
                f"{label}: the dataset content hash differs from the baseline's "
                "(the corpus changed; metric differences may come from the data)"
            )
    for key in _row_order(set(new) - set(baseline)):
        _, fresh = new[key]
        for metric in _metric_order(fresh.metrics):
            comparisons.append(
                Comparison(key, metric, None, fresh.metrics[metric], None, "new", "row not in the baseline")
            )
    if any(c.verdict == "new" for c in comparisons):
        notes.append("rows or metrics marked 'new' are not checked; refresh the baseline to cover them")
    return RegressionReport(comparisons, rule, sorted(set(notes)))


def compare_dirs(
    new_dir: Path | str, baseline_dir: Path | str, rule: ToleranceRule | None = None
) -> RegressionReport:
    """Load both folders (any depth of ``result.json``) and compare them."""
    baseline = load_result_set(baseline_dir, what="baseline")
    fresh = load_result_set(new_dir, what="new results")
    return compare_results(baseline, fresh, rule)
