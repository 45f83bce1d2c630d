"""Guidance effects: the paired bootstrap, its verdict, the metric directions, result.json and the site.

Truths used here: identical runs (Δ = 0 on every resample), a constant shift on every item (Δ = c on
every resample, with dyadic numbers so that float sums are exact), and a plain-loop NumPy
implementation of the documented formula with the same generator draws.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from talkbench.leaderboard import ResultsDirError, build_site
from talkbench.results import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    MetricEffect,
    PerSampleRecord,
    badness,
    best_of,
    guidance_effect,
    load_per_sample,
    load_result,
    metric_best,
    paired_bootstrap,
    verdict,
)


def _reference(ab, wb, ag, wg, resamples, seed, zero=False):
    """The module docstring's formula as a plain loop (fancy indexing repeats drawn items)."""
    n_seeds, n_items = ab.shape
    rng = np.random.default_rng(seed)
    seed_idx = rng.integers(0, n_seeds, size=(resamples, n_seeds))
    item_idx = rng.integers(0, n_items, size=(resamples, n_items))
    deltas, dists = [], []
    for k in range(resamples):
        items = item_idx[k]
        g = [ag[s, items].sum() / wg[s, items].sum() for s in seed_idx[k]]
        b = [ab[s, items].sum() / wb[s, items].sum() for s in seed_idx[k]]
        deltas.append(np.mean(g) - np.mean(b))
        dists.append(abs(np.mean(g)) - abs(np.mean(b)))
    out = np.percentile(deltas, [2.5, 97.5])
    return (out, np.percentile(dists, [2.5, 97.5])) if zero else out


def test_identical_runs_give_zero_delta_and_zero_width_interval():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 7))
    w = rng.integers(20, 90, size=(3, 7)).astype(float)
    out = paired_bootstrap(a * w, w, a * w, w, best="lower", resamples=300)
    assert out["per_seed"] == [0.0, 0.0, 0.0]
    assert (out["mean"], out["ci_low"], out["ci_high"]) == (0.0, 0.0, 0.0)
    assert verdict("lower", out["ci_low"], out["ci_high"]) == "no measurable effect"


@pytest.mark.parametrize("c", [0.25, -1.5])
def test_constant_shift_gives_the_interval_c_c(c):
    # dyadic values and integer weights: every sum is exact, so Δ = c on every resample
    rng = np.random.default_rng(2)
    x = rng.integers(-64, 64, size=(2, 9)) / 8.0
    frames = rng.integers(10, 40, size=(2, 9)).astype(float)
    ones = np.ones_like(x)
    for a, w in ((x, ones), (x * frames, frames)):  # sequence mean (FDD) and frame-pooled (LVE)
        shifted = a + c * w
        out = paired_bootstrap(a, w, shifted, w, best="lower", resamples=400)
        assert out["per_seed"] == [c, c]
        assert out["mean"] == c and out["ci_low"] == c and out["ci_high"] == c
    assert verdict("lower", c, c) == ("worse" if c > 0 else "better")


@pytest.mark.parametrize("best", ["lower", "zero"])
def test_bootstrap_matches_a_direct_numpy_implementation(best):
    rng = np.random.default_rng(3)
    x_b, x_g = rng.normal(0.1, 1.0, size=(3, 11)), rng.normal(-0.2, 1.0, size=(3, 11))
    w_b = rng.integers(15, 60, size=(3, 11)).astype(float)
    w_g = w_b + rng.integers(0, 3, size=(3, 11))  # unequal weights: the ratio-difference path
    out = paired_bootstrap(x_b * w_b, w_b, x_g * w_g, w_g, best=best, resamples=700, seed=BOOTSTRAP_SEED)
    ref = _reference(x_b * w_b, w_b, x_g * w_g, w_g, 700, BOOTSTRAP_SEED, zero=best == "zero")
    delta_ci = ref[0] if best == "zero" else ref
    assert out["ci_low"] == pytest.approx(delta_ci[0], rel=1e-12)
    assert out["ci_high"] == pytest.approx(delta_ci[1], rel=1e-12)
    per_seed = (x_g * w_g).sum(1) / w_g.sum(1) - (x_b * w_b).sum(1) / w_b.sum(1)
    np.testing.assert_allclose(out["per_seed"], per_seed, rtol=1e-12)
    assert out["mean"] == pytest.approx(per_seed.mean(), rel=1e-12)
    if best == "zero":
        g_mean, b_mean = ((x_g * w_g).sum(1) / w_g.sum(1)).mean(), ((x_b * w_b).sum(1) / w_b.sum(1)).mean()
        assert out["distance_mean"] == pytest.approx(abs(g_mean) - abs(b_mean), rel=1e-12)
        assert out["distance_ci_low"] == pytest.approx(ref[1][0], rel=1e-12)
        assert out["distance_ci_high"] == pytest.approx(ref[1][1], rel=1e-12)
    else:
        assert "distance_mean" not in out


