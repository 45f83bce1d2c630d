"""result.json / per_sample.jsonl / env.json: round trips, validation errors, atomic writes."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

from talkbench.results import (
    NOT_INSTALLED,
    REQUIRED_PACKAGES,
    MetricSummary,
    PerSampleRecord,
    ResultFileError,
    RunResult,
    atomic_write_text,
    collect_env,
    git_state,
    load_env,
    load_per_sample,
    load_result,
    package_version,
    write_env,
    write_per_sample,
    write_result,
)


def _write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_result_round_trip(tmp_path, fx):
    records = fx.samples(1.0, (0, 1), 2)
    data = fx.result_dict("ff-base", records)
    src = _write_json(tmp_path / "in.json", data)
    res = load_result(src)
    assert res.run_id == "ff-base" and res.seeds == [0, 1]
    assert res.metrics["lve"].per_seed == data["metrics"]["lve"]["per_seed"]
    out = write_result(tmp_path / "out.json", res)
    again = load_result(out)
    assert again == res
    text = out.read_text(encoding="utf-8")
    write_result(tmp_path / "out2.json", again)
    assert (tmp_path / "out2.json").read_text(encoding="utf-8") == text  # canonical, stable bytes
    assert json.loads(text)["date"].startswith("2026-01-31T12:00:00")


def test_metric_summary_from_seeds_mean_and_sample_std():
    m = MetricSummary.from_seeds([1.0, 2.0, 4.0], n=3, unit="m²", variant="max_sq", report_scale=1e-5)
    assert m.value == pytest.approx(7 / 3)
    # sample std by hand: deviations -4/3, -1/3, 5/3 -> (16 + 1 + 25) / 9 / (3 - 1) = 7/3
    assert m.std == pytest.approx(math.sqrt(7 / 3))
    single = MetricSummary.from_seeds([5.0], n=1, unit="m", variant="l2", report_scale=1e-3)
    assert single.std == 0.0


def _mutations():
    def drop(key):
        return lambda d: d.pop(key)

    def setm(metric, field, value):
        def f(d):
            d["metrics"][metric][field] = value

        return f

    return [
        ("unknown schema", lambda d: d.update(schema_version=2), "unknown schema_version 2"),
        ("missing schema", drop("schema_version"), "missing 'schema_version'"),
        ("missing field", drop("seeds"), "seeds: Field required"),
        ("unknown field", lambda d: d.update(colour="red"), "colour: Extra inputs are not permitted"),
        ("value not mean", setm("lve", "value", 1.0), "is not the mean of per_seed"),
        ("std not std", setm("fdd", "std", 1.0), "is not the sample std"),
        ("seed count", lambda d: d.update(seeds=[0, 1, 2]), "2 per_seed values for 3 seeds"),
        ("unknown protocol", lambda d: d.update(protocol="lrs3"), "unknown protocol 'lrs3'"),
        ("dataset", lambda d: d["dataset"].update(id="biwi"), "does not belong to protocol 'synth'"),
        ("scale", setm("lve", "report_scale", 1e-4), "report_scale 0.0001 differs"),
        ("variant", setm("lve", "variant", "max_abs"), "lve variant 'max_abs' is unknown"),
        ("no reader", lambda d: d.update(reader=None), "'reader' is missing"),
        ("guided gt", lambda d: d.update(kind="ground truth", guidance={"av": True}), "has no guidance"),
        ("naive date", lambda d: d.update(date="2026-01-31T12:00:00"), "must carry a time zone"),
        ("bad sha", lambda d: d["dataset"].update(content_sha256="abc"), "content_sha256"),
        ("run id", lambda d: d.update(run_id="../evil"), "run_id"),
        ("versions", lambda d: d["versions"].pop("torch"), "versions lacks ['torch']"),
        ("dup seeds", lambda d: d.update(seeds=[1, 1]), "seeds must be unique"),
        ("no metrics", lambda d: d.update(metrics={}), "metrics"),
        ("unknown metric", lambda d: d["metrics"].update(bleu=d["metrics"]["lve"]), "metrics.bleu"),
    ]


@pytest.mark.parametrize(("case", "mutate", "message"), _mutations(), ids=[m[0] for m in _mutations()])
def test_load_result_rejects_invalid(tmp_path, fx, case, mutate, message):
    data = fx.result_dict("r1", fx.samples(1.0, (0, 1), 1))
    mutate(data)
    path = _write_json(tmp_path / "result.json", data)
    with pytest.raises(ResultFileError) as err:
        load_result(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_load_result_rejects_non_finite_literals(tmp_path, fx, literal):
    data = fx.result_dict("r1", fx.samples(1.0, (0, 1), 1))
    text = json.dumps(data).replace(json.dumps(data["wall_time_s"]), literal, 1)
    path = tmp_path / "result.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ResultFileError, match="not a valid number"):
        load_result(path)


def test_load_result_rejects_broken_json_and_missing_file(tmp_path):
    bad = tmp_path / "result.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ResultFileError, match="invalid JSON"):
        load_result(bad)
    with pytest.raises(ResultFileError, match="file not found"):
        load_result(tmp_path / "absent.json")
    _write_json(bad, [1, 2])
    with pytest.raises(ResultFileError, match="expected a JSON object"):
        load_result(bad)


def test_per_sample_round_trip_and_errors(tmp_path, fx):
    records = [PerSampleRecord.model_validate(r) for r in fx.samples(1.0, (0,), 1)]
    path = write_per_sample(tmp_path / "per_sample.jsonl", records)
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(fx.REFS)
    assert load_per_sample(path) == records

    lines = path.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    broken["metrics"]["lve"] = float("nan")
    lines[1] = json.dumps(broken)  # json.dumps writes the NaN literal
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ResultFileError, match=r"line 2: invalid JSON: NaN is not a valid number"):
        load_per_sample(path)

    one = json.loads(lines[0])
    del one["hypothesis"]
    path.write_text(json.dumps(one) + "\n", encoding="utf-8")
    with pytest.raises(ResultFileError, match=r"line 1: .*reference and hypothesis must be given together"):
        load_per_sample(path)

    path.write_text(lines[0] + "\n" + lines[0] + "\n", encoding="utf-8")
    with pytest.raises(ResultFileError, match="duplicate sample"):
        load_per_sample(path)

    path.write_text("", encoding="utf-8")
    with pytest.raises(ResultFileError, match="no samples"):
        load_per_sample(path)


def test_env_collection_and_round_trip(tmp_path):
    env = collect_env()
    for dist in REQUIRED_PACKAGES:
        assert dist in env.versions
    assert env.hardware.cores >= 1
    assert package_version("no-such-distribution-talkbench-test") == NOT_INSTALLED
    assert package_version("pytest") == pytest.__version__
    path = write_env(tmp_path / "env.json", env)
    assert load_env(path) == env
    assert collect_env(cwd=tmp_path).git_sha is None  # not a git work tree


def test_git_state_of_a_fresh_repository(tmp_path):
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    run = {"cwd": tmp_path, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    (tmp_path / "a.txt").write_text("1")
    subprocess.run(["git", "add", "a.txt"], **run)
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", *ident, "commit", "-qm", "c"], **run)
    head = subprocess.run(["git", "rev-parse", "HEAD"], text=True, **run).stdout.strip()
    assert git_state(tmp_path) == (head, False)
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path) == (head, True)


def test_atomic_write_keeps_old_file_when_replace_fails(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old\n")

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new\n")
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]  # no temp file left behind


def test_runresult_is_frozen(fx):
    res = RunResult.model_validate(fx.result_dict("r1", fx.samples(1.0, (0, 1), 1)))
    with pytest.raises(ValueError, match="frozen"):
        res.run_id = "other"
