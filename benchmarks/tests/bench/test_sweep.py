"""Sweeps: a config key as a grid axis, one cell per value with its own run id, compared with the
sweep's reference cell on the site's dose-response page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from talkbench.config import ConfigError, load_config
from talkbench.leaderboard.site import build_site
from talkbench.results import load_per_sample, load_result
from talkbench.run import run_grid

from .conftest import TINY_OVERRIDES

SWEEP = "sweep={axes: {guidance.lambda_av: [0.0, 1.0e-6]}, variants: [av], reference: lrlv}"


def test_sweep_cells_have_their_own_ids_and_values() -> None:
    config = load_config("smoke", ["variants=[lrlv,av]", SWEEP])
    ids = [s.run_id for s in config.run_specs()]
    assert "faceformer-lrlv" in ids and "faceformer-av" not in ids
    assert {"faceformer-av.lambda_av-0", "faceformer-av.lambda_av-1e-06"} <= set(ids)
    swept = {s.run_id: s for s in config.run_specs() if s.sweep}
    assert swept["codetalker-av.lambda_av-1e-06"].config.guidance.lambda_av == 1e-6
    assert swept["codetalker-av.lambda_av-1e-06"].resolved()["guidance"]["lambda_av"] == 1e-6
    assert len({s.resolved()["guidance"]["lambda_av"] for s in swept.values()}) == 2
    # the cells not swept keep the preset's value
    lrlv = next(s for s in config.run_specs() if s.run_id == "faceformer-lrlv")
    assert lrlv.config.guidance.lambda_av == load_config("smoke").guidance.lambda_av


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ("sweep={axes: {data.root: [a, b]}}", "a sweep varies guidance"),
        (
            "sweep={axes: {guidance.lambda_avv: [1.0]}}",
            r"guidance.lambda_avv=1.0: guidance.lambda_avv: unknown key",
        ),
        ("sweep={axes: {guidance.lambda_av: [-1.0]}}", r"lambda_av=-1.0: .*greater than or equal to 0"),
        ("sweep={axes: {guidance.lambda_av: [1.0, 1.0]}}", "repeat"),
        (
            "sweep={axes: {guidance.lambda_av: [1.0]}, variants: [phonetic], reference: lrlv}",
            "av variant only",
        ),
        ("sweep={axes: {guidance.lambda_av: [1.0]}, animators: [Nobody]}", r"\['Nobody'\]: not animators"),
    ],
)
def test_a_bad_sweep_is_refused_naming_the_key(sweep: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("smoke", [sweep])


@pytest.mark.slow(seconds=28)
def test_a_sweep_runs_and_its_dose_response_is_on_the_site(
    tiny_corpus: Path, tmp_path: Path, face_v1_overrides: tuple[str, ...]
) -> None:
    threads = torch.get_num_threads()
    config = load_config(
        "smoke",
        (
            *TINY_OVERRIDES,
            *face_v1_overrides,
            f"data.root={tiny_corpus}",
            f"work_dir={tmp_path / 'work'}",
            "data.generate=false",
            "variants=[lrlv,av]",
            "seeds=[0,1]",
            SWEEP,
        ),
    )
    config = config.model_copy(update={"animators": config.animators[:1]})
    sweeps = tmp_path / "sweeps"
    results = sweeps / "tiny-sweep"
    run_grid(config, results, progress=False, say=lambda _: None)
    torch.set_num_threads(threads)
    out = results / "synth"
    for value, run_id in ((0.0, "faceformer-av.lambda_av-0"), (1e-6, "faceformer-av.lambda_av-1e-06")):
        res = load_result(out / run_id / "result.json")
        assert res.sweep == {"guidance.lambda_av": value} and res.sweep_reference == "lrlv"
        resolved = yaml.safe_load((out / run_id / "config.yaml").read_text(encoding="utf-8"))
        assert resolved["guidance"]["lambda_av"] == value
        assert res.lip_reader_effect is not None and res.lip_reader_effect.baseline_run == "faceformer-lrlv"
    # λav = 0: the lip reader is in the loop with no weight, so the animator learns what Lrlv alone teaches
    zero = load_per_sample(out / "faceformer-av.lambda_av-0" / "per_sample.jsonl")
    lrlv = load_per_sample(out / "faceformer-lrlv" / "per_sample.jsonl")
    assert [r.metrics for r in zero] == [r.metrics for r in lrlv]

    (tmp_path / "empty").mkdir()
    summary = build_site(tmp_path / "empty", tmp_path / "site", build=None, sweeps_dir=sweeps)
    assert "sweeps.html" in summary.files and "plots/sweep-0.svg" in summary.files
    data = json.loads((tmp_path / "site" / "data" / "sweeps.json").read_text(encoding="utf-8"))
    (series,) = data["series"]
    assert series["axis"] == "guidance.lambda_av" and series["reference_run"] == "faceformer-lrlv"
    effect = load_result(out / "faceformer-av.lambda_av-1e-06" / "result.json").lip_reader_effect
    lve = load_result(out / "faceformer-av.lambda_av-1e-06" / "result.json").metrics["lve"]
    point = next(p for p in series["metrics"]["lve"]["points"] if p["value"] == 1e-6)
    assert point["mean"] == pytest.approx(effect.metrics["lve"].mean / lve.report_scale)
    assert point["verdict"] == effect.metrics["lve"].verdict
    page = (tmp_path / "site" / "sweeps.html").read_text(encoding="utf-8")
    assert "faceformer-av.lambda_av-1e-06" in page and 'src="plots/sweep-0.svg"' in page
    assert 'href="sweeps.html"' in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
