"""The bracketing check (baseline LVE / template LVE) on hand-made results; ratios worked by hand."""

from __future__ import annotations

import math

import pytest

from talkbench.regression import load_result_set
from talkbench.regression.bracket import check_beats_template, template_ratios


def _set(write_set, metric, result, ff_seeds, extra=()):
    rows = [
        result("template", {"lve": metric([4.0e-5], "lve")}, kind="template", animator="template"),
        result("faceformer-baseline", {"lve": metric(ff_seeds, "lve")}),
        result("faceformer-av", {"lve": metric([3.9e-5, 3.9e-5], "lve")}, av=True),  # guided: not checked
        *extra,
    ]
    return load_result_set(write_set("new", rows))


def test_ratios_per_seed_and_mean(write_set, metric, result) -> None:
    ratios = template_ratios(_set(write_set, metric, result, [1.0e-5, 2.0e-5]))
    assert [r.label for r in ratios] == ["synth | faceformer"]
    r = ratios[0]
    assert r.per_seed == pytest.approx((0.25, 0.5))  # 1/4 and 2/4
    assert math.isclose(r.mean, 0.375) and math.isclose(r.worst, 0.5)


def test_a_near_template_animator_fails_on_its_worst_seed(write_set, metric, result) -> None:
    results = _set(write_set, metric, result, [1.0e-5, 3.6e-5])  # worst seed 0.9 of the template
    _, failures = check_beats_template(results, max_ratio=0.7)
    assert len(failures) == 1
    assert "synth | faceformer" in failures[0] and "0.900" in failures[0] and "result.json" in failures[0]
    _, none = check_beats_template(results, max_ratio=0.95)
    assert none == []


def test_every_baseline_animator_is_checked(write_set, metric, result) -> None:
    ct = result("codetalker-baseline", {"lve": metric([5.0e-5, 5.2e-5], "lve")}, animator="codetalker")
    results = _set(write_set, metric, result, [1.0e-5, 1.0e-5], extra=[ct])
    ratios, failures = check_beats_template(results, max_ratio=0.7)
    assert sorted(r.label for r in ratios) == ["synth | codetalker", "synth | faceformer"]
    assert len(failures) == 1 and "codetalker" in failures[0]


def test_no_template_row_is_an_error_not_a_pass(write_set, metric, result) -> None:
    lone = result("faceformer-baseline", {"lve": metric([1e-5], "lve")})
    results = load_result_set(write_set("new", [lone]))
    with pytest.raises(ValueError, match="no template row"):
        template_ratios(results)
