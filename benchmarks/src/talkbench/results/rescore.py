"""Re-derive a run's per-seed metrics from its ``per_sample.jsonl`` and check ``result.json`` against them.

Per seed, over that seed's per-sample lines :math:`i` (frames :math:`T_i`, per-sample value :math:`x_i`):

* LVE, MVE (frame-pooled in ``facial_metrics``): :math:`\\sum_i T_i x_i / \\sum_i T_i`, since each
  :math:`x_i` is the mean over the sample's frames;
* FDD (sequence-weighted, CodeTalker ``cal_metric.py``): :math:`\\frac1S\\sum_i x_i`;
* MTM, SLCC, LOC (sequence-weighted, as their ``facial_metrics`` classes): the mean over the samples
  that define the value (MTM is undefined for a sequence without a matched lip-opening extremum, LOC
  for a ground truth whose opening is constant, SLCC for constant audio energy); a seed where no
  sample defines it has no value and the metric is left out of the run (:func:`defined_variants`);
* CER, WER: recomputed from the stored reference / hypothesis transcripts with the **current**
  ``facial_metrics`` scorer and normaliser, aggregate = the metric's variant (``"utterance"`` or
  ``"corpus"``);
* VER: recomputed from the transcripts with ``facial_metrics.viseme_error_rate``, variant
  ``"<viseme map>:<phone source>:<aggregate>"`` (e.g. ``"spectre:cmudict:utterance"``).

So a change to the text normaliser or the viseme map re-scores old runs, and a ``result.json`` whose
means were edited by hand no longer matches its samples.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from facial_metrics import (
    CharErrorRate,
    LipOpeningCorrelation,
    LipVertexError,
    MeanVertexError,
    SpeechLipCorrelation,
    TemporalMisalignment,
    UpperFaceDynamicsDeviation,
    VisemeErrorRate,
    WordErrorRate,
    char_error_rate,
    get_protocol,
    viseme_error_rate,
    word_error_rate,
)

from .io import load_per_sample, load_result
from .schema import MetricSummary, PerSampleRecord, RunResult, check_variant

__all__ = [
    "FRAME_POOLED",
    "METRIC_CLASSES",
    "SEQUENCE_MEAN",
    "check_consistency",
    "check_run_dir",
    "defined_variants",
    "per_seed_values",
    "rescore",
    "summarize",
]

#: the facial_metrics class of each metric (its ``higher_is_better`` fills the summaries)
METRIC_CLASSES = {
    "lve": LipVertexError,
    "fdd": UpperFaceDynamicsDeviation,
    "mve": MeanVertexError,
    "mtm": TemporalMisalignment,
    "slcc": SpeechLipCorrelation,
    "loc": LipOpeningCorrelation,
    "cer": CharErrorRate,
    "wer": WordErrorRate,
    "ver": VisemeErrorRate,
}
FRAME_POOLED: tuple[str, ...] = ("lve", "mve")
SEQUENCE_MEAN: tuple[str, ...] = ("fdd",)
#: sequence means over the samples that define the value
DEFINED_MEAN: tuple[str, ...] = ("mtm", "slcc", "loc")


def _text_rate(metric: str, variant: str, refs: list[str], hyps: list[str]) -> float:
    if metric in ("cer", "wer"):
        if variant not in ("utterance", "corpus"):
            raise ValueError(f"{metric} variant must be 'utterance' or 'corpus', got {variant!r}")
        fn = char_error_rate if metric == "cer" else word_error_rate
        return float(fn(refs, hyps, aggregate=variant))
    parts = variant.split(":")
    if len(parts) != 3:
        raise ValueError(f"ver variant must be '<map>:<phone source>:<aggregate>', got {variant!r}")
    vmap, source, aggregate = parts
    return float(
        viseme_error_rate(refs, hyps, viseme_map=vmap, phone_source=source, aggregate=aggregate)  # type: ignore[arg-type]
    )


def _seed_value(name: str, variant: str, seed: int, recs: list[PerSampleRecord]) -> float:
    if name in DEFINED_MEAN:
        values = [r.metrics[name] for r in recs if name in r.metrics]
        if not values:
            raise ValueError(f"seed {seed}: no sample defines metric {name!r}")
        return math.fsum(values) / len(values)
    if name in FRAME_POOLED or name in SEQUENCE_MEAN:
        missing = [r.sample_id for r in recs if name not in r.metrics]
        if missing:
            raise ValueError(f"seed {seed}: samples {missing[:5]} lack metric {name!r}")
        if name in FRAME_POOLED:
            total = sum(r.frames for r in recs)
            return math.fsum(r.metrics[name] * r.frames for r in recs) / total
        return math.fsum(r.metrics[name] for r in recs) / len(recs)
    missing = [r.sample_id for r in recs if r.reference is None]
    if missing:
        raise ValueError(f"seed {seed}: samples {missing[:5]} lack transcripts for {name!r}")
    return _text_rate(name, variant, [r.reference or "" for r in recs], [r.hypothesis or "" for r in recs])


def _by_seed(records: list[PerSampleRecord], seeds: Sequence[int]) -> dict[int, list[PerSampleRecord]]:
    by_seed: dict[int, list[PerSampleRecord]] = defaultdict(list)
    for r in records:
        by_seed[r.seed].append(r)
    stray = sorted(set(by_seed) - set(seeds))
    if stray:
        raise ValueError(f"samples for seeds {stray} that the result does not list ({list(seeds)})")
    empty = [s for s in seeds if not by_seed.get(s)]
    if empty:
        raise ValueError(f"seed {empty[0]} has no samples")
    return by_seed


def per_seed_values(
    records: list[PerSampleRecord], seeds: Sequence[int], variants: Mapping[str, str]
) -> dict[str, list[float]]:
    """Per-seed value of each metric in ``variants`` (metric → variant id), aggregated from ``records``
    by the rules of the module docstring, in the order of ``seeds``."""
    by_seed = _by_seed(records, seeds)
    return {
        name: [_seed_value(name, variant, seed, by_seed[seed]) for seed in seeds]
        for name, variant in variants.items()
    }


def defined_variants(
    records: list[PerSampleRecord], seeds: Sequence[int], variants: Mapping[str, str]
) -> dict[str, str]:
    """``variants`` without the :data:`DEFINED_MEAN` metrics that some seed's samples never define
    (e.g. MTM of a motionless template: its lip opening has no extremum to match)."""
    by_seed = _by_seed(records, seeds)
    return {
        name: variant
        for name, variant in variants.items()
        if name not in DEFINED_MEAN or all(any(name in r.metrics for r in by_seed[s]) for s in seeds)
    }


def rescore(result: RunResult, records: list[PerSampleRecord]) -> dict[str, list[float]]:
    """Per-seed values of every metric of ``result``, re-derived from ``records`` (module docstring).

    Raises ``ValueError`` when a seed has no samples or a sample lacks a metric or its transcripts.
    """
    return per_seed_values(records, result.seeds, {n: m.variant for n, m in result.metrics.items()})


def summarize(
    records: list[PerSampleRecord], seeds: Sequence[int], protocol: str, variants: Mapping[str, str]
) -> dict[str, MetricSummary]:
    """:class:`MetricSummary` of each metric in ``variants``, built from the per-sample records.

    Unit and report scale come from the protocol (LVE ``max_l2`` / ``mean_l2`` are in the linear unit
    of the protocol's MVE); ``higher_is_better`` is the ``facial_metrics`` class attribute; ``n`` is
    the number of samples per seed, which must be the same for every seed. The result is consistent
    with ``records`` by construction (:func:`check_consistency`).
    """
    proto = get_protocol(protocol)
    by_seed = _by_seed(records, seeds)
    counts = {len(by_seed[s]) for s in seeds}
    if len(counts) != 1:
        raise ValueError(f"seeds have different sample counts: { {s: len(by_seed[s]) for s in seeds} }")
    n = len(by_seed[seeds[0]])
    values = per_seed_values(records, seeds, variants)
    out = {}
    for name, variant in variants.items():
        check_variant(name, variant)
        linear = name == "lve" and variant in ("max_l2", "mean_l2")
        out[name] = MetricSummary.from_seeds(
            values[name],
            n=n,
            unit=proto.units["mve" if linear else name],
            variant=variant,
            report_scale=float(proto.report_scales[name]),
            higher_is_better=bool(METRIC_CLASSES[name].higher_is_better),
        )
    return out


def check_consistency(
    result: RunResult, records: list[PerSampleRecord], rel_tol: float = 1e-6, abs_tol: float = 1e-12
) -> list[str]:
    """Problems found when comparing ``result`` with its samples (empty list = consistent).

    Checks per seed: the number of samples equals each metric's ``n``; the re-derived value equals the
    stored ``per_seed`` value within ``rel_tol`` / ``abs_tol``.
    """
    problems: list[str] = []
    counts: dict[int, int] = defaultdict(int)
    for r in records:
        counts[r.seed] += 1
    try:
        derived = rescore(result, records)
    except ValueError as exc:
        return [str(exc)]
    for name, summary in result.metrics.items():
        for seed, stored, again in zip(result.seeds, summary.per_seed, derived[name]):
            if counts[seed] != summary.n:
                problems.append(f"{name}: seed {seed} has {counts[seed]} samples but n = {summary.n}")
            if not math.isclose(stored, again, rel_tol=rel_tol, abs_tol=abs_tol):
                problems.append(
                    f"{name}: seed {seed} stores {stored!r} but its samples give {again!r}"
                )
    return problems


def check_run_dir(run_dir: Path | str, rel_tol: float = 1e-6) -> list[str]:
    """:func:`check_consistency` of ``run_dir/result.json`` against ``run_dir/per_sample.jsonl``."""
    run_dir = Path(run_dir)
    return check_consistency(
        load_result(run_dir / "result.json"), load_per_sample(run_dir / "per_sample.jsonl"), rel_tol
    )
