"""A trained row that does not beat the motionless template is flagged: by `talkbench run` and on the site."""

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
