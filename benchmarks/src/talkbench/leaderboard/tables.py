"""Leaderboard tables as plain data: one results table and one guidance-effect table per protocol.

Displayed numbers are ``value / report_scale`` (the protocol's scale); ``± std`` is the sample
standard deviation over seeds. In the guidance table, for an animator's guided run ``g`` and its
baseline ``b`` (same animator name, all guidance flags off):

.. math:: \\Delta = \\bar g - \\bar b, \\qquad s_\\Delta = \\sqrt{s_b^2 + s_g^2}

(independent seeds). A delta counts as an improvement when it moves in the metric's better direction.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from facial_metrics.protocols import get_protocol

from ..results.schema import METRIC_NAMES, MetricSummary
from .collect import RunEntry
from .reported import ReportedNumber

__all__ = ["build_tables", "column_header", "format_scale", "run_label"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_KIND_ORDER = {"ground truth": 0, "method": 1, "template": 2, "reported": 3}


def format_scale(scale: float, unit: str) -> str:
    """``"×10⁻⁵ m²"`` for ``(1e-5, "m²")``; ``"%"`` for a fraction at ``1e-2``; no factor for 1."""
    if unit == "fraction" and math.isclose(scale, 1e-2):
        return "%"
    exponent = math.log10(scale)
    if math.isclose(exponent, round(exponent), abs_tol=1e-9):
        e = round(exponent)
        factor = "" if e == 0 else "×10" + str(e).translate(_SUPERSCRIPT)
    else:
        factor = f"×{scale:g}"
    return f"{factor} {unit}".strip()


def column_header(metric: str, scale: float, unit: str, variant: str) -> str:
    """Column title, e.g. ``"LVE ×10⁻⁵ m² (max_sq)"``."""
    return f"{metric.upper()} {format_scale(scale, unit)} ({variant})"


def run_label(entry: RunEntry) -> str:
    """Row label: the animator name for methods, the row kind for the bracketing rows."""
    return entry.result.animator.name if entry.result.kind == "method" else entry.result.kind


def _cell(m: MetricSummary) -> dict[str, Any]:
    mean, std = m.value / m.report_scale, m.std / m.report_scale
    return {"mean": mean, "std": std, "text": f"{mean:.3f} ± {std:.3f}", "sort": mean}


def _columns(protocol: str, runs: list[RunEntry], reported: list[ReportedNumber]) -> list[dict[str, Any]]:
    proto = get_protocol(protocol)
    present = {m for r in runs for m in r.result.metrics} | {e.metric for e in reported}
    cols = []
    for name in METRIC_NAMES:
        if name not in present:
            continue
        summary = next((r.result.metrics[name] for r in runs if name in r.result.metrics), None)
        if summary is not None:
            unit, variant = summary.unit, summary.variant
            scale, hib = summary.report_scale, summary.higher_is_better
        else:
            rep = next(e for e in reported if e.metric == name)
            unit, variant, scale, hib = proto.units[name], rep.variant, rep.report_scale, False
        cols.append(
            {
                "metric": name,
                "header": column_header(name, scale, unit, variant),
                "unit": unit,
                "variant": variant,
                "report_scale": scale,
                "higher_is_better": hib,
            }
        )
    return cols


def _run_row(entry: RunEntry, protocol: str) -> dict[str, Any]:
    res = entry.result
    base = f"runs/{protocol}/{res.run_id}"
    return {
        "kind": res.kind,
        "label": run_label(entry),
        "animator": res.animator.name,
        "guidance": res.guidance.label,
        "run_id": res.run_id,
        "seeds": len(res.seeds),
        "config_href": f"{base}/config.yaml",
        "result_href": f"{base}/result.json",
        "env_href": f"{base}/env.json",
        "video_href": f"{base}/sample.mp4" if entry.video is not None else None,
        "cells": {name: _cell(m) for name, m in res.metrics.items()},
        "source": None,
    }


def _reported_rows(reported: list[ReportedNumber], columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    variants = {c["metric"]: c["variant"] for c in columns}
    by_method: dict[str, list[ReportedNumber]] = defaultdict(list)
    for e in reported:
        by_method[e.method].append(e)
    rows = []
    for method in by_method:  # the order of the reported file (the papers' table order)
        cells, sources = {}, []
        for e in sorted(by_method[method], key=lambda e: METRIC_NAMES.index(e.metric)):
            note = "" if e.variant == variants[e.metric] else f" [{e.variant}]"
            cells[e.metric] = {"mean": e.value, "std": None, "text": f"{e.value:.4f}{note}", "sort": e.value}
            sources.append(f"{e.metric.upper()}: {e.source} {e.verification}")
        rows.append(
            {
                "kind": "reported",
                "label": method,
                "animator": method,
                "guidance": "",
                "run_id": None,
                "seeds": None,
                "config_href": None,
                "result_href": None,
                "env_href": None,
                "video_href": None,
                "cells": cells,
                "source": "; ".join(sources),
            }
        )
    return rows


def _mark_best(rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> None:
    """Flag the best method value of each column (``cell["best"]``); other rows never count."""
    for r in rows:
        for cell in r["cells"].values():
            cell["best"] = False
    for col in columns:
        name = col["metric"]
        values = [r["cells"][name]["mean"] for r in rows if r["kind"] == "method" and name in r["cells"]]
        if not values:
            continue
        best = max(values) if col["higher_is_better"] else min(values)
        for r in rows:
            cell = r["cells"].get(name)
            if cell is not None:
                cell["best"] = r["kind"] == "method" and cell["mean"] == best


def _guidance_rows(runs: list[RunEntry], columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    methods = [r for r in runs if r.result.kind == "method"]
    baselines = {r.result.animator.name: r for r in methods if r.result.guidance.is_baseline}
    rows = []
    for g in sorted(methods, key=lambda r: (r.result.animator.name, r.result.guidance.label)):
        b = baselines.get(g.result.animator.name)
        if g.result.guidance.is_baseline or b is None:
            continue
        cells = {}
        for col in columns:
            name = col["metric"]
            mb, mg = b.result.metrics.get(name), g.result.metrics.get(name)
            if mb is None or mg is None:
                continue
            scale = mb.report_scale
            delta = (mg.value - mb.value) / scale
            spread = math.sqrt(mb.std**2 + mg.std**2) / scale
            improved = None if delta == 0 else (delta > 0) == col["higher_is_better"]
            cells[name] = {
                "baseline": _cell(mb),
                "guided": _cell(mg),
                "delta": {
                    "mean": delta, "std": spread, "text": f"{delta:+.3f} ± {spread:.3f}", "sort": delta
                },
                "improved": improved,
            }
        rows.append(
            {
                "animator": g.result.animator.name,
                "guidance": g.result.guidance.label,
                "baseline_run": b.result.run_id,
                "guided_run": g.result.run_id,
                "cells": cells,
            }
        )
    return rows


def _provenance(runs: list[RunEntry]) -> dict[str, Any]:
    first = runs[0].result if runs else None
    reader = next((r.result.reader for r in runs if r.result.reader is not None), None)
    masks = {}
    for r in runs:
        for role, m in r.result.masks.items():
            masks.setdefault(role, {"id": m.id, "sha256": m.sha256})
    return {
        "dataset_id": first.dataset.id if first else None,
        "dataset_sha256": first.dataset.content_sha256 if first else None,
        "reader": reader.model_dump() if reader else None,
        "masks": dict(sorted(masks.items())),
    }


def build_tables(
    runs_by_protocol: dict[str, list[RunEntry]], reported: list[ReportedNumber]
) -> list[dict[str, Any]]:
    """One dict per protocol with its columns, result rows, guidance rows and provenance.

    Protocols with runs come first, then those with only reported numbers; each group sorted by id.
    """
    protocols = sorted(runs_by_protocol) + sorted({e.protocol for e in reported} - set(runs_by_protocol))
    tables = []
    for protocol in protocols:
        runs = runs_by_protocol.get(protocol, [])
        rep = [e for e in reported if e.protocol == protocol]
        proto = get_protocol(protocol)
        columns = _columns(protocol, runs, rep)
        rows = sorted(
            (_run_row(r, protocol) for r in runs),
            key=lambda row: (_KIND_ORDER[row["kind"]], row["animator"], row["guidance"] != "baseline",
                             row["guidance"], row["run_id"]),
        )
        rows += _reported_rows(rep, columns)
        _mark_best(rows, columns)
        tables.append(
            {
                "protocol": protocol,
                "dataset": proto.dataset,
                "topology": proto.topology,
                "fps": proto.fps,
                "test_condition": proto.test_condition,
                "notes": proto.notes,
                "columns": columns,
                "rows": rows,
                "guidance_rows": _guidance_rows(runs, columns),
                "provenance": _provenance(runs),
                "n_runs": len(runs),
            }
        )
    return tables