@pytest.mark.parametrize(
    ("best", "low", "high", "expected"),
    [
        ("lower", -0.3, -0.1, "better"),
        ("lower", 0.1, 0.3, "worse"),
        ("lower", -0.1, 0.2, "no measurable effect"),
        ("lower", 0.0, 0.0, "no measurable effect"),
        ("lower", -0.2, 0.0, "no measurable effect"),  # touches 0: not excluded
        ("higher", 0.1, 0.3, "better"),
        ("higher", -0.3, -0.1, "worse"),
        ("higher", -0.1, 0.1, "no measurable effect"),
        ("zero", -0.3, -0.1, "better"),  # distance from 0 shrank
        ("zero", 0.1, 0.3, "worse"),
    ],
)
def test_verdict_on_hand_made_intervals(best, low, high, expected):
    assert verdict(best, low, high) == expected


def test_verdict_rejects_swapped_interval():
    with pytest.raises(ValueError, match="swapped"):
        verdict("lower", 0.2, 0.1)


def test_metric_directions():
    assert metric_best("fdd") == "zero"
    assert [metric_best(m) for m in ("lve", "mve", "cer", "wer", "ver")] == ["lower"] * 5
    assert metric_best("cer", higher_is_better=True) == "higher"
    assert best_of("zero", [-3.0, 2.0, -0.5, 1.0]) == -0.5  # nearest 0, not the most negative
    assert best_of("lower", [-3.0, 2.0, -0.5]) == -3.0
    assert best_of("higher", [-3.0, 2.0, -0.5]) == 2.0
    assert badness("zero", -2.0) > badness("zero", 1.0)


def _records(fdd_by_seed: dict[int, list[float]]) -> list[PerSampleRecord]:
    return [
        PerSampleRecord(seed=s, sample_id=f"synth11_{i:03d}", subject="synth11", style="synth01", frames=30,
                        metrics={"fdd": v})
        for s, values in fdd_by_seed.items()
        for i, v in enumerate(values)
    ]


def _fdd_run(run_id, records, guidance, fx):
    from talkbench.results import RunResult, summarize

    metrics = summarize(records, [0, 1], "synth", {"fdd": "codetalker"})
    d = fx.result_dict(run_id, fx.samples(1.0, (0, 1), 2), seeds=(0, 1), guidance=guidance)
    d["metrics"] = {k: v.model_dump() for k, v in metrics.items()}
    d["reader"] = None
    return RunResult.model_validate(d)


def test_signed_fdd_verdict_uses_the_distance_from_zero(fx):
    # baseline FDD −2e-7 on every item, guided +1e-7: Δ = +3e-7 (up), but |FDD| falls 2e-7 → 1e-7: better
    base = _records({0: [-2e-7] * 4, 1: [-2e-7] * 4})
    guided = _records({0: [1e-7] * 4, 1: [1e-7] * 4})
    b = _fdd_run("ff-baseline", base, None, fx)
    g = _fdd_run("ff-av", guided, {"av": True}, fx)
    effect = guidance_effect(b, base, g, guided, resamples=200)
    e = effect.metrics["fdd"]
    assert e.best == "zero" and e.verdict == "better"
    assert e.mean == pytest.approx(3e-7, rel=1e-12) and e.ci_low > 0  # the signed Δ alone would say "worse"
    assert e.distance_mean == pytest.approx(-1e-7, rel=1e-12)
    assert e.distance_ci_high == pytest.approx(-1e-7, rel=1e-9)
    assert effect.baseline_run == "ff-baseline" and effect.seeds == [0, 1] and e.n_items == 4


def test_guidance_effect_rejects_different_test_items(fx):
    base = _records({0: [1e-7] * 4, 1: [1e-7] * 4})
    guided = _records({0: [1e-7] * 3, 1: [1e-7] * 3})
    b = _fdd_run("ff-baseline", base, None, fx)
    g = _fdd_run("ff-av", guided, {"av": True}, fx)
    with pytest.raises(ValueError, match="same test items"):
        guidance_effect(b, base, g, guided, resamples=50)


def test_metric_effect_verdict_must_follow_its_interval():
    ok = dict(best="lower", per_seed=[-1.0, -2.0], mean=-1.5, ci_low=-2.0, ci_high=-1.0, n_items=3,
              verdict="better")
    assert MetricEffect(**ok).verdict == "better"
    with pytest.raises(ValidationError, match="does not follow from the interval"):
        MetricEffect(**{**ok, "verdict": "no measurable effect"})
    with pytest.raises(ValidationError, match="needs distance_mean"):
        MetricEffect(**{**ok, "best": "zero"})


