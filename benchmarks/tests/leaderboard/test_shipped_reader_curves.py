"""The site plots the learning curves of the shipped readers a protocol's runs used, and only theirs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest

import talkbench.shipped_manifests as shipped_manifests
from talkbench.leaderboard import build_site
from talkbench.leaderboard.plots import _RC, curves_figure
from talkbench.leaderboard.site import shipped_reader_curve
from talkbench.results.curves import TrainingCurves, binned_curve

JUDGE_SHA = hashlib.sha256(b"judge checkpoint").hexdigest()
EXPERT_SHA = hashlib.sha256(b"expert checkpoint").hexdigest()


def _history(steps: int) -> list[dict[str, float]]:
    # a reader's per-step log (lipread_expert.train_step): loss = ctc + att, an accuracy that rises
    return [
        {"loss": 3.0 / (s + 1) + 0.5 / (s + 1), "ctc": 3.0 / (s + 1), "att": 0.5 / (s + 1),
         "accuracy": s / steps, "grad_norm": 1.0, "lr": 1e-3}
        for s in range(steps)
    ]


def _manifest(name: str, sha: str, curve: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"name": name, "file": f"{name}.pt", "sha256": sha}
    if curve:
        data["curve"] = binned_curve(_history(40), 1, "reader").model_dump(mode="json")
    return data


@pytest.fixture
def shipped_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name, sha, curve in (("judge-x", JUDGE_SHA, True), ("expert-x", EXPERT_SHA, True),
                             ("old-judge", JUDGE_SHA, False)):
        (folder / f"{name}.json").write_text(json.dumps(_manifest(name, sha, curve)), encoding="utf-8")
    monkeypatch.setattr(shipped_manifests, "SHIPPED_DIR", folder)
    return folder


def test_only_a_shipped_reader_with_the_runs_checkpoint_and_a_curve_is_plotted(shipped_dir: Path) -> None:
    found = shipped_reader_curve({"id": "judge-x", "checkpoint_sha256": JUDGE_SHA})
    assert found is not None and found[0] == "judge-x"
    # the ids the grid records for a shipped judge and a shipped pretrained expert
    for ref_id, name, sha in (
        ("talkbench-judge-judge-x", "judge-x", JUDGE_SHA),
        ("talkbench-pretrained-expert-x", "expert-x", EXPERT_SHA),
    ):
        found_by_id = shipped_reader_curve({"id": ref_id, "checkpoint_sha256": sha})
        assert found_by_id is not None and found_by_id[0] == name
    curve = found[1].trainings[0]
    assert (curve.phase, curve.seed, curve.steps) == ("reader", 1, 40)
    # another file under the same name, a manifest without a curve, a reader the preset trained itself
    assert shipped_reader_curve({"id": "judge-x", "checkpoint_sha256": EXPERT_SHA}) is None
    assert shipped_reader_curve({"id": "old-judge", "checkpoint_sha256": JUDGE_SHA}) is None
    assert shipped_reader_curve({"id": "video-reader-synth", "checkpoint_sha256": JUDGE_SHA}) is None
    assert shipped_reader_curve(None) is None


def test_a_readers_panels_show_its_logged_terms() -> None:
    curves = TrainingCurves(trainings=[binned_curve(_history(40), 1, "reader")])
    with plt.rc_context(_RC):
        fig = curves_figure(curves, "judge")
        try:
            panels = {ax.get_title().replace("\n", " "): ax for ax in fig.axes if ax.get_title()}
            assert set(panels) == {
                "lip reader: total loss (CTC and attention)",
                "lip reader: CTC loss",
                "lip reader: attention (cross-entropy) loss",
                "lip reader: token accuracy (attention decoder)",
                "lip reader: gradient norm (before clipping)",
                "lip reader: learning rate",
            }
            # 40 steps in bins of 1: the CTC panel draws the logged values themselves
            (line,) = panels["lip reader: CTC loss"].get_lines()
            np.testing.assert_allclose(line.get_xdata(), np.arange(1, 41))
            np.testing.assert_allclose(line.get_ydata(), [3.0 / (s + 1) for s in range(40)], rtol=1e-5)
        finally:
            plt.close(fig)


def test_the_site_links_the_learning_curves_of_the_runs_shipped_readers(
    shipped_dir: Path, results_root: Path, tmp_path: Path, fx: Any
) -> None:
    fx.write_grid(results_root)
    for path in results_root.glob("*/*/result.json"):
        res = json.loads(path.read_text(encoding="utf-8"))
        res["reader"] = {"id": "talkbench-judge-judge-x", "checkpoint_sha256": JUDGE_SHA}
        path.write_text(json.dumps(res), encoding="utf-8")
    summary = build_site(results_root, tmp_path / "site", build=None)
    assert "plots/reader-judge-x.svg" in summary.files
    svg = (tmp_path / "site" / "plots" / "reader-judge-x.svg").read_text(encoding="utf-8")
    assert svg.startswith("<?xml") and "<svg" in svg
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<a href="plots/reader-judge-x.svg">its learning curve</a>' in index

    # the same runs with a judge whose shipped manifest names another checkpoint: no curve, no link
    for path in results_root.glob("*/*/result.json"):
        res = json.loads(path.read_text(encoding="utf-8"))
        res["reader"]["checkpoint_sha256"] = EXPERT_SHA
        path.write_text(json.dumps(res), encoding="utf-8")
    summary = build_site(results_root, tmp_path / "site2", build=None)
    assert not any(f.startswith("plots/reader-") for f in summary.files)
    assert "its learning curve" not in (tmp_path / "site2" / "index.html").read_text(encoding="utf-8")
