"""The harness's temporal lip-sync metrics: lip halves, per-sequence values, undefined cases left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from talkbench.config import load_config
from talkbench.datasets import Sample
from talkbench.evaluation import EvalContext, lip_halves, speech_lip_metric, temporal_metrics
from talkbench.results import PerSampleRecord, defined_variants, per_seed_values

FPS = 25.0


def _face(opening: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Four vertices: two upper lip (y = +0.5 + o/2), two lower lip (y = -0.5 - o/2); template o = 0."""
    t = len(opening)
    tpl = np.array([[-1, 0.5, 0], [1, 0.5, 0], [-1, -0.5, 0], [1, -0.5, 0]], dtype=np.float32)
    v = np.repeat(tpl[None], t, axis=0).copy()
    v[:, :2, 1] += opening[:, None] / 2
    v[:, 2:, 1] -= opening[:, None] / 2
    return v, tpl


def _sample(opening: np.ndarray, audio: np.ndarray) -> Sample:
    v, tpl = _face(opening)
    return Sample("s1", "a", v, tpl, audio.astype(np.float32), FPS, "test-4")


def _ctx(sample: Sample) -> EvalContext:
    cfg = load_config("smoke")
    return EvalContext(cfg, [sample], [], {}, None, False, lip_halves(sample.template, [0, 1, 2, 3]))  # type: ignore[arg-type]


def test_lip_halves_split_at_the_mean_height() -> None:
    _, tpl = _face(np.zeros(3))
    up, lo = lip_halves(tpl, [3, 0, 2, 1])
    assert sorted(up.tolist()) == [0, 1] and sorted(lo.tolist()) == [2, 3]
    with pytest.raises(ValueError, match=r"eval\.vertical_axis"):
        lip_halves(tpl, [0, 1, 2, 3], axis=2)  # z is flat: no split


def test_shifted_prediction_gives_its_offset_and_a_perfect_copy_scores_one() -> None:
    t = np.arange(60)
    opening = 0.5 + 0.4 * np.sin(2 * np.pi * t / 15)
    audio = np.repeat(opening, 640) * np.sin(np.arange(60 * 640) * 0.3)  # energy follows the opening
    s = _sample(opening, audio)
    ctx = _ctx(s)
    gt = torch.from_numpy(s.vertices)[None]
    same = temporal_metrics(ctx, gt.clone(), gt, s)
    assert same["mtm"] == 0.0 and same["loc"] == pytest.approx(1.0)
    # energy ∝ |opening| per frame: the RMS over each frame is opening · rms(sin), so r = 1
    assert same["slcc"] == pytest.approx(1.0, abs=1e-3)
    lag = 2
    shifted, _ = _face(np.concatenate([np.full(lag, opening[0]), opening[:-lag]]))
    m = temporal_metrics(ctx, torch.from_numpy(shifted)[None], gt, s)
    assert m["mtm"] == pytest.approx(lag * 1000 / FPS)
    # LOC of a sine delayed by 2 of 15 frames: cos(2π·2/15) ≈ 0.669 (up to edge effects)
    assert m["loc"] == pytest.approx(math.cos(2 * math.pi * lag / 15), abs=0.06)


def test_a_motionless_face_has_no_offset_and_zero_correlations() -> None:
    opening = 0.5 + 0.4 * np.sin(np.arange(40) / 3)
    s = _sample(opening, np.random.default_rng(0).normal(size=40 * 640))
    ctx = _ctx(s)
    still = torch.from_numpy(s.template)[None, None].expand(1, 40, 4, 3).contiguous()
    m = temporal_metrics(ctx, still, torch.from_numpy(s.vertices)[None], s)
    assert "mtm" not in m  # no extremum to match: undefined, left out (never NaN)
    assert m["loc"] == 0.0 and m["slcc"] == 0.0


def test_silence_leaves_slcc_out() -> None:
    opening = 0.5 + 0.4 * np.sin(np.arange(40) / 3)
    s = _sample(opening, np.zeros(40 * 640))
    assert speech_lip_metric(_ctx(s), torch.from_numpy(s.vertices)[None], s) == {}


def _rec(seed: int, name: str, metrics: dict[str, float]) -> PerSampleRecord:
    return PerSampleRecord(seed=seed, sample_id=name, subject="s", style=None, frames=10, metrics=metrics)


def test_run_values_average_the_samples_that_define_them() -> None:
    recs = [_rec(0, "a", {"mtm": 40.0}), _rec(0, "b", {}), _rec(0, "c", {"mtm": 80.0})]
    assert per_seed_values(recs, [0], {"mtm": "ddtw"}) == {"mtm": [60.0]}
    # a metric that one seed never defines is dropped from the run; the others stay
    recs += [_rec(1, "a", {"loc": 0.5}), _rec(1, "b", {"loc": 0.7})]
    recs[0] = _rec(0, "a", {"mtm": 40.0, "loc": 0.1})
    kept = defined_variants(recs, [0, 1], {"mtm": "ddtw", "loc": "pearson", "lve": "max_sq"})
    assert kept == {"loc": "pearson", "lve": "max_sq"}
