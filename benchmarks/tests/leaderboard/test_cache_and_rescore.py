"""Run-cache keys and re-deriving result.json from per_sample.jsonl."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import jiwer
import numpy as np
import pytest

from talkbench.results import (
    PerSampleRecord,
    RunResult,
    check_consistency,
    check_run_dir,
    code_version,
    rescore,
    run_cache_key,
)

CONFIG = {"animator": {"type": "faceformer", "hidden": 64, "layers": [1, 2]}, "lr": 1e-4, "seed": 0}
DATA = "a" * 64
CODE = "talkbench=0.1.0@abc"


def test_cache_key_is_sha256_of_the_documented_canonical_json():
    payload = {"code": CODE, "config": CONFIG, "data": DATA}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert run_cache_key(CONFIG, DATA, CODE) == hashlib.sha256(text.encode()).hexdigest()


def test_cache_key_ignores_key_order_and_container_kind():
    reordered = {"seed": 0, "lr": 1e-4, "animator": {"layers": (1, 2), "hidden": 64, "type": "faceformer"}}
    assert run_cache_key(reordered, DATA, CODE) == run_cache_key(CONFIG, DATA, CODE)
    assert run_cache_key(dict(CONFIG), DATA, CODE) == run_cache_key(CONFIG, DATA, CODE)


@pytest.mark.parametrize(
    ("config", "data", "code"),
    [
        ({**CONFIG, "lr": 2e-4}, DATA, CODE),
        ({**CONFIG, "animator": {**CONFIG["animator"], "hidden": 65}}, DATA, CODE),
        ({**CONFIG, "extra": None}, DATA, CODE),
        ({**CONFIG, "seed": 0.0}, DATA, CODE),  # documented: 0 and 0.0 differ
        (CONFIG, "b" * 64, CODE),
        (CONFIG, DATA, "talkbench=0.1.1@abc"),
    ],
)
def test_cache_key_changes_with_config_data_or_code(config, data, code):
    assert run_cache_key(config, data, code) != run_cache_key(CONFIG, DATA, CODE)


def test_cache_key_rejects_what_json_cannot_hold():
    with pytest.raises(ValueError, match=r"config\.lr: non-finite"):
        run_cache_key({"lr": float("nan")}, DATA, CODE)
    with pytest.raises(TypeError, match="key 1 is not a string"):
        run_cache_key({1: "x"}, DATA, CODE)
    with pytest.raises(TypeError, match=r"config\.path: value of type object"):
        run_cache_key({"path": object()}, DATA, CODE)
    with pytest.raises(ValueError, match="data_hash"):
        run_cache_key(CONFIG, "", CODE)


def test_code_version_follows_source_edits(tmp_path, monkeypatch):
    pkg = tmp_path / "tbcachetestpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "_version.py").write_text('__version__ = "1.2.3"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    first = code_version(("tbcachetestpkg",))
    assert first.startswith("tbcachetestpkg=1.2.3 (source tree)@")
    assert code_version(("tbcachetestpkg",)) == first  # unchanged sources, same string
    (pkg / "__init__.py").write_text("X = 2\n")
    assert code_version(("tbcachetestpkg",)) != first
    assert code_version(("tbcachetestpkg-absent",)) == "tbcachetestpkg-absent=not installed@absent"
    assert "tbcachetestpkg" not in sys.modules  # located, never imported


def test_source_hash_leaves_out_presentation_subpackages(tmp_path):
    from talkbench.results.cache import PRESENTATION_ONLY, source_sha256

    root = tmp_path / "pkg"
    (root / "leaderboard").mkdir(parents=True)
    (root / "core.py").write_text("X = 1\n")
    (root / "leaderboard" / "site.py").write_text("Y = 1\n")
    first = source_sha256(root, exclude=("leaderboard",))
    (root / "leaderboard" / "site.py").write_text("Y = 2\n")  # presentation only: same hash
    assert source_sha256(root, exclude=("leaderboard",)) == first
    assert source_sha256(root) != source_sha256(tmp_path / "pkg", exclude=("leaderboard",))
    (root / "core.py").write_text("X = 2\n")  # computation: a new hash
    assert source_sha256(root, exclude=("leaderboard",)) != first
    (root / "leaderboard.py").write_text("Z = 1\n")  # only subfolders are left out, not a module
    assert source_sha256(root, exclude=("leaderboard",)) != first
    # talkbench's excluded folders read results and compute none: only the command line imports them
    import re

    import talkbench

    tb = Path(talkbench.__file__).parent
    for name in PRESENTATION_ONLY["talkbench"]:
        assert (tb / name).is_dir()
        pattern = re.compile(rf"(from\s+\.+{name}\b|talkbench\.{name}\b)")
        for f in sorted(tb.rglob("*.py")):
            rel = f.relative_to(tb).parts
            if rel[0] in (*PRESENTATION_ONLY["talkbench"], "cli.py", "cli_bench.py", "__main__.py"):
                continue
            assert not pattern.search(f.read_text()), f"{f} imports talkbench.{name}"


def _run(fx, seeds=(0, 1), n_wrong=2, **kw):
    records = fx.samples(1.0, seeds, n_wrong)
    data = fx.result_dict("r1", records, seeds=seeds, **kw)
    return data, records


def test_rescore_rederives_every_metric(fx):
    data, records = _run(fx)
    derived = rescore(RunResult.model_validate(data), [PerSampleRecord.model_validate(r) for r in records])
    for name in ("lve", "fdd", "mve", "cer", "wer"):
        assert derived[name] == pytest.approx(data["metrics"][name]["per_seed"], rel=1e-12)
    # one value by hand: seed 0 LVE = sum(frames * lve) / sum(frames), frames 20, 30, 40
    lve0 = (20 * 1.0 + 30 * 1.1 + 40 * 1.2) * 1e-5 / 90
    assert derived["lve"][0] == pytest.approx(lve0, rel=1e-12)


def test_rescore_corpus_variant_uses_pooled_edit_counts(fx):
    data, records = _run(fx)
    data["metrics"]["cer"]["variant"] = "corpus"
    res = RunResult.model_validate(data)
    derived = rescore(res, [PerSampleRecord.model_validate(r) for r in records])
    for i, seed in enumerate((0, 1)):
        rs = [r for r in records if r["seed"] == seed]
        want = jiwer.cer([r["reference"] for r in rs], [r["hypothesis"] for r in rs])
        assert derived["cer"][i] == pytest.approx(want, rel=1e-12)
    # and it differs from the utterance mean stored for the "utterance" variant
    assert derived["cer"][0] != pytest.approx(data["metrics"]["cer"]["per_seed"][0])


def test_run_dir_consistency(tmp_path, fx):
    run = fx.write_run(tmp_path, "ok")
    assert check_run_dir(run) == []

    def tamper(d):
        d["metrics"]["lve"]["per_seed"][1] *= 1.01
        d["metrics"]["lve"]["value"] = float(np.mean(d["metrics"]["lve"]["per_seed"]))
        d["metrics"]["lve"]["std"] = float(np.std(d["metrics"]["lve"]["per_seed"], ddof=1))

    bad = fx.write_run(tmp_path, "tampered", edit=tamper)
    problems = check_run_dir(bad)
    assert len(problems) == 1 and problems[0].startswith("lve: seed 1 stores")


def test_consistency_reports_sample_count_missing_metric_and_transcripts(fx):
    data, records = _run(fx)
    res = RunResult.model_validate(data)
    recs = [PerSampleRecord.model_validate(r) for r in records]
    assert any("seed 0 has 2 samples but n = 3" in p for p in check_consistency(res, recs[1:]))
    no_lve = [
        r.model_copy(update={"metrics": {k: v for k, v in r.metrics.items() if k != "lve"}}) for r in recs
    ]
    assert check_consistency(res, no_lve)[0].startswith("seed 0: samples ['synth11_000'")
    no_text = [r.model_copy(update={"reference": None, "hypothesis": None}) for r in recs]
    assert "lack transcripts for 'cer'" in check_consistency(res, no_text)[0]
    stray = [*recs, recs[0].model_copy(update={"seed": 7})]
    assert "seeds [7]" in check_consistency(res, stray)[0]


def test_rescore_uses_the_current_normaliser(fx):
    data, records = _run(fx, seeds=(0,), n_wrong=0)
    for r in records:  # upper case and punctuation: the normaliser maps them back to the reference
        r["hypothesis"] = r["reference"].upper() + "!"
    res = RunResult.model_validate(data)
    derived = rescore(res, [PerSampleRecord.model_validate(r) for r in records])
    assert derived["cer"] == [0.0] and derived["wer"] == [0.0]


def test_rescore_ver_uses_the_variant_map_source_and_aggregate(fx):
    from facial_metrics import VisemeTranscriber

    data, records = _run(fx, seeds=(0,), n_wrong=1)
    transcribe = VisemeTranscriber("spectre", "cmudict")
    refs = [transcribe(r["reference"]) for r in records]
    hyps = [transcribe(r["hypothesis"]) for r in records]
    utterance = float(np.mean([jiwer.cer(r, h) for r, h in zip(refs, hyps)]))
    data["metrics"]["ver"] = {
        "value": utterance, "std": 0.0, "n": 3, "unit": "fraction", "variant": "spectre:cmudict:utterance",
        "report_scale": 1e-2, "higher_is_better": False, "per_seed": [utterance],
    }
    res = RunResult.model_validate(data)
    recs = [PerSampleRecord.model_validate(r) for r in records]
    assert rescore(res, recs)["ver"] == pytest.approx([utterance], rel=1e-12)
    assert utterance > 0
    data["metrics"]["ver"]["variant"] = "spectre:cmudict:corpus"
    corpus = rescore(RunResult.model_validate(data), recs)["ver"][0]
    assert corpus == pytest.approx(jiwer.cer(refs, hyps), rel=1e-12)
    data["metrics"]["ver"]["variant"] = "spectre:festival:utterance"
    with pytest.raises(ValueError, match="ver variant 'spectre:festival:utterance'"):
        RunResult.model_validate(data)
