"""A run made on one dataset and relabelled as another protocol is refused, naming its file."""

from __future__ import annotations

import pytest
import yaml

from facial_metrics.protocols import get_protocol
from talkbench.leaderboard.collect import ResultsDirError, collect_results


def _as_vocaset(res: dict) -> None:
    """Everything a relabeller would edit in result.json except the masks."""
    for name, metric in res["metrics"].items():
        metric["report_scale"] = float(get_protocol("vocaset").report_scales[name])


def test_synthetic_run_relabelled_vocaset_is_refused(results_root, fx):
    fx.write_grid(results_root)
    run = fx.write_run(results_root, "synth-as-voca", protocol="vocaset", animator="R", edit=_as_vocaset)
    res = yaml.safe_load((run / "result.json").read_text())
    assert res["protocol"] == "vocaset" and res["dataset"]["id"] == "vocaset"
    with pytest.raises(ResultsDirError) as err:
        collect_results(results_root)
    msg = str(err.value)
    assert str(run / "result.json") in msg
    assert "'synth-face-v1/lips'" in msg and "topology 'flame-5023'" in msg


def test_relabelled_run_with_edited_masks_is_refused_by_its_config(results_root, fx):
    def relabel(res: dict) -> None:
        _as_vocaset(res)
        res["masks"] = {"lip": {"id": "flame-5023/lips", "sha256": res["masks"]["lip"]["sha256"]}}

    fx.write_grid(results_root)
    run = fx.write_run(results_root, "synth-as-voca", protocol="vocaset", animator="R", edit=relabel)
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"protocol": "synth"}, "seeds": [0, 1]}))
    with pytest.raises(ResultsDirError) as err:
        collect_results(results_root)
    msg = str(err.value)
    assert str(run / "config.yaml") in msg and "data.protocol is 'synth'" in msg
    # the same run with a config that agrees is published
    (run / "config.yaml").write_text(yaml.safe_dump({"data": {"protocol": "vocaset"}, "seeds": [0, 1]}))
    runs = collect_results(results_root)
    assert [r.path.name for r in runs["vocaset"]] == ["synth-as-voca"]
