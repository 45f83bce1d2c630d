"""The committed default results are what this checkout computes.

``leaderboard/results/`` holds the default grid's runs, published on the site. A change that moves the
numbers must regenerate them (``scripts/benchmark``) in the same change. Two checks, cheap enough for CI:

* **drift**: one committed cell, the conv regressor's baseline, is recomputed from scratch for its first
  seed (corpus, training, evaluation; no sample video) and its per-sample records must equal the
  committed ones byte for byte;
* **stale keys**: every committed row whose cache key differs from the one this checkout computes is
  listed in a warning (the README's main command would recompute those rows instead of reusing them).
  Any edit of the project's Python sources changes the keys, so a stale key alone is not a failure; a
  moved number is.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "leaderboard" / "results"
CELL = ("Conv regressor", "baseline")


def _committed(protocol: str) -> Path:
    root = RESULTS / protocol
    if not root.is_dir():
        pytest.skip(f"no committed default results under {root}: run scripts/benchmark and commit them")
    return root


@pytest.mark.slow(seconds=40)
def test_a_committed_cell_is_what_this_checkout_computes(tmp_path: Path) -> None:
    from talkbench.config import load_config
    from talkbench.results import load_result, run_cache_key
    from talkbench.run import prepare, run_cell

    committed = load_config("default")
    root = _committed(committed.data.protocol)
    # the same corpus, generated afresh; one seed of one cell
    overrides = [f"data.root={tmp_path / 'corpus'}", f"work_dir={tmp_path / 'work'}", "sample_videos=false"]
    config = load_config("default", [*overrides, f"seeds=[{committed.seeds[0]}]"])
    spec = next(s for s in config.run_specs() if (s.animator.name, s.variant) == CELL)
    ctx = prepare(config, tmp_path / "results", progress=False, say=lambda _: None)
    fresh = run_cell(ctx, spec) / "per_sample.jsonl"

    want_path = root / spec.run_id / "per_sample.jsonl"
    assert want_path.is_file(), f"{want_path}: the committed default results lack this cell"
    seed = committed.seeds[0]
    want = [ln for ln in want_path.read_bytes().splitlines() if json.loads(ln)["seed"] == seed]
    got = fresh.read_bytes().splitlines()
    assert want, f"{want_path}: no records of seed {seed}"
    differ = [json.loads(w)["sample_id"] for w, g in zip(want, got) if w != g]
    assert len(got) == len(want) and not differ, (
        f"{want_path}: the committed records of seed {seed} differ from what this checkout computes "
        f"({len(got)} records against {len(want)}; items that differ: {differ[:8]}). The change moves the "
        "default grid's numbers: regenerate leaderboard/results with scripts/benchmark and commit them"
    )

    # stale keys: listed, not failed (the keys of the committed config, on the same data content)
    from facial_animator import get_animator
    from talkbench.results import animator_code_version

    stale = []
    for s in committed.run_specs():
        path = root / s.run_id / "result.json"
        if not path.is_file():
            stale.append(f"{s.run_id} (missing)")
            continue
        code = ctx.code + animator_code_version(get_animator(s.animator.registry))
        if load_result(path).cache_key != run_cache_key(s.resolved(), ctx.data_hash, code):
            stale.append(s.run_id)
    if stale:
        warnings.warn(
            f"{len(stale)} committed default rows carry a cache key other than this checkout's "
            f"(scripts/benchmark would recompute them): {', '.join(stale)}",
            stacklevel=1,
        )
