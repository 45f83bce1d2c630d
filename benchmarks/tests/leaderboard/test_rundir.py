"""summarize(), write_run_dir() / load_run_dir(): building a run directory that the leaderboard accepts."""

from __future__ import annotations

import pytest

import talkbench.results.rundir as rundir
from talkbench.leaderboard import build_site
from talkbench.results import (
    EnvInfo,
    PerSampleRecord,
    RunResult,
    load_run_dir,
    summarize,
    write_run_dir,
)

VARIANTS = {"lve": "max_sq", "fdd": "codetalker", "mve": "l2", "cer": "utterance", "wer": "utterance"}


def _records(fx, seeds=(0, 1)):
    raw = fx.samples(1.2, seeds, 2)
    return raw, [PerSampleRecord.model_validate(r) for r in raw]


def test_summarize_matches_independent_aggregates(fx):
    raw, records = _records(fx)
    got = summarize(records, (0, 1), "synth", VARIANTS)
    want = fx.aggregate(raw, (0, 1))  # NumPy / jiwer, in the test's conftest
    for name in VARIANTS:
        assert got[name].per_seed == pytest.approx(want[name]["per_seed"], rel=1e-12)
        assert got[name].value == pytest.approx(want[name]["value"], rel=1e-12)
        assert got[name].std == pytest.approx(want[name]["std"], rel=1e-9)
        assert (got[name].n, got[name].unit, got[name].report_scale) == (
            3, want[name]["unit"], want[name]["report_scale"]
        )
    linear = summarize(records, (0, 1), "biwi-test-a", {"lve": "max_l2"})["lve"]
    assert (linear.unit, linear.report_scale) == ("normalised-unit", 1e-4)


def test_summarize_rejects_uneven_seeds_and_unknown_variants(fx):
    _, records = _records(fx)
    with pytest.raises(ValueError, match="different sample counts"):
        summarize(records[1:], (0, 1), "synth", VARIANTS)
    with pytest.raises(ValueError, match="seed 2 has no samples"):
        summarize(records, (0, 1, 2), "synth", VARIANTS)
    with pytest.raises(ValueError, match="fdd variant 'signed' is unknown"):
        summarize(records, (0, 1), "synth", {"fdd": "signed"})


def _result(fx, run_id, records_raw, **kw):
    return RunResult.model_validate(fx.result_dict(run_id, records_raw, **kw))


def test_write_then_load_run_dir_and_publish(tmp_path, fx, monkeypatch):
    raw, records = _records(fx)
    result = _result(fx, "r1", raw)
    env = EnvInfo.model_validate(fx.env_dict())
    video = tmp_path / "v.mp4"
    video.write_bytes(fx.tiny_video())
    run_dir = tmp_path / "results" / "synth" / "r1"

    original = rundir.write_result

    def result_last(path, res):
        assert all((run_dir / f).is_file() for f in ("per_sample.jsonl", "config.yaml", "env.json"))
        return original(path, res)

    monkeypatch.setattr(rundir, "write_result", result_last)
    write_run_dir(run_dir, result, records, {"animator": {"type": "x"}, "lr": 0.001}, env, video=video)
    loaded = load_run_dir(run_dir)
    assert loaded.result == result and loaded.records == records and loaded.env == env
    assert loaded.config == {"animator": {"type": "x"}, "lr": 0.001}
    assert loaded.video is not None and loaded.video.read_bytes() == fx.tiny_video()
    summary = build_site(tmp_path / "results", tmp_path / "site")
    assert summary.n_runs == 1


def test_write_run_dir_refuses_inconsistent_or_misnamed_runs(tmp_path, fx):
    raw, records = _records(fx)
    env = EnvInfo.model_validate(fx.env_dict())
    with pytest.raises(ValueError, match="folder name must equal run_id 'r1'"):
        write_run_dir(tmp_path / "other", _result(fx, "r1", raw), records, {}, env)
    fewer = records[:-1]
    with pytest.raises(ValueError, match=r"does not match its samples: .*seed 1 has 2 samples but n = 3"):
        write_run_dir(tmp_path / "r1", _result(fx, "r1", raw), fewer, {}, env)
    assert not (tmp_path / "r1").exists() and not (tmp_path / "other").exists()
