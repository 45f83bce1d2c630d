"""Site summaries: rows not below the template (run and site), findings, models, papers, build stamp."""

from __future__ import annotations

import re
from pathlib import Path

from talkbench.leaderboard import build_site
from talkbench.run import template_warnings


def test_rows_not_below_the_template_are_flagged(results_root: Path, tmp_path: Path, fx) -> None:
    fx.write_grid(results_root)
    # the fixture's LVE is level x the same per-item factors: LVE / template = 3.3 / 3.0 = 1.10
    fx.write_run(results_root, "c-base", level=3.3, n_wrong=4, animator="fixture-C")
    dirs = sorted((results_root / "synth").iterdir())
    lines = template_warnings(dirs)
    assert len(lines) == 1
    assert "fixture-C" in lines[0] and "(c-base)" in lines[0] and "LVE / template 1.10" in lines[0]
    assert lines[0].startswith("warning: ") and "\n" not in lines[0]
    # every other row is below the template (levels 0.8 to 1.3 against 3): no warning
    write = [d for d in dirs if d.name != "c-base"]
    assert template_warnings(write) == []

    build_site(results_root, tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    flagged = re.findall(r'<tr class="kind-method">(?:(?!</tr>).)*?not below the template', html, re.S)
    assert len(flagged) == 1 and "fixture-C" in flagged[0]
    assert html.count("⚠ not below the template") == 1


def test_findings_summarise_every_stored_verdict(results_root: Path, tmp_path: Path, fx) -> None:
    from talkbench.leaderboard.collect import collect_results
    from talkbench.leaderboard.reported import load_reported
    from talkbench.leaderboard.tables import build_tables

    fx.write_grid(results_root)
    tables = build_tables(collect_results(results_root), load_reported())
    table = next(t for t in tables if t["protocol"] == "synth")
    assert table["guidance_rows"], "the fixture grid has guided runs"
    short = {c["metric"]: c["short"] for c in table["columns"]}
    listed = {(g["guidance"], a["animator"]): a for g in table["findings"] for a in g["animators"]}
    assert len(listed) == len(table["guidance_rows"])
    for row in table["guidance_rows"]:
        entry = listed[(row["guidance"], row["animator"])]
        for metric, cell in row["cells"].items():
            name = short[metric]
            where = {"better": "better", "worse": "worse", "no measurable effect": "none"}[cell["verdict"]]
            named = [x for x in entry[where] if x == name or x.startswith((f"{name} ", f"|{name}| "))]
            assert len(named) == 1, (row["guidance"], row["animator"], metric, entry)
            if where != "none":  # with its Δ and interval
                assert "[" in named[0] and "]" in named[0]
    build_site(results_root, tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'id="findings-synth"' in html and html.index('id="findings-synth"') < html.index('id="runs-synth"')


def test_the_page_names_the_build_commit_and_date(results_root: Path, tmp_path: Path, fx) -> None:
    import os
    import shutil
    import subprocess

    from talkbench.leaderboard.site import BuildInfo, git_build_info

    if shutil.which("git") is None:
        import pytest

        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    when = {"GIT_COMMITTER_DATE": "2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE": "2026-03-04T05:06:07Z"}
    env = {**os.environ, **who, **when}
    (repo / "f.txt").write_text("a\n")
    for cmd in (["init", "-q"], ["add", "f.txt"], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                         text=True).stdout.strip()
    assert git_build_info(repo) == BuildInfo(commit=sha, date="2026-03-04", dirty=False)
    (repo / "f.txt").write_text("b\n")
    assert git_build_info(repo) == BuildInfo(commit=sha, date="2026-03-04", dirty=True)
    assert git_build_info(tmp_path / "nowhere") is None

    fx.write_grid(results_root)
    info = BuildInfo(commit=sha, date="2026-03-04")
    build_site(results_root, tmp_path / "a", build=info)
    build_site(results_root, tmp_path / "b", build=info)
    page = (tmp_path / "a" / "index.html").read_bytes()
    assert page == (tmp_path / "b" / "index.html").read_bytes()  # same results, same commit: same bytes
    assert f'title="{sha}">{sha[:12]}</code> of 2026-03-04'.encode() in page
    build_site(results_root, tmp_path / "c", build=None)
    assert b"the build's commit is unknown" in (tmp_path / "c" / "index.html").read_bytes()
    # by default the page names the checkout the build runs in (this repository, under git)
    build_site(results_root, tmp_path / "d")
    here = git_build_info()
    if here is not None:
        assert f'title="{here.commit}"'.encode() in (tmp_path / "d" / "index.html").read_bytes()


def test_model_table_and_paper_links(results_root: Path, tmp_path: Path, fx) -> None:
    from talkbench.leaderboard.papers import PAPERS, paper_for

    # every listed paper links an arXiv abstract page, and its code (if any) a GitHub repository
    for name, p in PAPERS.items():
        assert p.url.startswith("https://arxiv.org/abs/"), name
        assert p.code is None or p.code.startswith("https://github.com/"), name
    assert paper_for("faceformer") is PAPERS["FaceFormer"] and paper_for("conv_regressor") is None
    fx.write_grid(results_root)
    build_site(results_root, tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    # one model row per animator of the protocol's runs (fixture-A and fixture-B), before the guidance
    start = html.index('id="models-table-synth"')
    models = html[start : html.index("</table>", start)]
    assert models.count("<tr>") == 3 and "fixture-A" in models and "fixture-B" in models
    # the reported rows of the packaged file link their papers (VOCASET and BIWI tables)
    assert 'class="paper" href="https://arxiv.org/abs/2112.05329"' in html


def test_model_parameters_are_counted_as_the_harness_builds_the_model() -> None:
    from facial_animator import build_animator
    from talkbench.config import load_config
    from talkbench.leaderboard.tables import parameter_count, topology_vertices

    spec = next(a for a in load_config("default").animators if a.registry == "conv_regressor")
    assert topology_vertices("synth-head-v2") == 4786 and topology_vertices("flame-5023") == 5023
    count = parameter_count(spec.model_dump(), "synth-head")
    direct = build_animator("conv_regressor", num_vertices=4786, num_styles=8, **spec.kwargs)
    assert count == sum(p.numel() for p in direct.parameters())
    # its per-frame output layer alone: 64 features -> 4786 x 3 coordinates, with biases
    assert count > 64 * 4786 * 3 + 4786 * 3
    assert parameter_count({"name": "x", "registry": "no-such-animator"}, "synth-head") is None
