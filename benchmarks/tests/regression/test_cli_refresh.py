"""``talkbench regress compare`` / ``refresh`` exit codes and output, and the baseline refresh."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from talkbench.regression import refresh_baseline, regress_app
from talkbench.regression.compare import RegressionInputError

BASE_LVE = [1.0e-5, 1.2e-5, 1.1e-5]
runner = CliRunner()


def test_compare_exit_codes_and_table(tmp_path, write_set, metric, result) -> None:
    base = write_set("base", [result("ff", {"lve": metric(BASE_LVE, "lve")})])
    same = write_set("same", [result("ff", {"lve": metric(BASE_LVE, "lve")})])
    worse = write_set("worse", [result("ff", {"lve": metric([1.5e-5] * 3, "lve")})])

    ok = runner.invoke(regress_app, ["compare", str(same), "--baseline", str(base)])
    assert ok.exit_code == 0, ok.output
    assert "regression check PASSED" in ok.output

    bad = runner.invoke(regress_app, ["compare", str(worse), "--baseline", str(base)])
    assert bad.exit_code == 1
    assert "REGRESSED" in bad.output and "synth | faceformer" in bad.output

    # a looser rule (k = 5 → tol 5e-6) lets the same change pass
    loose = runner.invoke(regress_app, ["compare", str(worse), "--baseline", str(base), "--k", "5"])
    assert loose.exit_code == 0, loose.output

    missing = runner.invoke(regress_app, ["compare", str(same), "--baseline", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output

    floor = runner.invoke(regress_app, ["compare", str(same), "--baseline", str(base), "--abs-floor", "lve"])
    assert floor.exit_code == 2
    assert "METRIC=VALUE" in floor.output


def test_compare_writes_a_github_step_summary(tmp_path, write_set, metric, result, monkeypatch) -> None:
    base = write_set("base", [result("ff", {"lve": metric(BASE_LVE, "lve")})])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = runner.invoke(regress_app, ["compare", str(base), "--baseline", str(base)])
    assert out.exit_code == 0
    assert "| metric | row | baseline mean ± std |" in summary.read_text(encoding="utf-8")


def test_refresh_replaces_the_baseline(tmp_path, write_set, metric, result) -> None:
    run = write_set("run", [
        result("ff", {"lve": metric(BASE_LVE, "lve")}),
        result("ff-av", {"lve": metric(BASE_LVE, "lve")}, av=True),
    ])
    (run / "synth" / "ff" / "per_sample.jsonl").write_text("{}\n", encoding="utf-8")  # not copied
    baseline = tmp_path / "baseline"
    (baseline / "synth" / "stale").mkdir(parents=True)
    (baseline / "synth" / "stale" / "result.json").write_text("{}", encoding="utf-8")
    (baseline / "README.md").write_text("notes\n", encoding="utf-8")

    out = runner.invoke(regress_app, ["refresh", str(run), "--baseline", str(baseline)])
    assert out.exit_code == 0, out.output
    files = sorted(p.relative_to(baseline).as_posix() for p in baseline.rglob("*") if p.is_file())
    assert files == ["README.md", "synth/ff-av/result.json", "synth/ff/result.json"]
    for rid in ("ff", "ff-av"):
        assert (baseline / "synth" / rid / "result.json").read_bytes() == (
            run / "synth" / rid / "result.json"
        ).read_bytes()
    compared = runner.invoke(regress_app, ["compare", str(run), "--baseline", str(baseline)])
    assert compared.exit_code == 0, compared.output


def test_refresh_refuses_bad_sources_and_leaves_the_baseline(tmp_path, write_set, metric, result) -> None:
    baseline = write_set("baseline", [result("ff", {"lve": metric(BASE_LVE, "lve")})])
    before = (baseline / "synth" / "ff" / "result.json").read_bytes()
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegressionInputError, match=r"holds no result\.json"):
        refresh_baseline(tmp_path / "empty", baseline)
    broken = tmp_path / "broken" / "synth" / "x"
    broken.mkdir(parents=True)
    data = json.loads(before)
    data["schema_version"] = 99
    (broken / "result.json").write_text(json.dumps(data), encoding="utf-8")
    out = runner.invoke(regress_app, ["refresh", str(tmp_path / "broken"), "--baseline", str(baseline)])
    assert out.exit_code == 2 and "unknown schema_version" in out.output
    assert (baseline / "synth" / "ff" / "result.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_smoke_command_runs_fresh_then_compares(tmp_path, write_set, metric, result, monkeypatch) -> None:
    import talkbench.run
    from talkbench.results import write_result

    baseline = write_set("base", [result("ff", {"lve": metric(BASE_LVE, "lve")})])
    seen = {}

    def fake_run_grid(config, out):  # the engine is tested elsewhere; here: what the command hands it
        seen["root"], seen["work"] = config.data.root, config.work_dir
        r = result("ff", {"lve": metric([1.5e-5] * 3, "lve")})
        write_result(out / "synth" / "ff" / "result.json", r)
        tpl = result("template", {"lve": metric([4.0e-5], "lve")}, kind="template", animator="template")
        write_result(out / "synth" / "template" / "result.json", tpl)
        return [out / "synth" / "ff", out / "synth" / "template"]

    monkeypatch.setattr(talkbench.run, "run_grid", fake_run_grid)
    out = runner.invoke(regress_app, ["smoke", "--out", str(tmp_path / "o"), "--baseline", str(baseline)])
    assert out.exit_code == 1, out.output
    assert "REGRESSED" in out.output
    assert "LVE / template  synth | faceformer: 0.375" in out.output  # 1.5e-5 / 4e-5
    assert "talkbench-smoke-" in seen["root"] and "talkbench-smoke-" in seen["work"]
    args = ["smoke", "--out", str(tmp_path / "c"), "--baseline", str(baseline), "--cached", "--k", "9"]
    cached = runner.invoke(regress_app, args)  # k = 9: tol 9e-6 covers the +4e-6 change
    assert cached.exit_code == 0, cached.output
    assert seen["root"] == "data/synth-head-smoke"


def test_smoke_command_fails_when_an_animator_is_near_the_template(
    tmp_path, write_set, metric, result, monkeypatch
) -> None:
    import talkbench.run
    from talkbench.results import write_result

    baseline = write_set("base", [result("ff", {"lve": metric([1.5e-5] * 3, "lve")})])

    def fake_run_grid(config, out):
        write_result(out / "synth" / "ff" / "result.json", result("ff", {"lve": metric([1.5e-5] * 3, "lve")}))
        tpl = result("template", {"lve": metric([1.6e-5], "lve")}, kind="template", animator="template")
        write_result(out / "synth" / "template" / "result.json", tpl)
        return [out / "synth" / "ff", out / "synth" / "template"]

    monkeypatch.setattr(talkbench.run, "run_grid", fake_run_grid)
    args = ["smoke", "--out", str(tmp_path / "o"), "--baseline", str(baseline)]
    out = runner.invoke(regress_app, args)
    assert out.exit_code == 1, out.output  # metrics equal the baseline, but 1.5 / 1.6 = 0.94 > 0.75
    assert "not clearly better than the motionless template" in out.output
    loose = runner.invoke(regress_app, [*args[:2], str(tmp_path / "p"), *args[3:], "--max-lve-ratio", "0.95"])
    assert loose.exit_code == 0, loose.output
