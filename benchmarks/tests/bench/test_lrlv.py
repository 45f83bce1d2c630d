"""The ``lrlv`` variant (the AV recipe's lip-vertex MSE alone) and what the lip reader adds beyond it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from talkbench.config import BenchConfig, RunSpec
from talkbench.leaderboard.site import build_site
from talkbench.results import GuidanceFlags, load_result
from talkbench.run import prepare, run_grid
from talkbench.training.stage1 import file_sha256


def test_flags_of_the_lrlv_variant() -> None:
    assert GuidanceFlags(lrlv=True).label == "+Lrlv"
    assert not GuidanceFlags(lrlv=True).is_baseline
    with pytest.raises(ValueError, match="an AV run includes it"):
        GuidanceFlags(av=True, lrlv=True)


def test_lrlv_loss_is_the_lip_vertex_mse_without_the_reader(tiny_config: BenchConfig) -> None:
    config = tiny_config.model_copy(update={"animators": tiny_config.animators[:1]})
    ctx = prepare(config, Path("unused"), progress=False)
    spec = {v: RunSpec(config=config, animator=config.animators[0], variant=v) for v in ("baseline", "lrlv")}
    assert spec["lrlv"].uses_rlv and not spec["lrlv"].uses_av and not spec["baseline"].uses_rlv
    batch = None
    logs = {}
    for v in ("baseline", "lrlv"):
        trainer = ctx.trainer(spec[v], seed=0)
        assert trainer.guidance is None  # no expert is built for lrlv
        batch = trainer.batch_for_step(0) if batch is None else batch
        with torch.no_grad():
            total, logs[v] = trainer.losses(batch)
            out = trainer.model(batch)
        lips = torch.as_tensor(np.array(ctx.masks["lip"].indices))
        diff = out.vertices.reshape(*out.vertices.shape[:2], -1, 3)[:, :, lips] - out.target.reshape(
            *out.target.shape[:2], -1, 3
        )[:, :, lips]
        by_hand = float((diff**2).mean())
        if v == "lrlv":
            assert logs[v]["rlv"] == pytest.approx(by_hand, rel=1e-5)
            want = logs[v]["rec"] + config.guidance.lambda_rlv * by_hand
            assert float(total) == pytest.approx(want, rel=1e-5)
        else:
            assert "rlv" not in logs[v] and float(total) == pytest.approx(logs[v]["rec"], rel=1e-6)
    assert "av" not in logs["lrlv"]
    # same model, same batch: the reconstruction term is the baseline's
    assert logs["lrlv"]["rec"] == pytest.approx(logs["baseline"]["rec"], rel=1e-6)


@pytest.mark.slow(seconds=25)
def test_av_run_stores_the_lip_reader_effect_and_the_expert_readings(
    tiny_config: BenchConfig, tmp_path: Path
) -> None:
    config = tiny_config.model_copy(
        update={"variants": ["baseline", "lrlv", "av"], "animators": tiny_config.animators[:1]}
    )
    results = tmp_path / "results"
    run_grid(config, results, progress=False)
    out = results / "synth"
    lrlv = load_result(out / "faceformer-lrlv" / "result.json")
    av = load_result(out / "faceformer-av" / "result.json")
    assert lrlv.guidance.lrlv and lrlv.guidance.label == "+Lrlv" and lrlv.expert is None
    assert lrlv.guidance_effect is not None and lrlv.guidance_effect.baseline_run == "faceformer-baseline"
    assert lrlv.lip_reader_effect is None
    effect = av.lip_reader_effect
    assert effect is not None and effect.baseline_run == "faceformer-lrlv"
    for name, e in effect.metrics.items():
        want = np.subtract(av.metrics[name].per_seed, lrlv.metrics[name].per_seed)
        np.testing.assert_allclose(e.per_seed, want, rtol=1e-9, atol=1e-15)
    # the expert the AV run was guided by, and its three readings of the ground truth
    assert av.expert is not None
    from talkbench.shipped_readers import shipped_path

    assert av.expert.checkpoint_sha256 == file_sha256(shipped_path(config.expert.pretrained))
    assert set(av.expert.readings) == {"video", "audio", "audiovisual"}

    build_site(results, tmp_path / "site")
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    rows = data["tables"][0]["guidance_rows"]
    labels = {(r["guidance"], r["baseline_run"]) for r in rows}
    assert ("+AV vs +Lrlv", "faceformer-lrlv") in labels
    assert ("+Lrlv", "faceformer-baseline") in labels and ("+AV", "faceformer-baseline") in labels
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "AV-guidance expert" in html and av.expert.checkpoint_sha256 in html
