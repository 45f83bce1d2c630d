"""talkbench leaderboard build: validation of the results directory, tables, escaping, determinism, CLI."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkbench.leaderboard import (
    SITE_MARKER,
    ResultsDirError,
    build_site,
    column_header,
    format_scale,
    load_reported,
)
from talkbench.leaderboard.cli import app

EVIL = "<script>window.__pwned=1</script>"


class _Rows(HTMLParser):
    """Text of every cell of the table with a given id (stdlib HTML parser: an independent reader)."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.in_body = table_id, 0, False
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.depth = 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth and self.in_body and tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        if self.depth and tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None
        elif self.depth and tag == "table":
            self.depth, self.in_body = 0, False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    parser = _Rows(table_id)
    parser.feed(html)
    return parser.rows


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_grid_tables_links_and_plots(tmp_path, results_root, fx):
    fx.write_grid(results_root)
    out = tmp_path / "site"
    summary = build_site(results_root, out)
    assert summary.n_runs == 6 and summary.protocols == ("synth", "biwi-test-a", "vocaset")
    html = (out / "index.html").read_text(encoding="utf-8")

    rows = table_rows(html, "runs-synth")
    assert [r[0] for r in rows] == [
        "ground truth", "fixture-A", "fixture-A", "fixture-B", "fixture-B", "template"
    ]
    # the bracketing rows have no guidance
    assert [r[1] for r in rows] == ["–", "baseline", "+AV", "baseline", "+AV", "–"]
    # fixture-B baseline LVE by hand: level 1.3, seed s: 1.3 * (20*1 + 30*1.1 + 40*1.2 + 90*0.05*s) / 90
    per_seed = [1.3 * (20 + 33 + 48 + 90 * 0.05 * s) / 90 for s in (0, 1)]
    want = f"{np.mean(per_seed):.3f} ± {np.std(per_seed, ddof=1):.3f}"
    assert rows[3][3] == want
    assert 'title="LVE ×10⁻⁵ m² (max_sq): ' in html and 'title="CER % (utterance): ' in html
    # grouped headers: vertex metrics, then the reader's
    assert html.index('class="group group-vertex"') < html.index('class="group group-reading"')
    # every run row links its per-sample page
    assert [r[2].split("config")[0] for r in rows] == ["gt", "a-base", "a-av", "b-base", "b-av", "template"]
    assert 'href="runs/synth/b-base/index.html"' in html

    guidance = table_rows(html, "guidance-synth")
    assert [(r[0], r[1]) for r in guidance] == [("fixture-A", "+AV"), ("fixture-B", "+AV")]
    ff_av = [1.1 * (20 + 33 + 48 + 90 * 0.05 * s) / 90 for s in (0, 1)]
    delta = np.mean(ff_av) - np.mean(per_seed)
    # per metric: baseline, +guidance, Δ [95 % CI], verdict; every item's LVE is lower with guidance
    # (level 1.1 < 1.3), so every bootstrap resample's Δ is negative: an interval below 0, "better"
    # one cell per metric: "reference → guided", Δ, its interval, the verdict
    parts = guidance[1][2].split()
    assert parts[:3] == [f"{np.mean(per_seed):.3f}", "→", f"{np.mean(ff_av):.3f}"]
    assert parts[3] == f"{delta:+.3f}"
    low, high = float(parts[4].strip("[,")), float(parts[5].rstrip("]"))
    assert low <= high < 0
    assert parts[6:] == ["better"]

    # LVE / template: the template's LVE by hand, level 3: 3 * (101 + 90*0.05*s) / 90, seeds 0 and 1
    template = np.mean([3.0 * (20 + 33 + 48 + 90 * 0.05 * s) / 90 for s in (0, 1)])
    assert "LVE / template (max_sq)" in html
    assert rows[3][-1] == f"{np.mean(per_seed) / template:.2f} ± {np.std(per_seed, ddof=1) / template:.2f}"
    assert rows[-1][-1].startswith("1.00 ± ") and rows[0][-1] == "0.00 ± 0.00"  # template, ground truth

    # paper-reported rows, labelled as such, with their sources
    biwi = table_rows(html, "runs-biwi-test-a")
    assert biwi[2][:2] == ["FaceFormer", "reported"]
    assert biwi[2][3:] == ["5.3077", "4.6408"]
    assert biwi[2][2] == "paper · code · source"  # FaceFormer's arXiv page and repository, the source
    assert "FaceFormer (" in html and "): LVE: CodeTalker (CVPR 2023) Table 1, BIWI-Test-A" in html
    assert len(table_rows(html, "runs-vocaset")) == 5

    assert (out / "plots/synth-lve-vs-cer.svg").read_bytes().startswith(b"<?xml")
    assert (out / "plots/synth-guidance.svg").is_file()
    assert 'src="plots/synth-lve-vs-cer.svg"' in html
    assert (out / "runs/synth/b-base/config.yaml").read_bytes() == (
        results_root / "synth/b-base/config.yaml"
    ).read_bytes()
    assert (out / "runs/synth/b-base/sample.mp4").read_bytes() == fx.tiny_video()
    assert 'src="runs/synth/b-base/sample.mp4" poster="runs/synth/b-base/poster.png"' in html
    assert (out / "runs/synth/b-base/poster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "runs/synth/a-base/poster.png").exists()  # no video, no poster
    from PIL import Image

    poster = np.asarray(Image.open(out / "runs/synth/b-base/poster.png"))
    assert poster.shape == (32, 48, 3)
    assert abs(float(poster.mean()) - (20 + 25 * 4)) < 4  # the middle of the 8 frames: grey level 120
    data = json.loads((out / "data/leaderboard.json").read_text(encoding="utf-8"))
    assert [t["protocol"] for t in data["tables"]] == ["synth", "biwi-test-a", "vocaset"]
    # self-contained: nothing is loaded from the network; the only external addresses are links
    # (the reported rows' papers and code) a reader may follow
    page = html.replace('"http://www.w3.org/2000/svg"', "")
    urls = re.findall(r'"(https?://[^"]+)"', page)
    anchors = re.findall(r'<a [^>]*href="(https?://[^"]+)"', page)
    assert urls and sorted(urls) == sorted(anchors)
    assert all(u.startswith(("https://arxiv.org/abs/", "https://github.com/")) for u in urls)


def test_build_is_deterministic(tmp_path, results_root, fx):
    fx.write_grid(results_root, evil_name=EVIL)
    a, b = tmp_path / "a", tmp_path / "b"
    build_site(results_root, a)
    build_site(results_root, b)
    first = _tree(a)
    assert first == _tree(b)
    build_site(results_root, a)  # rebuilding in place gives the same bytes again
    assert _tree(a) == first
    copy = tmp_path / "copy"
    shutil.copytree(results_root, copy)  # the site depends on content, not on where the results live
    build_site(copy, tmp_path / "c")
    assert _tree(tmp_path / "c") == first


def test_strings_from_results_are_escaped(tmp_path, results_root, fx):
    fx.write_grid(results_root, evil_name=EVIL)
    out = tmp_path / "site"
    build_site(results_root, out)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert html.count("<script") == 2  # the page's own JSON block and sorter only


def test_script_tag_in_embedded_json_is_escaped(tmp_path, results_root, fx):
    unit = "m²</script><script>window.__pwned=2</script>"

    def evil_unit(d):
        d["metrics"]["lve"]["unit"] = unit

    fx.write_run(results_root, "only", edit=evil_unit)
    out = tmp_path / "site"
    build_site(results_root, out)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert html.count("</script>") == 2
    assert "\\u003c/script\\u003e" in html  # inside the embedded JSON
    meta = html.split('id="leaderboard-meta">', 1)[1].split("</script>", 1)[0]
    assert json.loads(meta)["runs-synth"][3]["header"] == f"LVE ×10⁻⁵ {unit} (max_sq)"


def _expect_error(results_root: Path, tmp_path: Path, *fragments: str) -> None:
    out = tmp_path / "site"
    with pytest.raises(ResultsDirError) as err:
        build_site(results_root, out)
    for fragment in fragments:
        assert fragment in str(err.value)
    assert not out.exists()  # nothing written
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def test_protocol_mixing_is_rejected(tmp_path, results_root, fx):
    fx.write_grid(results_root)
    fx.write_run(results_root, "misfiled", protocol_dir="vocaset", animator="Misfiled")
    _expect_error(results_root, tmp_path, str(results_root / "vocaset/misfiled/result.json"),
                  "protocol 'synth' filed under 'vocaset' (protocol mixing")


@pytest.mark.parametrize(
    ("setup", "fragments"),
    [
        ("unknown_protocol", ["unknown protocol folder"]),
        ("missing_file", ["missing env.json"]),
        ("extra_file", ["unexpected weights.pt"]),
        ("run_id", ["run_id 'other' differs from its folder name"]),
        ("nan", ["NaN is not a valid number"]),
        ("dataset_hash", ["runs differ in dataset content hash"]),
        ("reader", ["runs differ in evaluation reader"]),
        ("variant", ["runs differ in lve variant/unit/report scale"]),
        ("duplicate", ["are the same row", "'fixture-animator'"]),
        ("tampered", ["does not match per_sample.jsonl: cer: seed 0 stores"]),
        ("stray_file", ["notes.txt: unexpected file"]),
    ],
)
def test_invalid_results_are_rejected(tmp_path, results_root, fx, setup, fragments):
    fx.write_run(results_root, "base")
    if setup == "unknown_protocol":
        fx.write_run(results_root, "x", protocol_dir="lrs3", animator="X")
    elif setup == "missing_file":
        (fx.write_run(results_root, "x", animator="X") / "env.json").unlink()
    elif setup == "extra_file":
        (fx.write_run(results_root, "x", animator="X") / "weights.pt").write_bytes(b"")
    elif setup == "run_id":
        fx.write_run(results_root, "x", animator="X", edit=lambda d: d.update(run_id="other"))
    elif setup == "nan":
        run = fx.write_run(results_root, "x", animator="X")
        text = (run / "result.json").read_text(encoding="utf-8")
        (run / "result.json").write_text(text.replace('"wall_time_s": 12.5', '"wall_time_s": NaN'))
    elif setup == "dataset_hash":
        fx.write_run(
            results_root, "x", animator="X", edit=lambda d: d["dataset"].update(content_sha256="b" * 64)
        )
    elif setup == "reader":
        fx.write_run(results_root, "x", animator="X", edit=lambda d: d["reader"].update(id="other-reader"))
    elif setup == "variant":
        fx.write_run(
            results_root, "x", animator="X", edit=lambda d: d["metrics"]["lve"].update(variant="max_l2")
        )
    elif setup == "duplicate":
        fx.write_run(results_root, "again", level=2.0)
    elif setup == "tampered":
        def tamper(d):
            d["metrics"]["cer"]["per_seed"] = [0.5, 0.5]
            d["metrics"]["cer"].update(value=0.5, std=0.0)

        fx.write_run(results_root, "x", animator="X", edit=tamper)
    elif setup == "stray_file":
        (results_root / "synth" / "notes.txt").write_text("hello")
    _expect_error(results_root, tmp_path, *fragments)


def test_refuses_to_replace_a_folder_that_is_not_a_site(tmp_path, results_root, fx):
    fx.write_run(results_root, "base")
    out = tmp_path / "docs"
    out.mkdir()
    (out / "precious.md").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        build_site(results_root, out)
    assert (out / "precious.md").read_text() == "keep me"
    site = tmp_path / "site"
    build_site(results_root, site)
    assert (site / SITE_MARKER).is_file()
    (site / "stale.html").write_text("old")
    build_site(results_root, site)
    assert not (site / "stale.html").exists()


def test_cli_build(tmp_path, results_root, fx):
    fx.write_grid(results_root)
    runner = CliRunner()
    ok = runner.invoke(app, ["build", "--results", str(results_root), "--out", str(tmp_path / "site")])
    assert ok.exit_code == 0, ok.output
    assert "6 run(s)" in ok.output and (tmp_path / "site/index.html").is_file()
    fx.write_run(results_root, "misfiled", protocol_dir="vocaset", animator="M")
    bad = runner.invoke(app, ["build", "--results", str(results_root), "--out", str(tmp_path / "site2")])
    assert bad.exit_code == 1
    assert "protocol mixing" in bad.output
    missing = runner.invoke(app, ["build", "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "s")])
    assert missing.exit_code == 1 and "results directory not found" in missing.output


def test_reported_numbers_match_the_reference_tables():
    entries = load_reported()
    assert len(entries) == 15  # baselines.md §6: 5 methods × (LVE, FDD) on BIWI-Test-A + 5 LVE on VOCASET
    by_key = {(e.protocol, e.method, e.metric): e for e in entries}
    ct = by_key[("biwi-test-a", "CodeTalker", "lve")]
    assert (ct.value, ct.report_scale, ct.variant) == (4.7914, 1e-4, "max_sq")
    assert by_key[("biwi-test-a", "VOCA", "fdd")].verification == "[unverified]"
    assert by_key[("vocaset", "SelfTalk", "lve")].value == 3.2238
    assert by_key[("vocaset", "SelfTalk", "lve")].verification.startswith("[unverified")
    assert by_key[("biwi-test-a", "FaceFormer", "lve")].raw_value == pytest.approx(5.3077e-4)


def test_reported_numbers_file_is_validated():
    bad = {"description": "x", "entries": [
        {"protocol": "vocaset", "method": "A", "metric": "lve", "value": 1.0, "report_scale": 1e-4,
         "variant": "max_sq", "source": "s", "verification": "[paper]"}]}
    with pytest.raises(ValueError, match=r"report_scale 0\.0001 is not protocol 'vocaset'"):
        load_reported(json.dumps(bad))


@pytest.mark.parametrize(
    ("scale", "unit", "want"),
    [(1e-5, "m²", "×10⁻⁵ m²"), (1e-4, "normalised-unit²", "×10⁻⁴ normalised-unit²"), (1e-2, "fraction", "%"),
     (1.0, "m", "m"), (2.5e-3, "m", "×0.0025 m")],
)
def test_format_scale(scale, unit, want):
    assert format_scale(scale, unit) == want


def test_column_header():
    assert column_header("lve", 1e-5, "m²", "max_sq") == "LVE ×10⁻⁵ m² (max_sq)"


def test_empty_results_give_a_reported_only_site(tmp_path, results_root):
    results_root.mkdir()
    (results_root / "README.md").write_text("notes are allowed")
    summary = build_site(results_root, tmp_path / "site")
    assert summary.n_runs == 0 and summary.protocols == ("biwi-test-a", "vocaset")
    html = (tmp_path / "site/index.html").read_text(encoding="utf-8")
    assert "No reproduced runs under this protocol yet" in html
    assert not (tmp_path / "site/plots").exists()


def test_undecodable_sample_video_is_reported(tmp_path, results_root, fx):
    fx.write_run(results_root, "broken", video=b"not a real video")
    with pytest.raises(ResultsDirError, match=r"broken/sample\.mp4.*no poster frame"):
        build_site(results_root, tmp_path / "site")
    assert not (tmp_path / "site").exists()