def _stored_grid(results_root, fx):
    fx.write_grid(results_root)
    run = results_root / "synth" / "b-av"
    base = results_root / "synth" / "b-base"
    g, b = load_result(run / "result.json"), load_result(base / "result.json")
    effect = guidance_effect(b, load_per_sample(base / "per_sample.jsonl"), g,
                             load_per_sample(run / "per_sample.jsonl"))
    data = json.loads((run / "result.json").read_text(encoding="utf-8"))
    data["guidance_effect"] = json.loads(effect.model_dump_json())
    (run / "result.json").write_text(json.dumps(data), encoding="utf-8")
    return run, data


def test_site_shows_stored_effects_and_rejects_stale_ones(tmp_path, results_root, fx):
    run, data = _stored_grid(results_root, fx)
    out = tmp_path / "site"
    build_site(results_root, out)
    site = json.loads((out / "data/leaderboard.json").read_text(encoding="utf-8"))
    rows = {r["guided_run"]: r for r in site["tables"][0]["guidance_rows"]}
    assert rows["b-av"]["stored"] and not rows["a-av"]["stored"]  # a-av: recomputed from per-sample lines
    assert rows["b-av"]["resamples"] == BOOTSTRAP_RESAMPLES
    assert rows["b-av"]["bootstrap_seed"] == BOOTSTRAP_SEED
    lve = rows["b-av"]["cells"]["lve"]
    stored = data["guidance_effect"]["metrics"]["lve"]
    assert lve["delta"]["low"] == pytest.approx(stored["ci_low"] / 1e-5)
    # every item's LVE is lower in b-av (level 1.1 vs 1.3): every resample's Δ < 0
    assert lve["verdict"] == "better" and lve["delta"]["high"] < 0

    data["guidance_effect"]["metrics"]["lve"]["ci_low"] *= 1.5  # tampered (verdict still "better")
    (run / "result.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ResultsDirError, match="stored guidance_effect does not match its recomputation"):
        build_site(results_root, tmp_path / "site2")
    assert not (tmp_path / "site2").exists()


def _temporal_records(values_by_seed: dict[int, list[dict[str, float]]]) -> list[PerSampleRecord]:
    return [
        PerSampleRecord(seed=s, sample_id=f"synth11_{i:03d}", subject="synth11", style="synth01", frames=30,
                        metrics=m)
        for s, items in values_by_seed.items()
        for i, m in enumerate(items)
    ]


def test_temporal_effects_are_means_over_the_items_that_define_them(fx):
    # worked by hand, seed 0: baseline MTM defined on items 0, 1 -> (10 + 20) / 2 = 15 ms; guided on all
    # three -> (10 + 10 + 40) / 3 = 20 ms; Δ = +5. Seed 1: baseline (30 + 30 + 30) / 3 = 30, guided
    # (20 + 20) / 2 = 20; Δ = −10. Mean Δ = −2.5. LOC (defined everywhere): Δ = 0.25 − 0.5 on every item.
    from talkbench.results import RunResult, summarize

    base = _temporal_records({
        0: [{"mtm": 10.0, "loc": 0.5}, {"mtm": 20.0, "loc": 0.5}, {"loc": 0.5}],
        1: [{"mtm": 30.0, "loc": 0.5}, {"mtm": 30.0, "loc": 0.5}, {"mtm": 30.0, "loc": 0.5}],
    })
    guided = _temporal_records({
        0: [{"mtm": 10.0, "loc": 0.25}, {"mtm": 10.0, "loc": 0.25}, {"mtm": 40.0, "loc": 0.25}],
        1: [{"mtm": 20.0, "loc": 0.25}, {"loc": 0.25}, {"mtm": 20.0, "loc": 0.25}],
    })

    def run(run_id, records, guidance):
        metrics = summarize(records, [0, 1], "synth", {"mtm": "ddtw", "loc": "pearson"})
        d = fx.result_dict(run_id, fx.samples(1.0, (0, 1), 2), seeds=(0, 1), guidance=guidance)
        d["metrics"] = {k: v.model_dump() for k, v in metrics.items()}
        d["reader"] = None
        return RunResult.model_validate(d)

    b, g = run("ff-baseline", base, None), run("ff-av", guided, {"av": True})
    assert b.metrics["mtm"].per_seed == pytest.approx([15.0, 30.0])
    effect = guidance_effect(b, base, g, guided, resamples=200)
    mtm, loc = effect.metrics["mtm"], effect.metrics["loc"]
    assert mtm.per_seed == pytest.approx([5.0, -10.0]) and mtm.mean == pytest.approx(-2.5)
    assert mtm.best == "lower" and loc.best == "higher"
    assert loc.per_seed == pytest.approx([-0.25, -0.25]) and loc.verdict == "worse"
    assert loc.ci_low == pytest.approx(-0.25) and loc.ci_high == pytest.approx(-0.25)
