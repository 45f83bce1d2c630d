"""Readable tables of a :class:`~talkbench.regression.compare.RegressionReport` (plain text or Markdown).

Numbers are shown in report units (``value / report_scale``, as on the leaderboard), with the scale and
unit in the metric column: ``lve ×1e-05 m²``. Columns: metric, row, baseline mean ± std, new mean ± std,
tolerance, verdict (with the reason for ``MISSING`` / ``INCOMPARABLE`` / ``new``).
"""

from __future__ import annotations

from typing import Literal

from ..results.direction import metric_best
from ..results.schema import MetricSummary
from .compare import Comparison, RegressionReport, row_label

__all__ = ["HEADERS", "format_report", "report_rows"]

HEADERS: tuple[str, ...] = ("metric", "row", "baseline mean ± std", "new value", "tolerance", "verdict")


def _num(x: float) -> str:
    return f"{x:.4g}"


def _summary(s: MetricSummary | None) -> str:
    if s is None:
        return "—"
    scale = s.report_scale
    if len(s.per_seed) == 1:
        return _num(s.value / scale)
    std = 0.0 if s.std <= 1e-9 * abs(s.value) else s.std  # float noise of identical seeds
    return f"{_num(s.value / scale)} ± {_num(std / scale)}"


def _metric_cell(c: Comparison) -> str:
    s = c.baseline or c.new
    if s is None:
        return c.metric
    return f"{c.metric} ×{s.report_scale:g} {s.unit}"


def _verdict_cell(c: Comparison) -> str:
    if c.detail:
        return f"{c.verdict} ({c.detail})"
    if c.tolerance is not None and c.baseline is not None and c.new is not None and c.verdict != "ok":
        delta = (c.new.value - c.baseline.value) / c.report_scale
        if metric_best(c.metric, c.baseline.higher_is_better) == "zero" and delta != 0:
            closer = abs(c.new.value) < abs(c.baseline.value)
            return f"{c.verdict} (Δ {delta:+.4g}; {'closer to' if closer else 'further from'} 0)"
        return f"{c.verdict} (Δ {delta:+.4g})"
    return c.verdict


def report_rows(report: RegressionReport, *, only_failures: bool = False) -> list[tuple[str, ...]]:
    """The table's cells, one tuple per comparison (see :data:`HEADERS`)."""
    rows = []
    for c in report.comparisons:
        if only_failures and not c.failed:
            continue
        tol = "—" if c.tolerance is None else "±" + _num(c.tolerance / c.report_scale)
        rows.append(
            (_metric_cell(c), row_label(c.row), _summary(c.baseline), _summary(c.new), tol, _verdict_cell(c))
        )
    return rows


def _plain(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    line = "  ".join("-" * w for w in widths)
    fmt = [("  ".join(cell.ljust(w) for cell, w in zip(r, widths))).rstrip() for r in rows]
    head = "  ".join(h.ljust(w) for h, w in zip(HEADERS, widths)).rstrip()
    return [head, line, *fmt]


def _markdown(rows: list[tuple[str, ...]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return out


def format_report(
    report: RegressionReport, *, style: Literal["plain", "markdown"] = "plain", only_failures: bool = False
) -> str:
    """The whole report: a summary line, the rule, the table, then notes."""
    counts = report.counts()
    status = "PASSED" if report.passed else "FAILED"
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    lines = [f"regression check {status}: {len(report.failures)} failing of {len(report.comparisons)} "
             f"comparisons ({summary})", report.rule.describe(), ""]
    rows = report_rows(report, only_failures=only_failures)
    if rows:
        lines += _plain(rows) if style == "plain" else _markdown(rows)
    else:
        lines.append("(no comparisons to show)")
    if report.notes:
        lines += ["", "notes:"] + [f"  - {n}" for n in report.notes]
    return "\n".join(lines) + "\n"
