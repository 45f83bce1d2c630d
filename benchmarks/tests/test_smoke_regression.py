"""CI regression benchmark: run the ``smoke`` preset and compare it with the committed smoke results.

The baseline is ``benchmarks/regression/smoke/`` (``result.json`` files of a smoke run, written by
``talkbench regress refresh``). A metric that moves beyond the tolerance derived from its spread over
seeds (``talkbench.regression.tolerance``) fails the test with the comparison table. The only reason to
skip is a checkout without that folder: create it once with the command in the skip message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbench.regression import compare_dirs, format_report, load_result_set
from talkbench.regression.bracket import SMOKE_MAX_LVE_RATIO, check_beats_template

BASELINE = Path(__file__).resolve().parents[1] / "regression" / "smoke"


@pytest.mark.slow(seconds=260)
def test_smoke_preset_matches_committed_baseline(tmp_path: Path) -> None:
    if not BASELINE.is_dir():
        pytest.skip(
            f"no committed smoke baseline at {BASELINE}; create it with "
            "'talkbench run --preset smoke --results <dir> --no-site' then "
            "'talkbench regress refresh <dir>' and commit benchmarks/regression/smoke"
        )
    from talkbench.config import load_config
    from talkbench.run import run_grid

    # Everything from scratch in tmp_path: the corpus, stage-1 readers, checkpoints and results, so
    # that no cache from an older checkout can hide a change.
    overrides = [f"data.root={tmp_path / 'corpus'}", f"work_dir={tmp_path / 'work'}"]
    results = tmp_path / "results"
    run_dirs = run_grid(load_config("smoke", overrides), results)
    assert run_dirs, "the smoke preset produced no runs"
    for run_dir in run_dirs:
        assert (Path(run_dir) / "result.json").is_file(), f"{run_dir}: no result.json"
    fresh = load_result_set(results)
    assert len(fresh) == len(run_dirs)
    # The bracketing check on the fresh results: every animator's baseline clearly below the
    # motionless template (a regression back to "near template" cannot hide inside the tolerance).
    ratios, too_close = check_beats_template(fresh, SMOKE_MAX_LVE_RATIO)
    assert len(ratios) == 4, [r.label for r in ratios]  # FaceFormer, CodeTalker, joint, conv regressor
    assert not too_close, "\n".join(too_close)
    report = compare_dirs(results, BASELINE)
    assert report.passed, "\n" + format_report(report)
