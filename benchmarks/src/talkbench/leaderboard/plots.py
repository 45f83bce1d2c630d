"""Leaderboard plots as deterministic SVG (matplotlib, Agg): LVE vs CER, and guidance effect per animator.

Determinism: a fixed ``svg.hashsalt``, no ``Date`` metadata, glyphs as paths, and inputs already in a
fixed order, so the same tables give byte-identical files. Text from result files is drawn with
math-text parsing off (a ``$`` in an animator name stays a dollar sign).

Readable labels: the scatter's point labels are placed by :func:`place_labels` (greedy, first free spot
on rings around the point, checked against every label already placed, every marker and the axes;
a thin leader line joins a label set further away to its point). The guidance panels list the
(animator, guidance) pairs one per line on a shared vertical axis, so their names never share a line.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import ticker
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

__all__ = [
    "curves_figure",
    "curves_plot",
    "guidance_figure",
    "guidance_plot",
    "lve_vs_cer_figure",
    "lve_vs_cer_plot",
    "place_labels",
]

_RC = {
    "svg.hashsalt": "talkbench-leaderboard",
    "svg.fonttype": "path",
    "text.parse_math": False,
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_MARKERS = {"ground truth": ("s", "tab:green"), "template": ("X", "tab:red"), "method": ("o", "tab:blue")}
#: ring radii (points) and directions tried around a point, nearest first
_RADII = (7.0, 16.0, 28.0, 42.0, 58.0, 76.0, 96.0, 120.0)
_ANGLES = tuple(range(0, 360, 30))
_PAD = 1.5  # px kept free around a label box


def _svg(fig: Any) -> bytes:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue().encode("utf-8")


def _point_label(row: dict[str, Any]) -> str:
    if row["kind"] == "method" and row["guidance"] != "baseline":
        return f"{row['label']} {row['guidance']}"
    return row["label"]


def _overlap(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _outside(box: Bbox, frame: Bbox) -> float:
    """Area of ``box`` outside ``frame``."""
    return box.width * box.height - _overlap(box, frame)


def place_labels(
    ax: Any, xy: Sequence[tuple[float, float]], texts: Sequence[str], fontsize: float = 8,
    marker_px: float = 5.0,
) -> list[Annotation]:
    """Annotate each data point ``xy[i]`` with ``texts[i]`` so that no two labels overlap.

    Greedy, in the given order: for each label the candidate offsets are tried ring by ring
    (:data:`_RADII` points, every 30°, the text anchored on the side facing away from the point); the
    first whose box (window pixels, ``_PAD`` px margin) overlaps no placed label and no marker (a square
    of ``marker_px`` half-size around each point) and stays inside the axes is taken. When no candidate
    is free, the one with the least overlap is used. Labels away from the nearest ring get a grey
    leader line. Call after the axes limits are final.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    pts = [ax.transData.transform(p) for p in xy]
    markers = [Bbox.from_extents(x - marker_px, y - marker_px, x + marker_px, y + marker_px) for x, y in pts]
    placed: list[Bbox] = []
    out: list[Annotation] = []
    for p, text in zip(xy, texts):
        best: tuple[float, int, Annotation, Bbox] | None = None
        for ring, r in enumerate(_RADII):
            for deg in _ANGLES:
                dx, dy = r * math.cos(math.radians(deg)), r * math.sin(math.radians(deg))
                ha = "left" if dx > 1e-9 else ("right" if dx < -1e-9 else "center")
                va = "bottom" if dy > 1e-9 else ("top" if dy < -1e-9 else "center")
                ann = ax.annotate(text, p, xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                                  ha=ha, va=va)
                box = ann.get_window_extent(renderer).padded(_PAD)
                cost = sum(_overlap(box, b) for b in placed)
                cost += sum(_overlap(box, m) for m in markers)
                cost += 4 * _outside(box, frame)
                if best is None or cost < best[0]:
                    if best is not None:
                        best[2].remove()
                    best = (cost, ring, ann, box)
                else:
                    ann.remove()
                if cost == 0:
                    break
            if best is not None and best[0] == 0:
                break
        assert best is not None
        _, ring, ann, box = best
        if ring > 0:
            ann.remove()
            ann = ax.annotate(text, p, xytext=ann.xyann, textcoords="offset points", fontsize=fontsize,
                              ha=ann.get_ha(), va=ann.get_va(),
                              arrowprops={"arrowstyle": "-", "color": "0.55", "lw": 0.6, "shrinkA": 1,
                                          "shrinkB": 3})
        placed.append(box)
        out.append(ann)
    return out


#: marker per guidance of a method row (the colour is the animator's)
_GUIDANCE_MARKERS = {"baseline": "o", "+Lrlv": "s", "+AV": "D", "+phonetic": "^", "+AV +phonetic": "v"}
_ANIMATOR_COLORS = ("tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan",
                    "tab:gray")


