"""Leaderboard plots as deterministic SVG (matplotlib, Agg): LVE vs CER, and guidance effect per animator.

Determinism: a fixed ``svg.hashsalt``, no ``Date`` metadata, glyphs as paths, and inputs already in a
fixed order, so the same tables give byte-identical files. Text from result files is drawn with
math-text parsing off (a ``$`` in an animator name stays a dollar sign).
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

__all__ = ["guidance_plot", "lve_vs_cer_plot"]

_RC = {
    "svg.hashsalt": "talkbench-leaderboard",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_MARKERS = {"ground truth": ("s", "tab:green"), "template": ("X", "tab:red"), "method": ("o", "tab:blue")}


def _svg(fig: Any) -> bytes:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue().encode("utf-8")


def _point_label(row: dict[str, Any]) -> str:
    if row["kind"] == "method" and row["guidance"] != "baseline":
        return f"{row['label']} {row['guidance']}"
    return row["label"]


def lve_vs_cer_plot(table: dict[str, Any]) -> bytes | None:
    """Scatter of LVE (y) against the reader's CER (x) per run row, with ± std bars; ``None`` if no row
    has both."""
    cols = {c["metric"]: c for c in table["columns"]}
    rows = [
        r for r in table["rows"] if r["kind"] != "reported" and "lve" in r["cells"] and "cer" in r["cells"]
    ]
    if not rows or "lve" not in cols or "cer" not in cols:
        return None
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for row in rows:
            marker, color = _MARKERS[row["kind"]]
            x, y = row["cells"]["cer"], row["cells"]["lve"]
            ax.errorbar(x["mean"], y["mean"], xerr=x["std"], yerr=y["std"], fmt=marker, color=color,
                        capsize=3, markersize=6)
            ax.annotate(_point_label(row), (x["mean"], y["mean"]), textcoords="offset points",
                        xytext=(5, 4), fontsize=8)
        ax.set_xlabel(f"lip-reader {cols['cer']['header']}")
        ax.set_ylabel(cols["lve"]["header"])
        ax.set_title(f"{table['protocol']}: LVE vs CER (lower-left is better)")
        return _svg(fig)


def guidance_plot(table: dict[str, Any], metrics: tuple[str, ...] = ("lve", "cer")) -> bytes | None:
    """Paired dots per (animator, guidance): baseline (left) and guided (right), ± std bars, one panel per
    metric; ``None`` without any guided/baseline pair."""
    rows = table["guidance_rows"]
    cols = {c["metric"]: c for c in table["columns"]}
    shown = [m for m in metrics if m in cols and any(m in r["cells"] for r in rows)]
    if not rows or not shown:
        return None
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown) + 1.0, 4.0), squeeze=False)
        for ax, metric in zip(axes[0], shown):
            ticks, labels = [], []
            for i, row in enumerate(rows):
                cell = row["cells"].get(metric)
                if cell is None:
                    continue
                b, g = cell["baseline"], cell["guided"]
                color = {True: "tab:green", False: "tab:red", None: "tab:gray"}[cell["improved"]]
                ax.plot([i - 0.15, i + 0.15], [b["mean"], g["mean"]], color=color, linewidth=1.2)
                ax.errorbar(i - 0.15, b["mean"], yerr=b["std"], fmt="o", color="tab:gray", capsize=3)
                ax.errorbar(i + 0.15, g["mean"], yerr=g["std"], fmt="o", color=color, capsize=3)
                ticks.append(i)
                labels.append(f"{row['animator']}\n{row['guidance']}")
            ax.set_xticks(ticks, labels, fontsize=7)
            ax.set_xlim(-0.6, len(rows) - 0.4)
            ax.set_ylabel(cols[metric]["header"])
            ax.set_title(f"{metric.upper()}: baseline (grey) → guided")
        fig.suptitle(
            f"{table['protocol']}: guidance effect per animator (verdict from the 95 % paired-bootstrap "
            "interval of Δ: green = better, red = worse, grey = no measurable effect)"
        )
        return _svg(fig)
