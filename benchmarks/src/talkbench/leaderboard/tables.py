r"""Leaderboard tables as plain data: one results table and one guidance-effect table per protocol.

Displayed numbers are ``value / report_scale`` (the protocol's scale); ``± std`` is the sample
standard deviation over seeds.

*Best* follows each metric's direction (:mod:`talkbench.results.direction`): lower is better for LVE,
MVE, CER, WER, VER; FDD is signed (GT − prediction) and ranked by its distance from 0, ``|FDD|``. The
best method value of each column is flagged, and a signed column sorts by ``|value|``.

**LVE / template**: every run row with an LVE gets :math:`r = \overline{LVE} / LVE_{template}` with
:math:`\pm\, s_{LVE} / LVE_{template}`, where :math:`LVE_{template}` is the LVE of the ``template``
row (the motionless template: 1.00) of the same results set and protocol; 0 is the ground truth. Paper
rows are not divided by a reproduced template. Runs that also scored training sequences
(``train_metrics``, ``eval.train_sequences``) show the same ratio on them in brackets, against the
template on those sequences: a test ratio far above the training ratio is over-fitting.

**Guidance effect**: for an animator's guided run ``g`` and its baseline ``b`` (same animator name, all
guidance flags off) — and for an AV run also against the animator's ``lrlv`` run (the lip-vertex MSE
alone), so that Δ(AV − Lrlv) is what the lip reader adds — the paired Δ = g − b per seed, its mean
and the 95 % paired-bootstrap interval
over test items and seeds (:mod:`talkbench.results.effects`); the verdict ("better", "worse", "no
measurable effect") is derived from the interval by :func:`talkbench.results.effects.verdict`. The
effect is read from the guided run's ``result.json`` when stored there (and must equal its
recomputation from the two runs' ``per_sample.jsonl``), otherwise recomputed from them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from facial_metrics.protocols import get_protocol

from ..results.direction import Best, best_of, direction_phrase, metric_best, sort_key
from ..results.effects import effects_match, guidance_effect
from ..results.io import ResultFileError, load_per_sample
from ..results.schema import METRIC_NAMES, GuidanceEffect, MetricSummary
from .collect import ResultsDirError, RunEntry
from .papers import paper_for
from .reported import ReportedNumber

__all__ = [
    "METRIC_GROUPS",
    "build_tables",
    "column_header",
    "format_scale",
    "guidance_effects",
    "metric_group",
    "run_label",
]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_KIND_ORDER = {"ground truth": 0, "method": 1, "template": 2, "reported": 3}
#: column groups of the results table, in display order; a metric of no group goes to "other"
METRIC_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("vertex", "vertex error", ("lve", "fdd", "mve")),
    ("temporal", "temporal lip sync", ("mtm", "slcc", "loc")),
    ("reading", "lip reading", ("cer", "wer", "ver")),
)
_OTHER = ("other", "other", ())


def metric_group(metric: str) -> tuple[str, str]:
    """``(group id, group title)`` of a metric column."""
    gid, title, _ = next((g for g in METRIC_GROUPS if metric in g[2]), _OTHER)
    return gid, title


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


def _cell(m: MetricSummary, best: Best) -> dict[str, Any]:
    mean, std = m.value / m.report_scale, m.std / m.report_scale
    return {"mean": mean, "std": std, "text": f"{mean:.3f} ± {std:.3f}", "value_text": f"{mean:.3f}",
            "std_text": f"± {std:.3f}", "sort": sort_key(best, mean)}


def _columns(protocol: str, runs: list[RunEntry], reported: list[ReportedNumber]) -> list[dict[str, Any]]:
    proto = get_protocol(protocol)
    present = {m for r in runs for m in r.result.metrics} | {e.metric for e in reported}
    cols = []
    group_rank = {g[0]: i for i, g in enumerate((*METRIC_GROUPS, _OTHER))}
    ordered = sorted(METRIC_NAMES, key=lambda n: (group_rank[metric_group(n)[0]], METRIC_NAMES.index(n)))
    for name in ordered:
        if name not in present:
            continue
        summary = next((r.result.metrics[name] for r in runs if name in r.result.metrics), None)
        if summary is not None:
            unit, variant = summary.unit, summary.variant
            scale, hib = summary.report_scale, summary.higher_is_better
        else:
            rep = next(e for e in reported if e.metric == name)
            unit, variant, scale, hib = proto.units[name], rep.variant, rep.report_scale, False
        best = metric_best(name, hib)
        gid, gtitle = metric_group(name)
        cols.append(
            {
                "metric": name,
                "header": column_header(name, scale, unit, variant),
                "short": name.upper(),
                "scale_text": format_scale(scale, unit),
                "group": gid,
                "group_title": gtitle,
                "unit": unit,
                "variant": variant,
                "report_scale": scale,
                "higher_is_better": hib,
                "best": best,
                "direction": direction_phrase(best),
            }
        )
    return cols


def _run_row(entry: RunEntry, protocol: str, bests: dict[str, Best]) -> dict[str, Any]:
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
        "poster_href": f"{base}/poster.png" if entry.video is not None else None,
        "samples_href": f"{base}/index.html",
        "cells": {name: _cell(m, bests[name]) for name, m in res.metrics.items()},
        "lve_ratio": None,
        "source": None,
        "paper": None,
        "av_dose": _dose(res.av_dose),
    }


def _dose(dose: Any) -> dict[str, Any] | None:
    """What an AV run's ``av_dose`` says, for a table cell: the share of the paper's dose (the AV term
    on every step, on the whole sequence) and how it was applied."""
    if dose is None:
        return None
    every = "every step" if dose.av_every == 1 else f"every {dose.av_every}th step"
    frames = "whole sequences" if dose.clip_frames is None else f"{dose.clip_frames}-frame clips"
    return {
        "fraction": dose.fraction,
        "text": f"AV dose {100 * dose.fraction:.1f} %",
        "title": (f"AV term on {every}, on {frames}: {dose.av_steps} of {dose.steps} steps (all seeds), "
                  f"{dose.frames_per_av_step:.1f} frames read per AV step of {dose.frames_per_step:.1f} per "
                  "training step; 100 % is the paper's dose (every step, whole sequences)"),
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
            best = metric_best(e.metric)
            cells[e.metric] = {"mean": e.value, "std": None, "text": f"{e.value:.4f}{note}",
                               "value_text": f"{e.value:.4f}", "std_text": note.strip(),
                               "sort": sort_key(best, e.value)}
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
                "poster_href": None,
                "samples_href": None,
                "cells": cells,
                "lve_ratio": None,
                "av_dose": None,
                "source": "; ".join(sources),
                "paper": _paper_link(method),
            }
        )
    return rows


def _paper_link(name: str) -> dict[str, str | None] | None:
    p = paper_for(name)
    return None if p is None else {"citation": p.citation, "url": p.url, "code": p.code}


def topology_vertices(topology: str) -> int | None:
    """Vertex count of a topology the project knows (the synthetic faces from their package data,
    FLAME and BIWI by definition); ``None`` for another."""
    if topology == "synth-head-v2":
        from ..datasets.synth.head import load_head

        return load_head().num_vertices
    if topology == "synth-face-v1":
        from ..datasets.synth.face import build_face

        return build_face().num_vertices
    return {"flame-5023": 5023, "biwi-23370": 23370}.get(topology)


def parameter_count(animator: dict[str, Any], protocol: str) -> int | None:
    """Trainable and frozen parameters of the animator a run's ``config.yaml`` describes, built for the
    protocol's topology, training subjects and fps as the harness builds it; ``None`` when the topology
    is unknown or the animator cannot be built here (a plug-in that is not installed)."""
    import torch

    from ..config import AnimatorSpec
    from ..training.animator import build_animator_for, dataset_convention

    proto = get_protocol(protocol)
    vertices = topology_vertices(proto.topology)
    if vertices is None:
        return None
    state = torch.get_rng_state()  # building initialises weights: leave the caller's RNG as it was
    try:
        spec = AnimatorSpec.model_validate(animator)
        model = build_animator_for(spec, vertices, len(proto.train_subjects), proto.fps,
                                   dataset_convention(protocol))
    except Exception:  # a plug-in that is not installed here, a config this version cannot build
        return None
    finally:
        torch.set_rng_state(state)
    return sum(p.numel() for p in model.parameters())


def model_table(runs: list[RunEntry]) -> list[dict[str, Any]]:
    """One row per animator of a protocol's runs: its registry name, architecture settings, training
    recipe and data (from the runs' resolved ``config.yaml``), seeds, and its paper and code."""
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(runs, key=lambda e: e.result.run_id):
        res, cfg = entry.result, entry.config
        if res.kind != "method" or res.animator.name in out:
            continue
        animator = cfg.get("animator") or {}
        training = cfg.get("training") or {}
        data = cfg.get("data") or {}
        registry = str(animator.get("registry", res.animator.spec.get("registry", "")))
        kwargs = animator.get("kwargs") or {}
        size = ", ".join(f"{k} {v}" for k, v in sorted(kwargs.items())
                         if k in ("feature_dim", "num_layers", "ffn_dim", "hidden_dim", "kernel_size"))
        steps = animator.get("steps") or training.get("steps")
        recipe = f"{steps} steps, lr {animator.get('lr') or training.get('lr')}"
        if registry == "codetalker":
            vq = animator.get("vq") or {}
            codes = f"{vq.get('face_quan_num')} x {vq.get('zquant_dim')} codes, {vq.get('n_embed')} entries"
            recipe = f"stage 1 (VQ, {codes}): {training.get('vq_steps')} steps; stage 2: " + recipe
        sentences = data.get("corpus_sentences")
        corpus = f"{data.get('protocol')}" + (f", {sentences} sentences per speaker" if sentences else "")
        out[res.animator.name] = {
            "animator": res.animator.name,
            "registry": registry,
            "parameters": parameter_count(animator, str(data.get("protocol", res.protocol))),
            "size": size,
            "recipe": recipe,
            "data": corpus,
            "seeds": len(res.seeds),
            "paper": _paper_link(registry),
        }
    return list(out.values())


def _mark_best(rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> None:
    """Flag the best method value of each column (``cell["best"]``; a signed metric's best is the value
    nearest 0); other rows never count."""
    for r in rows:
        for cell in r["cells"].values():
            cell["best"] = False
    for col in columns:
        name = col["metric"]
        values = [r["cells"][name]["mean"] for r in rows if r["kind"] == "method" and name in r["cells"]]
        if not values:
            continue
        best = best_of(col["best"], values)
        for r in rows:
            cell = r["cells"].get(name)
            if cell is not None:
                cell["best"] = r["kind"] == "method" and cell["mean"] == best


def _ratio_column(runs: list[RunEntry], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fill ``row["lve_ratio"]`` (LVE / template LVE, ± std / template LVE) of every run row with an LVE;
    ``None`` (no column) without a template row that has a non-zero LVE. Rows whose run also scored
    training sequences (``train_metrics``) show that ratio too, against the template on the same
    training sequences: far below the test ratio is over-fitting."""
    template = next(
        (r.result for r in runs if r.result.kind == "template" and "lve" in r.result.metrics), None
    )
    if template is None or template.metrics["lve"].value == 0:
        return None
    ref = template.metrics["lve"].value
    train = template.train_metrics or {}
    train_ref = train["lve"].value if "lve" in train and train["lve"].value > 0 else None
    by_id = {r.result.run_id: r.result for r in runs}
    for row in rows:
        res = by_id.get(row["run_id"]) if row["kind"] != "reported" else None
        if res is None or "lve" not in res.metrics:
            continue
        m = res.metrics["lve"]
        ratio, spread = m.value / ref, m.std / ref
        row["lve_ratio"] = {
            "mean": ratio, "std": spread, "text": f"{ratio:.2f} ± {spread:.2f}", "sort": ratio,
            "value_text": f"{ratio:.2f}", "std_text": f"± {spread:.2f}", "train_text": None,
            # a trained model that does not beat the motionless template has not learned the task
            "above_template": res.kind == "method" and ratio >= 1.0,
        }
        if train_ref and res.train_metrics and "lve" in res.train_metrics:
            row["lve_ratio"]["train"] = res.train_metrics["lve"].value / train_ref
            row["lve_ratio"]["text"] += f" (train {row['lve_ratio']['train']:.2f})"
            row["lve_ratio"]["train_text"] = f"train {row['lve_ratio']['train']:.2f}"
    return {
        "header": f"LVE / template ({template.metrics['lve'].variant}"
        + ("; training split in brackets)" if train_ref else ")"),
        "template_run": template.run_id,
        "template_lve": ref / template.metrics["lve"].report_scale,
    }


def _baselines(runs: list[RunEntry]) -> dict[str, RunEntry]:
    return {
        r.result.animator.name: r
        for r in runs
        if r.result.kind == "method" and r.result.guidance.is_baseline
    }


def _lrlv_runs(runs: list[RunEntry]) -> dict[str, RunEntry]:
    """Animator name → its ``lrlv`` run (the AV recipe's lip-vertex MSE alone)."""
    return {
        r.result.animator.name: r
        for r in runs
        if r.result.kind == "method" and r.result.guidance.lrlv and not r.result.guidance.phonetic
        and not r.result.guidance.text
    }


#: the two comparisons of the guidance table: a guided run against its animator's baseline, and an
#: AV run against its animator's ``lrlv`` run (what the lip reader adds to the lip-vertex MSE)
Comparison = tuple[str, str, str]  # (protocol, guided run id, "baseline" | "lrlv")


def guidance_effects(runs_by_protocol: dict[str, list[RunEntry]]) -> dict[Comparison, GuidanceEffect]:
    """``(protocol, guided run id, reference)`` → the guided run's :class:`GuidanceEffect`.

    ``reference`` is ``"baseline"`` (every guided run against its animator's baseline run) or ``"lrlv"``
    (an AV run, without the phonetic loss, against its animator's ``lrlv`` run). Recomputed from the
    runs' ``per_sample.jsonl``; an effect stored in the guided ``result.json`` (``guidance_effect`` /
    ``lip_reader_effect``) must name that reference run and equal the recomputation. Raises
    :class:`ResultsDirError` listing every problem.
    """
    out: dict[Comparison, GuidanceEffect] = {}
    problems: list[str] = []
    records: dict[Any, Any] = {}

    def recs(entry: RunEntry) -> Any:
        if entry.path not in records:
            records[entry.path] = load_per_sample(entry.path / "per_sample.jsonl")
        return records[entry.path]

    for protocol in sorted(runs_by_protocol):
        runs = runs_by_protocol[protocol]
        references = {"baseline": _baselines(runs), "lrlv": _lrlv_runs(runs)}
        for g in runs:
            res = g.result
            if res.kind != "method" or res.guidance.is_baseline:
                continue
            where = g.path / "result.json"
            for ref_kind, field in (("baseline", "guidance_effect"), ("lrlv", "lip_reader_effect")):
                stored = getattr(res, field)
                if ref_kind == "lrlv" and not (res.guidance.av and not res.guidance.phonetic):
                    continue
                b = references[ref_kind].get(res.animator.name)
                if b is None:
                    if stored is not None:
                        problems.append(
                            f"{where}: {field} names {ref_kind} run {stored.baseline_run!r}, "
                            f"but protocol {protocol} has no {ref_kind} run of {res.animator.name!r}"
                        )
                    continue
                try:
                    fresh = guidance_effect(b.result, recs(b), res, recs(g))
                except (ValueError, ResultFileError) as exc:
                    problems.append(f"{where}: no {field} against {b.result.run_id}: {exc}")
                    continue
                if stored is not None:
                    for issue in effects_match(stored, fresh):
                        problems.append(f"{where}: stored {field} does not match its recomputation "
                                        f"against {b.result.run_id} (re-run the grid to refresh it): {issue}")
                out[(protocol, res.run_id, ref_kind)] = fresh
    if problems:
        raise ResultsDirError(problems)
    return out


def _fmt_interval(lo: float, hi: float) -> str:
    return f"[{lo:+.3f}, {hi:+.3f}]"


def _guidance_rows(
    protocol: str, runs: list[RunEntry], columns: list[dict[str, Any]],
    effects: dict[Comparison, GuidanceEffect],
) -> list[dict[str, Any]]:
    methods = [r for r in runs if r.result.kind == "method"]
    references = {"baseline": _baselines(runs), "lrlv": _lrlv_runs(runs)}
    pairs = []
    for g in sorted(methods, key=lambda r: (r.result.animator.name, r.result.guidance.label)):
        for ref_kind in ("baseline", "lrlv"):
            b = references[ref_kind].get(g.result.animator.name)
            effect = effects.get((protocol, g.result.run_id, ref_kind))
            if not g.result.guidance.is_baseline and b is not None and effect is not None:
                pairs.append((g, b, effect, ref_kind))
    rows = []
    for g, b, effect, ref_kind in pairs:
        cells = {}
        for col in columns:
            name = col["metric"]
            mb, mg, e = b.result.metrics.get(name), g.result.metrics.get(name), effect.metrics.get(name)
            if mb is None or mg is None or e is None:
                continue
            scale = mb.report_scale
            delta, lo, hi = e.mean / scale, e.ci_low / scale, e.ci_high / scale
            cell: dict[str, Any] = {
                "baseline": _cell(mb, col["best"]),
                "guided": _cell(mg, col["best"]),
                "delta": {
                    "mean": delta, "low": lo, "high": hi, "per_seed": [d / scale for d in e.per_seed],
                    "text": f"{delta:+.3f} {_fmt_interval(lo, hi)}", "sort": delta,
                    "value_text": f"{delta:+.3f}", "interval_text": _fmt_interval(lo, hi),
                },
                "distance": None,
                "verdict": e.verdict,
                "verdict_text": e.verdict,
                "improved": {"better": True, "worse": False}.get(e.verdict),
            }
            if e.best == "zero":
                assert e.distance_mean is not None and e.distance_ci_low is not None
                assert e.distance_ci_high is not None
                dist = {"mean": e.distance_mean / scale, "low": e.distance_ci_low / scale,
                        "high": e.distance_ci_high / scale}
                cell["distance"] = dist
                interval = _fmt_interval(dist["low"], dist["high"])
                cell["verdict_text"] = f"{e.verdict} (|{name.upper()}| {dist['mean']:+.3f} {interval})"
            cells[name] = cell
        label = g.result.guidance.label
        rows.append(
            {
                "animator": g.result.animator.name,
                "guidance": label if ref_kind == "baseline" else f"{label} vs {b.result.guidance.label}",
                "reference": ref_kind,
                "reference_label": b.result.guidance.label,
                "baseline_run": b.result.run_id,
                "guided_run": g.result.run_id,
                "seeds": effect.seeds,
                "resamples": effect.resamples,
                "bootstrap_seed": effect.bootstrap_seed,
                "confidence": effect.confidence,
                "stored": (g.result.guidance_effect if ref_kind == "baseline" else g.result.lip_reader_effect)
                is not None,
                "cells": cells,
            }
        )
    return rows


def findings(guidance_rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary at the top of a protocol, generated from the stored verdicts only: for each
    guidance (in the guidance table's order) and each animator, the metrics whose 95 % interval says
    *better*, those that say *worse* (each with its Δ and interval) and those with no measurable
    effect."""
    order = [c["metric"] for c in columns]
    short = {c["metric"]: c["short"] for c in columns}
    out: list[dict[str, Any]] = []
    by_guidance: dict[str, dict[str, Any]] = {}
    for row in guidance_rows:
        group = by_guidance.get(row["guidance"])
        if group is None:
            group = {"guidance": row["guidance"], "reference": row["reference_label"], "animators": []}
            by_guidance[row["guidance"]] = group
            out.append(group)
        verdicts: dict[str, list[str]] = {"better": [], "worse": [], "none": []}
        for m in order:
            cell = row["cells"].get(m)
            if cell is None:
                continue
            if cell["verdict"] == "no measurable effect":
                verdicts["none"].append(short[m])
            elif cell["distance"] is not None:  # a signed metric: its verdict is on the distance from 0
                d = cell["distance"]
                text = f"|{short[m]}| {d['mean']:+.3f} {_fmt_interval(d['low'], d['high'])}"
                verdicts[cell["verdict"]].append(text)
            else:
                d = cell["delta"]
                verdicts[cell["verdict"]].append(f"{short[m]} {d['value_text']} {d['interval_text']}")
        group["animators"].append({"animator": row["animator"], **verdicts})
    # the guidance terms in the order the grid builds them up: Lrlv, the lip reader on top of it, the
    # phonetic loss, both
    rank = {"+Lrlv": 0, "+AV": 1, "+AV vs +Lrlv": 2, "+phonetic": 3, "+AV +phonetic": 4}
    return sorted(out, key=lambda g: (rank.get(g["guidance"], len(rank)), g["guidance"]))


def _provenance(runs: list[RunEntry]) -> dict[str, Any]:
    first = runs[0].result if runs else None
    reader = next((r.result.reader for r in runs if r.result.reader is not None), None)
    expert = next((r.result.expert for r in runs if r.result.expert is not None), None)
    masks = {}
    for r in runs:
        for role, m in r.result.masks.items():
            masks.setdefault(role, {"id": m.id, "sha256": m.sha256})
    return {
        "dataset_id": first.dataset.id if first else None,
        "dataset_sha256": first.dataset.content_sha256 if first else None,
        "reader": reader.model_dump() if reader else None,
        "expert": expert.model_dump() if expert else None,
        "masks": dict(sorted(masks.items())),
    }


def build_tables(
    runs_by_protocol: dict[str, list[RunEntry]], reported: list[ReportedNumber]
) -> list[dict[str, Any]]:
    """One dict per protocol with its columns, result rows, guidance rows and provenance.

    Protocols with runs come first, then those with only reported numbers; each group sorted by id.
    """
    protocols = sorted(runs_by_protocol) + sorted({e.protocol for e in reported} - set(runs_by_protocol))
    effects = guidance_effects(runs_by_protocol)
    tables = []
    for protocol in protocols:
        runs = runs_by_protocol.get(protocol, [])
        rep = [e for e in reported if e.protocol == protocol]
        proto = get_protocol(protocol)
        columns = _columns(protocol, runs, rep)
        bests = {c["metric"]: c["best"] for c in columns}
        rows = sorted(
            (_run_row(r, protocol, bests) for r in runs),
            key=lambda row: (_KIND_ORDER[row["kind"]], row["animator"], row["guidance"] != "baseline",
                             row["guidance"], row["run_id"]),
        )
        rows += _reported_rows(rep, columns)
        _mark_best(rows, columns)
        ratio = _ratio_column(runs, rows)
        groups: list[dict[str, Any]] = []
        for c in columns:
            if groups and groups[-1]["id"] == c["group"]:
                groups[-1]["span"] += 1
            else:
                groups.append({"id": c["group"], "title": c["group_title"], "span": 1})
        tables.append(
            {
                "protocol": protocol,
                "groups": groups,
                "dataset": proto.dataset,
                "topology": proto.topology,
                "fps": proto.fps,
                "test_condition": proto.test_condition,
                "notes": proto.notes,
                "columns": columns,
                "rows": rows,
                "lve_ratio": ratio,
                "guidance_rows": (g_rows := _guidance_rows(protocol, runs, columns, effects)),
                "findings": findings(g_rows, columns),
                "provenance": _provenance(runs),
                "models": model_table(runs),
                "n_runs": len(runs),
            }
        )
    return tables
