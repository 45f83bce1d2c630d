"""``paper-vocaset`` and ``paper-biwi`` end to end on the real topologies, on a CPU.

Each preset runs as a user types it (``python -m talkbench.cli run --preset ...``) on a tiny dataset
in its processed layout (``real_layouts.py``: 5,023-vertex FLAME-sized meshes with a FLAME region
pickle, or the real 23,370-vertex BIWI mesh with CodeTalker's region files), with size-reducing
overrides only: random-init wav2vec2 encoders sized by a ``Wav2Vec2Config`` mapping, a small
CodeTalker, 2 steps everywhere, tiny char-tokenised readers, 0.6 s sequences, one sentence and one
style in evaluation, half-size renders. Everything else is the preset's: all three animators, all
five variants, both readers, the bracketing rows, guidance effects and the built site.
Measured alone on 2 cores: about 40 s (VOCASET) and 60 s (BIWI), peak RSS 1.1 / 1.2 GB.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from talkbench.config import load_config

_spec = importlib.util.spec_from_file_location("real_layouts", Path(__file__).with_name("real_layouts.py"))
assert _spec is not None and _spec.loader is not None
_layouts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_layouts)

W2V = (
    "{config: {hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, "
    "conv_dim: [16,16,16,16,16,16,16], num_conv_pos_embeddings: 16, num_conv_pos_embedding_groups: 2}}"
)
#: CodeTalker's stage 1 at a few units; face_quan_num x zquant_dim = hidden_size (VOCASET's layout),
#: BIWI's layout keeps its bottleneck linears and bias-free output
VQ = {
    "paper-vocaset": "{face_quan_num: 16, zquant_dim: 4, hidden_size: 64, num_hidden_layers: 1, "
    "num_attention_heads: 2, intermediate_size: 128}",
    "paper-biwi": "{face_quan_num: 8, zquant_dim: 8, bottleneck_linears: true, output_bias: false, "
    "hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 128}",
}
PEAK_RSS_LIMIT_GB = 6.0


def dry_run_overrides(preset: str, work: Path) -> list[str]:
    """The size-reducing overrides of a CPU dry run (``docs/reproducing.md``), plus half-size renders."""
    out = [
        "seeds=[0]", "sample_videos=false", f"work_dir={work}",
        "training.steps=2", "training.checkpoint_every=2", "training.vq_steps=2",
        "expert.checkpoint=null", "expert.tokenizer=char", "expert.preset=tiny", "expert.steps=2",
        "reader.checkpoint=null", "reader.tokenizer=char", "reader.preset=tiny", "reader.steps=2",
        "reader.decode=greedy", "eval.max_sentences_per_speaker=1", "eval.max_styles=1",
        "render.image_size=112", "render.crop_size=48", "render.out_size=44",
        "animators.1.kwargs.feature_dim=64", "animators.1.kwargs.num_layers=1",
        "animators.1.kwargs.ffn_dim=128",
        f"animators.1.vq={VQ[preset]}",
    ]
    for i in range(3):
        out += [
            f"animators.{i}.kwargs.wav2vec2_path=null", f"animators.{i}.kwargs.audio_encoder_kwargs={W2V}"
        ]
    return out


def _run(preset: str, overrides: list[str], tmp: Path) -> tuple[Path, Path]:
    results, site = tmp / "results", tmp / "site"
    cmd = [sys.executable, "-m", "talkbench.cli", "run", "--preset", preset, "--results", str(results),
           "--site-dir", str(site), *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return results, site


def _check_grid(preset: str, results: Path, site: Path, protocol: str, lip_ids: np.ndarray) -> None:
    config = load_config(preset)
    run_ids = [s.run_id for s in config.run_specs()]
    assert len(run_ids) == 15  # 3 animators x 5 variants
    lip_sha = hashlib.sha256(np.asarray(lip_ids, dtype="<i8").tobytes()).hexdigest()
    page = (site / "index.html").read_text(encoding="utf-8")
    rows = {}
    for run_id in [*run_ids, "ground-truth", "template"]:
        path = results / protocol / run_id / "result.json"
        assert path.is_file(), f"{run_id} has no result"
        rows[run_id] = res = json.loads(path.read_text(encoding="utf-8"))
        assert res["protocol"] == protocol
        assert res["masks"]["lip"]["sha256"] == lip_sha  # the user's region file, not a built-in
        # the ground-truth row reports what a reader makes of the real motion; geometry errors are 0 by
        # definition there and not reported
        names = ("cer", "wer", "ver") + (() if run_id == "ground-truth" else ("lve", "fdd", "mve"))
        for name in names:
            assert math.isfinite(res["metrics"][name]["value"]), (run_id, name)
        assert (site / "runs" / protocol / run_id / "result.json").is_file()
        assert run_id in page
    # the motionless template misses the built mouth opening (lips only: no upper-face motion to miss)
    assert rows["template"]["metrics"]["lve"]["value"] > 0.0
    assert rows["template"]["metrics"]["fdd"]["value"] == 0.0
    for run_id in run_ids:
        if not run_id.endswith("-baseline"):
            assert rows[run_id]["guidance_effect"], f"{run_id}: no guidance effect against its baseline"


def _peak_child_rss_gb() -> float:
    """Largest resident set of any finished child process of this test process (Linux: KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


@pytest.mark.slow(seconds=90)
def test_paper_vocaset_runs_end_to_end_on_the_flame_topology(tmp_path: Path, shared_fixtures: Path) -> None:
    built = _layouts.build_vocaset(tmp_path / "vocaset", shared_fixtures, seconds=0.6)
    # the user's FLAME_masks.pkl, wherever it lives, through data.masks
    masks = tmp_path / "licensed" / "FLAME_masks.pkl"
    masks.parent.mkdir()
    (built["root"] / "FLAME_masks.pkl").rename(masks)
    overrides = [f"data.root={built['root']}", f"data.masks={masks}",
                 *dry_run_overrides("paper-vocaset", tmp_path / "work")]
    results, site = _run("paper-vocaset", overrides, tmp_path)
    _check_grid("paper-vocaset", results, site, "vocaset", built["masks"]["lips"])
    assert _peak_child_rss_gb() < PEAK_RSS_LIMIT_GB


@pytest.mark.slow(seconds=90)
def test_paper_biwi_runs_end_to_end_on_the_biwi_mesh(tmp_path: Path, shared_fixtures: Path) -> None:
    built = _layouts.build_biwi(tmp_path / "biwi", shared_fixtures, seconds=0.6)
    overrides = [f"data.root={built['root']}", *dry_run_overrides("paper-biwi", tmp_path / "work")]
    results, site = _run("paper-biwi", overrides, tmp_path)
    text = (shared_fixtures / "biwi" / "lve.txt").read_text(encoding="ascii")
    lips = np.array([int(t) for t in text.replace(",", " ").split()], dtype=np.int64)
    _check_grid("paper-biwi", results, site, "biwi-test-b", lips)
    assert _peak_child_rss_gb() < PEAK_RSS_LIMIT_GB


@pytest.mark.parametrize("preset", ["paper-vocaset", "paper-biwi"])
def test_the_dry_run_overrides_are_the_documented_ones(preset: str) -> None:
    # docs/reproducing.md shows the same overrides (the test adds half-size renders)
    doc = (Path(__file__).parents[3] / "docs" / "reproducing.md").read_text(encoding="utf-8")
    for item in dry_run_overrides(preset, Path("runs/dry-work")):
        if item.startswith(("render.", "work_dir=", "animators.1.vq=")):
            continue
        key, value = item.split("=", 1)
        shown = value if value != W2V else "$W2V"
        assert f"{key}={shown}" in doc.replace('"', ""), item
    assert VQ[preset] in doc
