"""Hand-made ``result.json`` records for the regression-check tests (synth protocol, raw units)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from talkbench.results import MetricSummary, RunResult, write_result

#: synth protocol report scales and units (facial_metrics protocols; baselines.md §5 scales)
SCALES = {"lve": 1e-5, "fdd": 1e-7, "mve": 1e-3, "cer": 1e-2, "wer": 1e-2, "ver": 1e-2}
UNITS = {"lve": "m²", "fdd": "m²", "mve": "m", "cer": "fraction", "wer": "fraction"}
VARIANTS = {"lve": "max_sq", "fdd": "codetalker", "mve": "l2", "cer": "utterance", "wer": "utterance"}
VERSIONS = {
    "talkbench": "0.1.0", "facial-metrics": "0.1.0", "mesh-renderer": "0.1.0", "lipread-expert": "0.1.0",
    "facial-animator": "0.1.0", "torch": "2.13.0", "numpy": "2.0.0",
}


def summary(per_seed: list[float], metric: str, **overrides: Any) -> MetricSummary:
    fields = {"n": 4, "unit": UNITS[metric], "variant": VARIANTS[metric], "report_scale": SCALES[metric]}
    fields.update(overrides)
    return MetricSummary.from_seeds(per_seed, **fields)


def make_result(
    run_id: str,
    metrics: dict[str, MetricSummary],
    *,
    kind: str = "method",
    animator: str = "faceformer",
    av: bool = False,
    seeds: list[int] | None = None,
    data: bytes = b"corpus",
) -> RunResult:
    n_seeds = len(next(iter(metrics.values())).per_seed)
    text = any(m in ("cer", "wer", "ver") for m in metrics)
    return RunResult(
        schema_version=1,
        run_id=run_id,
        kind=kind,
        protocol="synth",
        dataset={"id": "synth", "content_sha256": hashlib.sha256(data).hexdigest()},
        animator={"name": animator, "spec": {}},
        guidance={"av": av},
        seeds=seeds if seeds is not None else list(range(n_seeds)),
        metrics=metrics,
        reader={"id": "reader", "checkpoint_sha256": hashlib.sha256(b"reader").hexdigest()} if text else None,
        versions=VERSIONS,
        hardware={"cpu": "test", "cores": 2},
        wall_time_s=1.0,
        date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )


@pytest.fixture()
def metric() -> Callable[..., MetricSummary]:
    """``metric(per_seed, name, **overrides)``: a summary with the synth protocol's scale and unit."""
    return summary


@pytest.fixture()
def result() -> Callable[..., RunResult]:
    """``result(run_id, metrics, kind=..., animator=..., av=..., seeds=..., data=...)``."""
    return make_result


@pytest.fixture()
def write_set(tmp_path: Path) -> Callable[[str, list[RunResult]], Path]:
    """Write results as ``<tmp>/<name>/synth/<run_id>/result.json``; return ``<tmp>/<name>``."""

    def write(name: str, results: list[RunResult]) -> Path:
        root = tmp_path / name
        for r in results:
            write_result(root / r.protocol / r.run_id / "result.json", r)
        root.mkdir(parents=True, exist_ok=True)
        return root

    return write
