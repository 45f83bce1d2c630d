"""The regression check on hand-made results: tolerance rule, direction, missing rows, table.

Expected tolerances are worked by hand from the rule tol = max(k·σ, rel·|b|, floor·report_scale) with
the defaults k = 3, rel = 0.10 and the per-metric floors (LVE 0.05 ×1e-5, FDD 0.5 ×1e-7, CER 2 ×1e-2).
"""

from __future__ import annotations

import math

import pytest

from talkbench.regression import (
    ToleranceRule,
    compare_dirs,
    compare_results,
    format_report,
    judge,
    load_result_set,
)
from talkbench.regression.compare import RegressionInputError

# baseline LVE over three seeds: mean 1.1e-5, sample std 1e-6 → tol = max(3e-6, 1.1e-6, 5e-7) = 3e-6
BASE_LVE = [1.0e-5, 1.2e-5, 1.1e-5]


def _one(report, metric: str, animator: str = "faceformer"):
    hits = [c for c in report.comparisons if c.metric == metric and c.row[2] == animator]
    assert len(hits) == 1, hits
    return hits[0]


def _compare(write_set, base, new, rule=None):
    return compare_dirs(write_set("new", new), write_set("base", base), rule)


def test_regression_beyond_tolerance_fails(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    new = [result("ff", {"lve": metric([1.5e-5] * 3, "lve")})]  # +4e-6 > 3e-6
    report = _compare(write_set, base, new)
    c = _one(report, "lve")
    assert math.isclose(c.tolerance, 3e-6, rel_tol=1e-9)
    assert c.verdict == "REGRESSED"
    assert not report.passed and report.failures == [c]


def test_change_within_tolerance_passes(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    new = [result("ff", {"lve": metric([1.3e-5] * 3, "lve")})]  # +2e-6 < 3e-6
    report = _compare(write_set, base, new)
    assert _one(report, "lve").verdict == "ok"
    assert report.passed


def test_improvement_passes_unless_asked_to_fail(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    new = [result("ff", {"lve": metric([0.5e-5] * 3, "lve")})]  # −6e-6: better by more than tol
    report = _compare(write_set, base, new)
    assert _one(report, "lve").verdict == "improved"
    assert report.passed
    strict = _compare(write_set, base, new, ToleranceRule(fail_on_improvement=True))
    assert _one(strict, "lve").verdict == "IMPROVED"
    assert not strict.passed


def test_spread_of_the_new_run_widens_the_tolerance(write_set, metric, result) -> None:
    # baseline one seed (std 0); new seeds [1e-5, 3e-5]: mean 2e-5, std √2·1e-5 → tol = 3·√2·1e-5 ≈ 4.24e-5
    base = [result("ff", {"lve": metric([1.0e-5], "lve")})]
    new = [result("ff", {"lve": metric([1.0e-5, 3.0e-5], "lve")})]
    c = _one(_compare(write_set, base, new), "lve")
    assert math.isclose(c.tolerance, 3 * math.sqrt(2) * 1e-5, rel_tol=1e-9)
    assert c.verdict == "ok"


def test_relative_floor_with_a_single_seed(write_set, metric, result) -> None:
    # CER 0.5 on one seed: tol = max(0, 0.05, 2·0.01) = 0.05
    base = [result("ff", {"cer": metric([0.50], "cer")})]
    ok = _one(_compare(write_set, base, [result("ff", {"cer": metric([0.54], "cer")})]), "cer")
    bad = _one(_compare(write_set, base, [result("ff", {"cer": metric([0.56], "cer")})]), "cer")
    assert math.isclose(ok.tolerance, 0.05, rel_tol=1e-9)
    assert (ok.verdict, bad.verdict) == ("ok", "REGRESSED")


def test_absolute_floor_and_two_sided_fdd(write_set, metric, result) -> None:
    # FDD 1e-8 (signed, near zero): tol = max(0, 1e-9, 0.5·1e-7) = 5e-8; fdd is two-sided by default
    base = [result("ff", {"fdd": metric([1e-8], "fdd")})]
    small = _one(_compare(write_set, base, [result("ff", {"fdd": metric([3e-8], "fdd")})]), "fdd")
    lower = _one(_compare(write_set, base, [result("ff", {"fdd": metric([-1e-7], "fdd")})]), "fdd")
    assert math.isclose(small.tolerance, 5e-8, rel_tol=1e-9)
    assert small.verdict == "ok"
    assert lower.verdict == "CHANGED"  # lower, but exaggerated upper-face motion: a change, not a win
    # judged one-sided, FDD is compared by its distance from 0: 1e-8 → −1e-7 moves away from 0
    one_sided = _compare(
        write_set, base, [result("ff", {"fdd": metric([-1e-7], "fdd")})], ToleranceRule(two_sided=())
    )
    assert _one(one_sided, "fdd").verdict == "REGRESSED"
    far = [result("ff", {"fdd": metric([-2e-7], "fdd")})]
    near = [result("ff", {"fdd": metric([1e-8], "fdd")})]
    closer = _compare(write_set, far, near, ToleranceRule(two_sided=()))
    assert _one(closer, "fdd").verdict == "improved"  # higher, and nearer 0
    assert "closer to 0" in format_report(
        _compare(write_set, far, [result("ff", {"fdd": metric([1e-8], "fdd")})])
    )


@pytest.mark.parametrize(
    ("base", "new", "verdict"),
    [(-2.0, 1.0, "improved"), (1.0, -2.0, "REGRESSED"), (0.5, -0.5, "ok"), (2.0, 0.5, "improved")],
)
def test_signed_metric_is_judged_by_distance_from_zero(base: float, new: float, verdict: str) -> None:
    rule = ToleranceRule(two_sided=())
    assert judge(rule, "fdd", base, new, 0.1, False) == verdict


@pytest.mark.parametrize(
    ("higher_is_better", "new", "verdict"),
    [(False, 0.7, "REGRESSED"), (False, 0.3, "improved"), (True, 0.7, "improved"), (True, 0.3, "REGRESSED")],
)
def test_direction_follows_higher_is_better(higher_is_better: bool, new: float, verdict: str) -> None:
    assert judge(ToleranceRule(), "cer", 0.5, new, 0.05, higher_is_better) == verdict


def test_missing_row_and_metric_fail_clearly(write_set, metric, result) -> None:
    base = [
        result("ff", {"lve": metric(BASE_LVE, "lve"), "wer": metric([0.2] * 3, "wer")}),
        result("gt", {"cer": metric([0.1] * 3, "cer")}, kind="ground truth", animator="ground truth"),
    ]
    new = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    report = _compare(write_set, base, new)
    verdicts = {(c.row[1], c.metric): (c.verdict, c.detail) for c in report.comparisons}
    assert verdicts[("method", "wer")] == ("MISSING", "metric absent from new results")
    assert verdicts[("ground truth", "cer")] == ("MISSING", "row absent from the new results")
    assert verdicts[("method", "lve")][0] == "ok"
    assert len(report.failures) == 2
    table = format_report(report)
    assert "synth | ground truth" in table and "row absent from the new results" in table


def test_new_rows_and_metrics_are_listed_but_pass(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    new = [
        result("ff", {"lve": metric(BASE_LVE, "lve"), "mve": metric([1e-3] * 3, "mve")}),
        result("ff-av", {"lve": metric(BASE_LVE, "lve")}, av=True),
    ]
    report = _compare(write_set, base, new)
    assert report.passed
    assert sorted((c.row[3], c.metric, c.verdict) for c in report.comparisons) == [
        ("+AV", "lve", "new"), ("baseline", "lve", "ok"), ("baseline", "mve", "new"),
    ]
    assert any("refresh the baseline" in n for n in report.notes)


def test_rows_match_by_identity_not_run_id(write_set, metric, result) -> None:
    base = [result("faceformer-2024", {"lve": metric(BASE_LVE, "lve")}, av=True)]
    new = [result("faceformer-av-x", {"lve": metric([1.5e-5] * 3, "lve")}, av=True)]
    report = _compare(write_set, base, new)
    assert [(c.row, c.verdict) for c in report.comparisons] == [
        (("synth", "method", "faceformer", "+AV"), "REGRESSED")
    ]


def test_variant_change_is_incomparable(write_set, metric, result) -> None:
    base = [result("ff", {"cer": metric([0.5] * 3, "cer")})]
    new = [result("ff", {"cer": metric([0.5] * 3, "cer", variant="corpus")})]
    c = _one(_compare(write_set, base, new), "cer")
    assert c.verdict == "INCOMPARABLE" and "variant 'utterance' → 'corpus'" in c.detail


def test_seed_and_data_changes_are_noted(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")})]
    new = [result("ff", {"lve": metric(BASE_LVE, "lve")}, seeds=[5, 6, 7], data=b"other corpus")]
    report = _compare(write_set, base, new)
    assert report.passed
    assert any("seeds differ" in n for n in report.notes)
    assert any("dataset content hash differs" in n for n in report.notes)


def test_table_shows_report_units_tolerance_and_verdict(write_set, metric, result) -> None:
    base = [result("ff", {"lve": metric(BASE_LVE, "lve")}, av=True)]
    new = [result("ff", {"lve": metric([1.5e-5] * 3, "lve")}, av=True)]
    text = format_report(_compare(write_set, base, new))
    lines = text.splitlines()
    assert lines[0].startswith("regression check FAILED: 1 failing of 1 comparisons")
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    for col in ("metric", "row", "baseline mean ± std", "new value", "tolerance", "verdict"):
        assert col in lines[header]
    row = lines[header + 2]
    cells = ("lve ×1e-05 m²", "synth | faceformer +AV", "1.1 ± 0.1", "1.5 ± 0", "±0.3", "REGRESSED (Δ +0.4)")
    for cell in cells:
        assert cell in row
    md = format_report(_compare(write_set, base, new), style="markdown")
    expected = (
        "| lve ×1e-05 m² | synth \\| faceformer +AV | 1.1 ± 0.1 | 1.5 ± 0 | ±0.3 | REGRESSED (Δ +0.4) |"
    )
    assert expected in md


def test_bad_inputs_raise_named_errors(tmp_path, write_set, metric, result) -> None:
    with pytest.raises(RegressionInputError, match="does not exist"):
        load_result_set(tmp_path / "absent", what="baseline")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegressionInputError, match=r"holds no result\.json"):
        load_result_set(tmp_path / "empty")
    dup = write_set("dup", [result("a", {"lve": metric(BASE_LVE, "lve")}),
                            result("b", {"lve": metric(BASE_LVE, "lve")})])
    with pytest.raises(RegressionInputError, match="are the same row"):
        load_result_set(dup)


def test_compare_results_accepts_loaded_sets(write_set, metric, result) -> None:
    base = load_result_set(write_set("base", [result("ff", {"lve": metric(BASE_LVE, "lve")})]))
    report = compare_results(base, base)
    assert report.passed and [c.verdict for c in report.comparisons] == ["ok"]


def test_rows_are_listed_bracketing_first_then_baseline_before_guidance(write_set, metric, result) -> None:
    rows = [
        result("ff-av", {"lve": metric(BASE_LVE, "lve")}, av=True),
        result("ff", {"lve": metric(BASE_LVE, "lve")}),
        result("tpl", {"lve": metric([2e-5], "lve")}, kind="template", animator="template"),
        result("gt", {"cer": metric([0.1], "cer")}, kind="ground truth", animator="ground truth"),
    ]
    report = _compare(write_set, rows, rows)
    assert [(c.row[1], c.row[3]) for c in report.comparisons] == [
        ("ground truth", "baseline"), ("template", "baseline"), ("method", "baseline"), ("method", "+AV"),
    ]
