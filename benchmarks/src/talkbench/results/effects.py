r"""Guidance effects with intervals: paired Δ = guided − baseline per seed, and a paired bootstrap CI.

A guided run ``g`` and the baseline run ``b`` of the same animator are evaluated on the same test items
(a test sequence under one style, keyed by ``(sample_id, style)``) with the same seeds. Each metric's
per-seed value is a ratio of sums over the seed's items :math:`i` (exactly the rule of
:mod:`talkbench.results.rescore`):

.. math:: M_{r,s}(I) = \frac{\sum_{i \in I} a_{r,s,i}}{\sum_{i \in I} w_{r,s,i}}

with, for the item's per-sample value :math:`x` and frame count :math:`T`:

* LVE, MVE (frame-pooled): :math:`a = T\,x`, :math:`w = T`;
* FDD (sequence mean): :math:`a = x`, :math:`w = 1`;
* MTM, SLCC, LOC (mean over the items that define the value): :math:`a = x`, :math:`w = 1` where the
  item defines it, :math:`a = w = 0` where it does not (a still prediction has no lip-motion offset);
* CER, WER, VER with aggregate ``utterance``: :math:`a = e/N`, :math:`w = 1`; with ``corpus``:
  :math:`a = e`, :math:`w = N` (edits :math:`e` and reference length :math:`N` recomputed from the
  stored transcripts by ``facial_metrics.edit_counts`` with the current normaliser).

When both runs have the same weights, :math:`M_g - M_b` is computed as
:math:`\sum (a_g - a_b) / \sum w` (the same number; a constant shift then stays exact in floating point).

**Paired Δ per seed**: :math:`d_s = M_{g,s}(I) - M_{b,s}(I)` over all items :math:`I`; the point
estimate is :math:`\bar d = \frac1S \sum_s d_s` (= guided value − baseline value of ``result.json``).

**Paired bootstrap over items and seeds** (the "pigeonhole" bootstrap of a crossed design, Owen 2007,
*Ann. Appl. Stat.* 1(1)): with ``rng = numpy.random.default_rng(BOOTSTRAP_SEED)``, draw the seed
indices ``rng.integers(0, S, size=(B, S))`` and then the item indices ``rng.integers(0, n, size=(B, n))``
(uniform, with replacement). Resample :math:`k` uses the **same** item indices :math:`I^*_k` for both
runs and all its seeds, and the same seed indices :math:`s^*_{k,1..S}` for both runs:

.. math::
    \bar G^*_k = \tfrac1S \textstyle\sum_j M_{g,s^*_{k,j}}(I^*_k), \quad
    \bar B^*_k = \tfrac1S \textstyle\sum_j M_{b,s^*_{k,j}}(I^*_k), \quad
    \Delta^*_k = \bar G^*_k - \bar B^*_k .

The 95 % interval is the percentile interval: the 2.5 % and 97.5 % quantiles of
:math:`\Delta^*_{1..B}` (``numpy.quantile``, default linear interpolation), ``B = 2000``,
``BOOTSTRAP_SEED = 20240917``.

For a signed metric whose best value is 0 (FDD; :mod:`talkbench.results.direction`) the change in
*distance from 0* is bootstrapped the same way, :math:`|\bar G^*_k| - |\bar B^*_k|`, with point
estimate :math:`|\bar g| - |\bar b|`.

**Verdict** (:func:`verdict`), from the interval of the change in badness (:math:`\Delta` for
lower-is-better, :math:`-\Delta` for higher-is-better, the change of :math:`|x|` for signed metrics):
``"better"`` when its upper end is below 0, ``"worse"`` when its lower end is above 0, otherwise
``"no measurable effect"`` (the interval contains 0).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from facial_metrics import VisemeTranscriber
from facial_metrics.text import edit_counts

from .direction import Best, metric_best, verdict
from .rescore import DEFINED_MEAN, FRAME_POOLED, METRIC_CLASSES, SEQUENCE_MEAN
from .schema import GuidanceEffect, MetricEffect, PerSampleRecord, RunResult

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "effects_match",
    "guidance_effect",
    "item_terms",
    "paired_bootstrap",
    "per_sample_sha256",
    "verdict",
]

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240917
CONFIDENCE = 0.95

ItemKey = tuple[str, str]


def _viseme_counts(refs: list[str], hyps: list[str], variant: str) -> list[tuple[int, int]]:
    """``(e, N)`` per pair on the viseme strings (``facial_metrics.viseme_error_rate``'s counts)."""
    vmap, source, _ = variant.split(":")
    transcribe = VisemeTranscriber(vmap, source)  # type: ignore[arg-type]
    return edit_counts([transcribe(r) for r in refs], [transcribe(h) for h in hyps], "char", normalize=None)


def item_terms(
    metric: str, variant: str, records: Sequence[PerSampleRecord]
) -> tuple[np.ndarray, np.ndarray]:
    """Numerators :math:`a_i` and weights :math:`w_i` of ``records`` (module docstring), float64."""
    if metric in FRAME_POOLED:
        x = np.array([r.metrics[metric] for r in records], dtype=np.float64)
        t = np.array([r.frames for r in records], dtype=np.float64)
        return t * x, t
    if metric in SEQUENCE_MEAN:
        x = np.array([r.metrics[metric] for r in records], dtype=np.float64)
        return x, np.ones_like(x)
    if metric in DEFINED_MEAN:
        w = np.array([1.0 if metric in r.metrics else 0.0 for r in records])
        x = np.array([r.metrics.get(metric, 0.0) for r in records], dtype=np.float64)
        return x, w
    refs = [r.reference or "" for r in records]
    hyps = [r.hypothesis or "" for r in records]
    if any(r.reference is None for r in records):
        raise ValueError(f"{metric}: samples lack transcripts")
    if metric == "ver":
        counts = _viseme_counts(refs, hyps, variant)
        aggregate = variant.split(":")[2]
    else:
        counts = edit_counts(refs, hyps, "char" if metric == "cer" else "word")
        aggregate = variant
    e = np.array([c[0] for c in counts], dtype=np.float64)
    n = np.array([c[1] for c in counts], dtype=np.float64)
    if aggregate == "corpus":
        return e, n
    return e / n, np.ones_like(e)


def _matrix(
    records: Sequence[PerSampleRecord], seeds: Sequence[int], items: list[ItemKey], metric: str, variant: str,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """``(S, n)`` numerators and weights, items in the order of ``items``."""
    a = np.empty((len(seeds), len(items)))
    w = np.empty_like(a)
    for k, seed in enumerate(seeds):
        by_item = {(r.sample_id, r.style or ""): r for r in records if r.seed == seed}
        if sorted(by_item) != items:
            raise ValueError(f"{what}: seed {seed} does not score the same test items as the other run")
        ordered = [by_item[key] for key in items]
        a[k], w[k] = item_terms(metric, variant, ordered)
    return a, w


def paired_bootstrap(
    a_base: np.ndarray,
    w_base: np.ndarray,
    a_guided: np.ndarray,
    w_guided: np.ndarray,
    *,
    best: Best,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, float | list[float]]:
    """The paired Δ of one metric and its bootstrap intervals (module docstring), from ``(S, n)`` arrays.

    Returns ``per_seed`` (:math:`d_s`), ``mean``, ``ci_low``, ``ci_high`` and, for ``best == "zero"``,
    ``distance_mean``, ``distance_ci_low``, ``distance_ci_high``.
    """
    arrays = [np.asarray(x, dtype=np.float64) for x in (a_base, w_base, a_guided, w_guided)]
    shape = arrays[0].shape
    if len(shape) != 2 or any(x.shape != shape for x in arrays) or 0 in shape:
        shapes = [x.shape for x in arrays]
        raise ValueError(f"need four (seeds, items) arrays of one non-empty shape, got {shapes}")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    ab, wb, ag, wg = arrays
    n_seeds, n_items = shape
    same_weights = bool(np.array_equal(wb, wg))

    def delta(sum_ab: np.ndarray, sum_wb: np.ndarray, sum_ag: np.ndarray, sum_wg: np.ndarray) -> np.ndarray:
        # with equal weights, Σ(a_g − a_b)/Σw: the same number, but a constant shift stays exact
        if same_weights:
            return (sum_ag - sum_ab) / sum_wb
        return sum_ag / sum_wg - sum_ab / sum_wb

    per_seed_b = ab.sum(axis=1) / wb.sum(axis=1)
    per_seed_g = ag.sum(axis=1) / wg.sum(axis=1)
    d = delta(ab.sum(axis=1), wb.sum(axis=1), ag.sum(axis=1), wg.sum(axis=1))
    rng = np.random.default_rng(seed)
    seed_idx = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    item_idx = rng.integers(0, n_items, size=(resamples, n_items))
    counts = np.zeros((resamples, n_items))
    np.add.at(counts, (np.arange(resamples)[:, None], item_idx), 1.0)
    sums = [counts @ x.T for x in (ab, wb, ag, wg)]  # (B, S): sums over the resampled items I*_k
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of only undefined items: NaN, left out
        dk = np.take_along_axis(delta(*sums), seed_idx, axis=1).mean(axis=1)  # Δ*_k
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.nanquantile(dk, [tail, 1.0 - tail])
    out: dict[str, float | list[float]] = {
        "per_seed": [float(x) for x in d],
        "mean": float(d.mean()),
        "ci_low": float(lo),
        "ci_high": float(hi),
    }
    if best == "zero":
        gbar = np.take_along_axis(sums[2] / sums[3], seed_idx, axis=1).mean(axis=1)
        bbar = np.take_along_axis(sums[0] / sums[1], seed_idx, axis=1).mean(axis=1)
        dlo, dhi = np.nanquantile(np.abs(gbar) - np.abs(bbar), [tail, 1.0 - tail])
        out["distance_mean"] = float(abs(per_seed_g.mean()) - abs(per_seed_b.mean()))
        out["distance_ci_low"] = float(dlo)
        out["distance_ci_high"] = float(dhi)
    return out


def per_sample_sha256(records: Sequence[PerSampleRecord]) -> str:
    """sha256 of the records in canonical form (identifies the baseline an effect was computed from)."""
    h = hashlib.sha256()
    for r in sorted(records, key=lambda r: (r.seed, r.sample_id, r.style or "")):
        h.update(r.model_dump_json().encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def guidance_effect(
    baseline: RunResult,
    baseline_records: Sequence[PerSampleRecord],
    guided: RunResult,
    guided_records: Sequence[PerSampleRecord],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> GuidanceEffect:
    """The :class:`GuidanceEffect` of ``guided`` against ``baseline`` for every metric both runs have.

    Uses the seeds both runs list (in the guided run's order); raises ``ValueError`` when they share no
    seed, when a metric's variant differs, or when a seed's test items differ between the runs.
    """
    seeds = [s for s in guided.seeds if s in baseline.seeds]
    if not seeds:
        raise ValueError(
            f"{guided.run_id} (seeds {guided.seeds}) and {baseline.run_id} (seeds {baseline.seeds}) "
            "share no seed"
        )
    keys = {(r.sample_id, r.style or "") for r in guided_records if r.seed == seeds[0]}
    items = sorted(keys)
    metrics: dict[str, MetricEffect] = {}
    for name, mg in guided.metrics.items():
        mb = baseline.metrics.get(name)
        if mb is None:
            continue
        if mb.variant != mg.variant:
            raise ValueError(f"{name}: variant {mg.variant!r} of {guided.run_id} differs from {mb.variant!r}")
        best = metric_best(name, bool(METRIC_CLASSES[name].higher_is_better) if name in METRIC_CLASSES
                           else mg.higher_is_better)
        ab, wb = _matrix(baseline_records, seeds, items, name, mb.variant, baseline.run_id)
        ag, wg = _matrix(guided_records, seeds, items, name, mg.variant, guided.run_id)
        stats = paired_bootstrap(ab, wb, ag, wg, best=best, resamples=resamples, seed=seed)
        lo, hi = (
            (stats["distance_ci_low"], stats["distance_ci_high"]) if best == "zero"
            else (stats["ci_low"], stats["ci_high"])
        )
        metrics[name] = MetricEffect(
            best=best,
            n_items=len(items),
            verdict=verdict(best, float(lo), float(hi)),  # type: ignore[arg-type]
            **stats,  # type: ignore[arg-type]
        )
    return GuidanceEffect(
        baseline_run=baseline.run_id,
        baseline_per_sample_sha256=per_sample_sha256(baseline_records),
        seeds=seeds,
        resamples=resamples,
        bootstrap_seed=seed,
        confidence=CONFIDENCE,
        metrics=metrics,  # type: ignore[arg-type]
    )


def _close(a: float, b: float, rel_tol: float) -> bool:
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=1e-15)


def effects_match(stored: GuidanceEffect, fresh: GuidanceEffect, rel_tol: float = 1e-9) -> list[str]:
    """Differences between a stored effect and its recomputation (empty list = the same)."""
    problems: list[str] = []
    for attr in ("baseline_run", "baseline_per_sample_sha256", "seeds", "resamples", "bootstrap_seed",
                 "confidence"):
        if getattr(stored, attr) != getattr(fresh, attr):
            problems.append(f"guidance_effect.{attr} {getattr(stored, attr)!r} != {getattr(fresh, attr)!r}")
    if problems:
        return problems
    if set(stored.metrics) != set(fresh.metrics):
        return [f"guidance_effect metrics {sorted(stored.metrics)} != {sorted(fresh.metrics)}"]
    for name, s in stored.metrics.items():
        f = fresh.metrics[name]
        for attr, a in s.model_dump().items():
            b = getattr(f, attr)
            if isinstance(a, list):
                same = len(a) == len(b) and all(_close(x, y, rel_tol) for x, y in zip(a, b))
            elif isinstance(a, float) and b is not None:
                same = _close(a, b, rel_tol)
            else:
                same = a == b
            if not same:
                problems.append(f"guidance_effect {name}.{attr}: stored {a!r}, recomputed {b!r}")
    return problems
