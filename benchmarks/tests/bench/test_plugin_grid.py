"""A separately installed animator plug-in (``examples/gru-animator``, entry point ``gru``) goes the
whole way: preset validation, training, evaluation, the built site; its own code is in the cache key."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from facial_animator import get_animator, list_animators
from talkbench.config import ConfigError, load_config
from talkbench.results import animator_code_version

from .conftest import TINY_OVERRIDES

pytestmark = pytest.mark.skipif(
    "gru" not in list_animators(),
    reason="the example plug-in is not installed (pip install -c constraints.txt -e examples/gru-animator)",
)


@pytest.mark.slow(seconds=23)
def test_a_plugin_animator_trains_and_appears_on_the_site(
    tiny_corpus: Path, tmp_path: Path, face_v1_overrides: tuple[str, ...]
) -> None:
    preset = tmp_path / "newcomer.yaml"
    data = yaml.safe_load(
        (Path(__file__).parents[2] / "configs" / "smoke.yaml").read_text(encoding="utf-8")
    )
    data.update(
        name="newcomer",
        animators=[{"name": "GRU newcomer", "registry": "gru", "kwargs": {"hidden_dim": 8}}],
        variants=["baseline", "lrlv"],
    )
    preset.write_text(yaml.safe_dump(data), encoding="utf-8")
    overrides = [
        *TINY_OVERRIDES, *face_v1_overrides, f"data.root={tiny_corpus}", f"work_dir={tmp_path / 'work'}",
        "data.generate=false",
    ]
    results, site = tmp_path / "results", tmp_path / "site"
    cmd = [sys.executable, "-m", "talkbench.cli", "run", "--preset", str(preset), "--results", str(results),
           "--site-dir", str(site), *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for run_id in ("gru-newcomer-baseline", "gru-newcomer-lrlv", "ground-truth", "template"):
        assert (results / "synth" / run_id / "result.json").is_file(), run_id
    page = (site / "index.html").read_text(encoding="utf-8")
    assert "GRU newcomer" in page and "gru-newcomer-lrlv" in page
    assert (site / "runs" / "synth" / "gru-newcomer-baseline" / "result.json").is_file()


def test_a_misspelt_plugin_name_is_refused_at_load_with_a_suggestion() -> None:
    msg = r"animators\.0\.registry: unknown animator 'gur'.*Did you mean 'gru'"
    with pytest.raises(ConfigError, match=msg):
        load_config("smoke", ["animators.0.registry=gur"])


def test_the_cache_key_follows_the_plugins_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert animator_code_version(get_animator("faceformer")) == ""  # covered by the project's code version
    installed = animator_code_version(get_animator("gru"))
    assert installed.startswith(";plugin:gru_animator=0.1.0@")
    # a contributor's package on sys.path: editing its source changes the version string
    pkg = tmp_path / "my_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from facial_animator.examples import ExampleMLPAnimator\n\n"
                                     "class Mine(ExampleMLPAnimator):\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = animator_code_version(importlib.import_module("my_plugin").Mine)
    (pkg / "__init__.py").write_text((pkg / "__init__.py").read_text() + "# tuned\n", encoding="utf-8")
    after = animator_code_version(importlib.import_module("my_plugin").Mine)
    assert before.startswith(";plugin:my_plugin=unknown@") and before != after
