"""A miniature grid end to end: run directories, bracketing rows, per-sample lines, caching, the site."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from facial_metrics import get_protocol
from talkbench.config import BenchConfig
from talkbench.evaluation import evaluate_template, make_context, pad_audio
from talkbench.leaderboard.site import build_site
from talkbench.results import BOOTSTRAP_RESAMPLES, check_run_dir, load_per_sample, load_result
from talkbench.run import run_grid
from talkbench.training.stage1 import train_eval_reader


@pytest.mark.slow(seconds=22)
def test_grid_writes_valid_cached_runs_and_a_site(tiny_config: BenchConfig, tmp_path: Path) -> None:
    config = tiny_config.model_copy(
        update={"variants": ["baseline", "phonetic"], "animators": tiny_config.animators[:1]}
    )
    results = tmp_path / "results"
    dirs = run_grid(config, results, progress=False)
    names = sorted(d.name for d in dirs)
    assert names == ["faceformer-baseline", "faceformer-phonetic", "ground-truth", "template"]
    for d in dirs:
        assert d.parent == results / "synth"
        assert check_run_dir(d) == []
        assert {p.name for p in d.iterdir()} >= {"result.json", "per_sample.jsonl", "config.yaml", "env.json"}
    res = load_result(results / "synth" / "faceformer-phonetic" / "result.json")
    assert res.seeds == config.seeds and res.guidance.phonetic and not res.guidance.av
    # MTM is left out when a seed's samples define no offset (an under-trained, nearly still mouth)
    assert {"lve", "fdd", "mve", "slcc", "loc", "cer", "wer", "ver"} <= set(res.metrics)
    assert set(res.metrics) <= {"lve", "fdd", "mve", "mtm", "slcc", "loc", "cer", "wer", "ver"}
    assert res.reader is not None and res.cache_key is not None
    # unseen test speakers x the first eval.max_styles training styles x seeds, each with transcripts
    recs = load_per_sample(results / "synth" / "faceformer-phonetic" / "per_sample.jsonl")
    proto = get_protocol("synth")
    n_test = len(proto.test_subjects) * config.eval.max_sentences_per_speaker
    assert len(recs) == n_test * config.eval.max_styles * len(config.seeds)
    assert {r.style for r in recs} == set(proto.train_subjects[: config.eval.max_styles])
    assert all(r.hypothesis is not None and r.reference for r in recs)
    gt = load_result(results / "synth" / "ground-truth" / "result.json")
    assert gt.kind == "ground truth" and set(gt.metrics) == {"slcc", "cer", "wer", "ver"}

    # the guided run stores its paired effect against the baseline, with bootstrap intervals
    base = load_result(results / "synth" / "faceformer-baseline" / "result.json")
    assert base.guidance_effect is None
    effect = res.guidance_effect
    assert effect is not None and effect.baseline_run == "faceformer-baseline"
    assert effect.seeds == list(config.seeds) and effect.resamples == BOOTSTRAP_RESAMPLES
    assert set(effect.metrics) == set(res.metrics)
    for name, e in effect.metrics.items():
        # per-seed Δ = the two runs' per-seed values (re-derived by rescore from per_sample.jsonl)
        want = np.subtract(res.metrics[name].per_seed, base.metrics[name].per_seed)
        np.testing.assert_allclose(e.per_seed, want, rtol=1e-9, atol=1e-15)
        assert e.n_items == len(recs) // len(config.seeds) and e.ci_low <= e.ci_high
        assert e.best == ("zero" if name == "fdd" else "higher" if name in ("slcc", "loc") else "lower")
        lo, hi = (e.distance_ci_low, e.distance_ci_high) if name == "fdd" else (e.ci_low, e.ci_high)
        assert e.verdict == ("better" if hi < 0 else "worse" if lo > 0 else "no measurable effect")

    # a second run reuses every finished run: files untouched
    stamps = {d: (d / "result.json").stat().st_mtime_ns for d in dirs}
    again = run_grid(config, results, progress=False)
    assert sorted(again) == sorted(dirs)
    assert all((d / "result.json").stat().st_mtime_ns == stamps[d] for d in dirs)
    # a changed config is a different cache key: that cell reruns
    changed = config.model_copy(update={"training": config.training.model_copy(update={"steps": 5})})
    run_grid(changed, results, progress=False)
    assert (results / "synth" / "faceformer-baseline" / "result.json").stat().st_mtime_ns != stamps[
        results / "synth" / "faceformer-baseline"
    ]
    assert (results / "synth" / "template" / "result.json").stat().st_mtime_ns == stamps[
        results / "synth" / "template"
    ]

    summary = build_site(results, tmp_path / "site")
    assert summary.n_runs == 4
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    assert data


def test_template_row_matches_a_hand_computed_lve(tiny_config: BenchConfig) -> None:
    reader = train_eval_reader(tiny_config, Path(tiny_config.work_dir), log=lambda _: None)
    ctx = make_context(tiny_config, reader)
    records = evaluate_template(ctx)
    lips = ctx.masks["lip"].indices
    for rec, sample in zip(records, ctx.samples):
        diff = sample.template[None, lips] - sample.vertices[:, lips]  # (T, L, 3)
        lve = float(
            np.mean(np.max(np.sum(diff.astype(np.float64) ** 2, axis=-1), axis=1))
        )  # max_sq, frames pooled
        mve = float(
            np.mean(np.linalg.norm((sample.template[None] - sample.vertices).astype(np.float64), axis=-1))
        )
        assert np.isclose(rec.metrics["lve"], lve, rtol=1e-5)
        assert np.isclose(rec.metrics["mve"], mve, rtol=1e-5)
        assert rec.frames == sample.num_frames and rec.hypothesis is not None


def test_pad_audio_appends_silence() -> None:
    a = torch.ones(1, 100)
    out = pad_audio(a, 30.0, frames=2)
    assert out.shape == (1, 100 + 1067) and torch.equal(out[:, :100], a) and out[:, 100:].abs().sum() == 0


def test_training_split_metrics_are_stored_beside_the_test_metrics(
    tiny_config: BenchConfig, tmp_path: Path
) -> None:
    """``eval.train_sequences``: the speakers' training sequences in turn, each in its own style; the
    template row's training LVE equals facial_metrics' LVE of the template on those sequences."""
    from facial_metrics import lip_vertex_error
    from talkbench.evaluation import train_samples
    from talkbench.training.data import load_masks, load_split

    base = tiny_config.model_dump()
    base["eval"]["train_sequences"] = 3
    base["variants"] = ["baseline"]
    config = type(tiny_config).model_validate(base)
    config = config.model_copy(update={"animators": config.animators[:1]})
    train = load_split(config, "train")
    picked = train_samples(config, train)
    speakers = list(dict.fromkeys(s.subject for s in train))
    # first sequence of each speaker, in corpus order, until 3 are taken
    first = [next(s for s in train if s.subject == sp).name for sp in speakers[:3]]
    assert [s.name for s in picked] == first

    results = tmp_path / "results"
    run_grid(config, results, progress=False)
    run = load_result(results / "synth" / "faceformer-baseline" / "result.json")
    tpl = load_result(results / "synth" / "template" / "result.json")
    # the motion metrics (vertex and temporal); the text metrics need the test split's reader
    assert run.train_metrics is not None
    assert set(run.train_metrics) == {"lve", "fdd", "mve", "mtm", "slcc", "loc"}
    assert run.train_metrics["lve"].n == 3 and len(run.train_metrics["lve"].per_seed) == len(config.seeds)
    lips = load_masks(config)["lip"]
    want = []
    for s in picked:
        gt = torch.from_numpy(np.array(s.vertices, dtype=np.float32))[None]
        still = torch.from_numpy(np.array(s.template, dtype=np.float32))[None, None].expand_as(gt)
        want.append((float(lip_vertex_error(still, gt, lips, "max_sq", "error")), s.num_frames))
    frames = sum(f for _, f in want)
    by_frames = sum(v * f for v, f in want) / frames  # a seed's LVE is the mean over all frames
    assert tpl.train_metrics is not None
    assert np.isclose(tpl.train_metrics["lve"].value, by_frames, rtol=1e-5)
    gt_row = load_result(results / "synth" / "ground-truth" / "result.json")
    assert gt_row.train_metrics is None  # text metrics only