def lve_vs_cer_figure(table: dict[str, Any]) -> tuple[Any, list[Annotation]] | None:
    """The LVE-vs-CER figure and its point labels (see :func:`lve_vs_cer_plot`); the caller closes it."""
    cols = {c["metric"]: c for c in table["columns"]}
    if "lve" not in cols or "cer" not in cols:
        return None
    rows = [r for r in table["rows"] if r["kind"] == "method" and "lve" in r["cells"] and "cer" in r["cells"]]
    if not rows:
        return None
    gt = next((r for r in table["rows"] if r["kind"] == "ground truth" and "cer" in r["cells"]), None)
    tpl = next((r for r in table["rows"] if r["kind"] == "template" and "lve" in r["cells"]), None)
    animators = sorted({r["label"] for r in rows})
    colour = {a: _ANIMATOR_COLORS[i % len(_ANIMATOR_COLORS)] for i, a in enumerate(animators)}
    fig, ax = plt.subplots(figsize=(9.0, 5.6), layout="constrained")
    xy = []
    for row in rows:
        x, y = row["cells"]["cer"], row["cells"]["lve"]
        ax.errorbar(x["mean"], y["mean"], xerr=x["std"], yerr=y["std"],
                    fmt=_GUIDANCE_MARKERS.get(row["guidance"], "P"), color=colour[row["label"]], capsize=3,
                    markersize=6, elinewidth=0.8)
        xy.append((x["mean"], y["mean"]))
    # the axes are set by the methods (and the ground truth's CER); the bracketing rows are bounds
    xs = [r["cells"]["cer"]["mean"] + k * r["cells"]["cer"]["std"] for r in rows for k in (-1, 1)]
    ys = [r["cells"]["lve"]["mean"] + k * r["cells"]["lve"]["std"] for r in rows for k in (-1, 1)]
    if gt is not None:
        xs.append(gt["cells"]["cer"]["mean"])
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx, dy = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    x0, x1 = max(x0 - 0.22 * dx, 0.0) if x0 >= 0 else x0 - 0.22 * dx, x1 + 0.22 * dx
    y0, y1 = max(0.0, y0 - 0.15 * dy) if y0 >= 0 else y0 - 0.15 * dy, y1 + 0.15 * dy
    bounds = []
    if gt is not None:
        g = gt["cells"]["cer"]["mean"]
        ax.axvline(g, color="tab:green", linestyle="--", linewidth=1.0)
        bounds.append(f"green dashed: ground-truth renders, CER {g:.1f} (LVE 0)")
    if tpl is not None:
        t = tpl["cells"]["lve"]["mean"]
        t_cer = tpl["cells"]["cer"]["mean"] if "cer" in tpl["cells"] else None
        where = f", CER {t_cer:.1f}" if t_cer is not None else ""
        if t <= y1 + 0.6 * dy:
            y1 = max(y1, t + 0.05 * dy)
            ax.axhline(t, color="tab:red", linestyle="--", linewidth=1.0)
            bounds.append(f"red dashed: motionless template, LVE {t:.2f}{where}")
        else:
            bounds.append(f"motionless template above the chart: LVE {t:.2f}{where}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(f"lip-reader {cols['cer']['header']}")
    ax.set_ylabel(cols["lve"]["header"])
    ax.set_title(f"{table['protocol']}: LVE vs CER (lower-left is better)")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colour[a], marker="o", linestyle="", label=a) for a in animators]
    handles += [Line2D([], [], color="0.3", marker=m, linestyle="", label=g)
                for g, m in _GUIDANCE_MARKERS.items() if any(r["guidance"] == g for r in rows)]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7.5, frameon=False)
    if bounds:
        fig.supxlabel("\n".join(bounds), fontsize=7.5, color="0.3")
    # lay the figure out once and freeze it, so the labels are placed in their final positions
    fig.canvas.draw()
    fig.set_layout_engine("none")
    labels = place_labels(ax, xy, [_point_label(r) for r in rows], fontsize=7)
    return fig, labels


def lve_vs_cer_plot(table: dict[str, Any]) -> bytes | None:
    """Scatter of LVE (y) against the reader's CER (x) per run row, with ± std bars; ``None`` if no row
    has both."""
    with plt.rc_context(_RC):
        made = lve_vs_cer_figure(table)
        return None if made is None else _svg(made[0])


