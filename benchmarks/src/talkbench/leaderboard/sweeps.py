"""Sweep pages: a metric against a swept config value (a dose-response plot) with the paired 95 %
bootstrap interval of each swept cell's Δ against the sweep's reference cell.

A sweep's results live in a folder of their own, ``<sweeps>/<preset>/<protocol>/<run_id>/`` (the runs
of ``talkbench run --preset <preset> --results <sweeps>/<preset>``); a swept run's ``result.json``
names its point (``sweep``) and reference (``sweep_reference``); its Δ is its ``guidance_effect``
(reference ``baseline``) or ``lip_reader_effect`` (reference ``lrlv``), computed by the grid's
finalize step. The swept values are the plot's ticks, evenly spaced in their order (a sweep's
values usually span decades and include 0), each tick labelled with its value; the reference is the
zero line.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from ..results.direction import direction_phrase, metric_best
from .collect import RunEntry, collect_results
from .plots import _RC, _svg
from .tables import format_scale

__all__ = ["SWEEP_METRICS", "collect_sweeps", "dose_response_plot"]

#: the metrics a sweep page plots, in this order, when the runs have them
SWEEP_METRICS: tuple[str, ...] = ("lve", "mve", "mtm", "cer", "wer", "ver")


def _effect(entry: RunEntry) -> Any:
    r = entry.result
    return r.lip_reader_effect if r.sweep_reference == "lrlv" else r.guidance_effect


def _series(name: str, runs: list[RunEntry]) -> list[dict[str, Any]]:
    """One series per (animator, variant, axis, other axes' values) of a sweep folder's runs."""
    groups: dict[tuple[str, ...], list[RunEntry]] = {}
    for e in runs:
        r = e.result
        if r.kind != "method" or not r.sweep or _effect(e) is None:
            continue
        for axis in r.sweep:
            fixed = tuple(f"{k}={v}" for k, v in sorted(r.sweep.items()) if k != axis)
            groups.setdefault((r.animator.name, r.guidance.label, axis, *fixed), []).append(e)
    out = []
    for (animator, guidance, axis, *fixed), entries in sorted(groups.items()):
        entries.sort(key=lambda e: float(e.result.sweep[axis]))  # type: ignore[index, arg-type]
        first = entries[0].result
        ref_id = _effect(entries[0]).baseline_run
        metrics: dict[str, Any] = {}
        for metric in SWEEP_METRICS:
            points = []
            for e in entries:
                m = _effect(e).metrics.get(metric)
                summary = e.result.metrics.get(metric)
                if m is None or summary is None:
                    continue
                s = summary.report_scale
                points.append(
                    {
                        "value": e.result.sweep[axis],
                        "run_id": e.result.run_id,  # type: ignore[index]
                        "mean": m.mean / s,
                        "ci_low": m.ci_low / s,
                        "ci_high": m.ci_high / s,
                        "verdict": m.verdict,
                        "guided": summary.value / s,
                    }
                )
            if points:
                summary = next(e.result.metrics[metric] for e in entries if metric in e.result.metrics)
                best = metric_best(metric, summary.higher_is_better)
                metrics[metric] = {
                    "points": points,
                    "scale_text": format_scale(summary.report_scale, summary.unit),
                    "variant": summary.variant,
                    "direction": direction_phrase(best),
                }
        out.append(
            {
                "sweep": name,
                "protocol": first.protocol,
                "animator": animator,
                "guidance": guidance,
                "axis": axis,
                "fixed": list(fixed),
                "reference": first.sweep_reference,
                "reference_run": ref_id,
                "seeds": first.seeds,
                "metrics": metrics,
            }
        )
    return out


def collect_sweeps(sweeps_dir: Path | str) -> list[dict[str, Any]]:
    """Every series of every sweep under ``sweeps_dir`` (each sub-folder a results folder of one sweep
    preset, validated as the leaderboard's results are); ``[]`` when the folder does not exist."""
    root = Path(sweeps_dir)
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for _, runs in sorted(collect_results(folder).items()):
            out += _series(folder.name, runs)
    return out


def dose_response_plot(series: dict[str, Any]) -> bytes | None:
    """One panel per metric: Δ (swept cell − reference) against the swept value, 95 % paired-bootstrap
    intervals as bars, green / red / grey by verdict; ``None`` without points."""
    metrics = series["metrics"]
    if not metrics:
        return None
    with plt.rc_context(_RC):
        cols = min(3, len(metrics))
        rows = -(-len(metrics) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows + 0.5), squeeze=False)
        values = sorted({float(p["value"]) for m in metrics.values() for p in m["points"]})
        where = {v: i for i, v in enumerate(values)}
        for ax in axes.flat[len(metrics) :]:
            ax.set_visible(False)
        for ax, (metric, m) in zip(axes.flat, metrics.items(), strict=False):
            for p in m["points"]:
                color = {"better": "tab:green", "worse": "tab:red"}.get(p["verdict"], "tab:gray")
                ax.errorbar(
                    where[float(p["value"])],
                    p["mean"],
                    yerr=[[p["mean"] - p["ci_low"]], [p["ci_high"] - p["mean"]]],
                    fmt="o",
                    color=color,
                    capsize=3,
                    markersize=4,
                    elinewidth=1,
                )
            xs = [where[float(p["value"])] for p in m["points"]]
            ax.plot(xs, [p["mean"] for p in m["points"]], color="tab:blue", linewidth=0.8, alpha=0.6)
            ax.axhline(0.0, color="black", linewidth=0.8, linestyle="--")
            ax.set_xticks(range(len(values)), [f"{v:g}" for v in values], fontsize=7)
            ax.set_xlim(-0.5, len(values) - 0.5)
            ax.set_xlabel(series["axis"], fontsize=8)
            ax.set_title(f"Δ {metric.upper()} {m['scale_text']} ({m['direction']})", fontsize=8)
        title = (
            f"{series['animator']} {series['guidance']}: each point's change against "
            f"{series['reference_run']} (dashed line), 95 % paired-bootstrap intervals over "
            f"{len(series['seeds'])} seeds; green = better, red = worse, grey = no measurable effect"
        )
        fig.suptitle("\n".join(textwrap.wrap(title, 110)), fontsize=8.5)
        fig.tight_layout()
        return _svg(fig)