def guidance_figure(table: dict[str, Any], metrics: tuple[str, ...] = ("lve", "cer")) -> Any | None:
    """The guidance figure (see :func:`guidance_plot`); the caller closes it."""
    rows = table["guidance_rows"]
    cols = {c["metric"]: c for c in table["columns"]}
    shown = [m for m in metrics if m in cols and any(m in r["cells"] for r in rows)]
    if not rows or not shown:
        return None
    n = len(rows)
    fig, axes = plt.subplots(1, len(shown), figsize=(3.4 * len(shown) + 2.4, 0.28 * n + 1.6),
                             squeeze=False, sharey=True)
    for ax, metric in zip(axes[0], shown):
        for i, row in enumerate(rows):
            cell = row["cells"].get(metric)
            if cell is None:
                continue
            b, g = cell["baseline"], cell["guided"]
            color = {True: "tab:green", False: "tab:red", None: "tab:gray"}[cell["improved"]]
            ax.plot([b["mean"], g["mean"]], [i, i], color=color, linewidth=1.2)
            ax.errorbar(b["mean"], i, xerr=b["std"], fmt="o", color="tab:gray", capsize=2, markersize=4,
                        elinewidth=0.8)
            ax.errorbar(g["mean"], i, xerr=g["std"], fmt="D", color=color, capsize=2, markersize=4,
                        elinewidth=0.8)
        ax.set_yticks(range(n), [f"{r['animator']} {r['guidance']}" for r in rows], fontsize=7.5)
        ax.set_ylim(n - 0.5, -0.5)  # first row on top, as in the table
        ax.set_xlabel(cols[metric]["header"], fontsize=8)
        ax.set_title(f"{metric.upper()}: reference (grey ●) → guided (◆)", fontsize=8.5)
    title = (f"{table['protocol']}: guidance effect per animator. Verdict from the 95 % paired-bootstrap "
             "interval of Δ: green = better, red = worse, grey = no measurable effect")
    fig.suptitle("\n".join(textwrap.wrap(title, 95)), fontsize=9)
    fig.tight_layout()
    return fig


def guidance_plot(table: dict[str, Any], metrics: tuple[str, ...] = ("lve", "cer")) -> bytes | None:
    """Per (animator, guidance) row: the reference run's value (grey dot) and the guided run's (diamond,
    coloured by the verdict), ± std bars, one panel per metric sharing the row axis; ``None`` without
    any guided/reference pair."""
    with plt.rc_context(_RC):
        fig = guidance_figure(table, metrics)
        return None if fig is None else _svg(fig)


#: panels of a run's training curves: (phase, term, title, log scale); a panel shows when any training
#: of the run logged its term
CURVE_PANELS: tuple[tuple[str, str, str, bool], ...] = (
    ("animator", "loss", "total loss (weighted sum of the terms)", True),
    ("animator", "rec", "reconstruction Lrec (vertex MSE, m²)", True),
    ("animator", "rlv", "lip-vertex MSE Lrlv (m²)", True),
    ("animator", "av", "AV loss λctc·Lctc + λce·Lce (expert)", True),
    ("animator", "av_ctc", "AV: expert CTC loss", True),
    ("animator", "av_att", "AV: expert attention loss", True),
    ("animator", "av_acc", "AV: expert token accuracy", False),
    ("animator", "grad_norm", "gradient norm (before clipping)", True),
    ("stage1", "loss", "CodeTalker stage 1: VQ-autoencoder loss", True),
    ("reader", "loss", "lip reader: total loss (CTC and attention)", True),
    ("reader", "ctc", "lip reader: CTC loss", True),
    ("reader", "att", "lip reader: attention (cross-entropy) loss", True),
    ("reader", "accuracy", "lip reader: token accuracy (attention decoder)", False),
    ("reader", "grad_norm", "lip reader: gradient norm (before clipping)", True),
    ("reader", "lr", "lip reader: learning rate", False),
)
_SEED_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")


def _minor_log_label(value: float, _: Any) -> str:
    """Label the 2x and 5x minor ticks of a log axis (a panel may span less than a decade)."""
    text = f"{value:.0e}"
    return text if text[0] in "25" else ""


def curves_figure(curves: Any, title: str) -> Any | None:
    """The training-curves figure of one run (see :func:`curves_plot`); the caller closes it."""
    panels = [p for p in CURVE_PANELS
              if any(c.phase == p[0] and p[1] in c.terms for c in curves.trainings)]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 2.3 * rows + 0.5), squeeze=False)
    seeds = sorted({c.seed for c in curves.trainings})
    for ax, (phase, term, label, log) in zip(axes.flat, panels):
        for c in curves.trainings:
            if c.phase != phase or term not in c.terms:
                continue
            pts = [(s, v) for s, v in zip(c.step, c.terms[term]) if v is not None and (v > 0 or not log)]
            if not pts:
                continue
            color = _SEED_COLORS[seeds.index(c.seed) % len(_SEED_COLORS)]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, linewidth=1.0,
                    marker="." if len(pts) < 30 else None, markersize=3, label=f"seed {c.seed}")
        if log:
            # plain-text tick labels: the page's plots keep math-text parsing off (_RC), under which
            # matplotlib's default log labels would show their TeX source
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:.0e}"))
            ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_minor_log_label))
        ax.set_title("\n".join(textwrap.wrap(label, 40)), fontsize=8)
        ax.set_xlabel("step", fontsize=7.5)
        ax.tick_params(which="both", labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=7.5, ncol=len(handles), frameon=False)
    fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def curves_plot(curves: Any, title: str) -> bytes | None:
    """One panel per logged loss term (:data:`CURVE_PANELS`), the run's seeds overlaid, each point the
    mean of a bin of steps (``talkbench.results.curves``); ``None`` when the run logged none."""
    with plt.rc_context(_RC):
        fig = curves_figure(curves, title)
        return None if fig is None else _svg(fig)
