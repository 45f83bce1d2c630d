"""Synthetic run records for the results / leaderboard tests.

Everything here is hand-made test data: per-sample values follow simple formulas, transcripts are
lower-case GRID-like sentences (so the metric normaliser leaves them unchanged), and the aggregates
written into ``result.json`` are computed here independently of talkbench: NumPy weighted means for
the frame-pooled metrics and jiwer for CER / WER.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jiwer
import numpy as np
import pytest
import yaml

REFS = ("bin blue at f two now", "lay red by g five again", "place white in a one soon")
WRONG = ("set", "green", "with", "q", "nine", "please")
SCALES = {  # report scales of the synth / vocaset protocols (facial_metrics protocols, baselines.md §5)
    "lve": 1e-5, "fdd": 1e-7, "mve": 1e-3, "cer": 1e-2, "wer": 1e-2, "ver": 1e-2,
}
UNITS = {"lve": "m²", "fdd": "m²", "mve": "m", "cer": "fraction", "wer": "fraction"}
VARIANTS = {"lve": "max_sq", "fdd": "codetalker", "mve": "l2", "cer": "utterance", "wer": "utterance"}
DATA_SHA = hashlib.sha256(b"synthetic test corpus").hexdigest()
READER_SHA = hashlib.sha256(b"synthetic reader checkpoint").hexdigest()
LIP_SHA = hashlib.sha256(b"lips").hexdigest()
VERSIONS = {
    "talkbench": "0.1.0", "facial-metrics": "0.1.0", "mesh-renderer": "0.1.0", "lipread-expert": "0.1.0",
    "facial-animator": "0.1.0", "torch": "2.13.0", "numpy": "not installed",
}
HARDWARE = {"cpu": "Test CPU", "cores": 2, "gpu": None}


def hypothesis(ref: str, n_wrong: int) -> str:
    words = ref.split()
    for i in range(min(n_wrong, len(words))):
        words[i] = WRONG[i]
    return " ".join(words)


def samples(
    level: float, seeds: tuple[int, ...], n_wrong: int, fdd_shift: float = 0.0
) -> list[dict[str, Any]]:
    """Three test sequences per seed with hand-made metric values (FDD moved by ``fdd_shift`` ×1e-7)."""
    out = []
    for s in seeds:
        for i, ref in enumerate(REFS):
            hyp = hypothesis(ref, n_wrong + (s % 2))
            out.append(
                {
                    "seed": s,
                    "sample_id": f"synth11_{i:03d}",
                    "subject": "synth11",
                    "style": "synth01",
                    "frames": 20 + 10 * i,
                    "metrics": {
                        "lve": level * (1.0 + 0.1 * i + 0.05 * s) * 1e-5,
                        "mve": level * (1.0 + 0.2 * i) * 1e-3,
                        "fdd": (level * (0.5 + 0.1 * i - 0.02 * s) + fdd_shift) * 1e-7,
                        "cer": jiwer.cer(ref, hyp),
                        "wer": jiwer.wer(ref, hyp),
                    },
                    "reference": ref,
                    "hypothesis": hyp,
                }
            )
    return out


def aggregate(records: list[dict[str, Any]], seeds: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Per-seed aggregates computed independently (NumPy, jiwer) and their mean / sample std."""
    metrics: dict[str, dict[str, Any]] = {}
    for name in ("lve", "fdd", "mve", "cer", "wer"):
        per_seed = []
        for s in seeds:
            rs = [r for r in records if r["seed"] == s]
            vals = np.array([r["metrics"][name] for r in rs])
            frames = np.array([r["frames"] for r in rs], dtype=float)
            if name in ("lve", "mve"):
                per_seed.append(float(np.average(vals, weights=frames)))
            elif name == "fdd":
                per_seed.append(float(np.mean(vals)))
            else:
                fn = jiwer.cer if name == "cer" else jiwer.wer
                per_seed.append(float(np.mean([fn(r["reference"], r["hypothesis"]) for r in rs])))
        arr = np.array(per_seed)
        metrics[name] = {
            "value": float(arr.mean()),
            "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            "n": len(REFS),
            "unit": UNITS[name],
            "variant": VARIANTS[name],
            "report_scale": SCALES[name],
            "higher_is_better": False,
            "per_seed": per_seed,
        }
    return metrics


def result_dict(
    run_id: str,
    records: list[dict[str, Any]],
    *,
    protocol: str = "synth",
    kind: str = "method",
    animator: str = "fixture-animator",
    guidance: dict[str, bool] | None = None,
    seeds: tuple[int, ...] = (0, 1),
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "run_id": run_id,
        "kind": kind,
        "protocol": protocol,
        "dataset": {"id": "synth" if protocol == "synth" else "vocaset", "content_sha256": DATA_SHA},
        "animator": {"name": animator, "spec": {"type": animator.lower(), "hidden": 64}},
        "guidance": guidance or {"av": False, "phonetic": False, "text": False},
        "seeds": list(seeds),
        "metrics": aggregate(records, seeds),
        "masks": {"lip": {"id": "synth-face-v1/lips", "sha256": LIP_SHA}},
        "reader": {"id": "video-reader-synth", "checkpoint_sha256": READER_SHA},
        "versions": dict(VERSIONS),
        "hardware": dict(HARDWARE),
        "wall_time_s": 12.5,
        "date": "2026-01-31T12:00:00Z",
        "cache_key": None,
    }


def env_dict() -> dict[str, Any]:
    return {
        "python": "3.11.7", "platform": "Linux-test", "versions": dict(VERSIONS), "hardware": dict(HARDWARE)
    }


def write_run(
    root: Path,
    run_id: str,
    *,
    level: float = 1.0,
    n_wrong: int = 2,
    protocol_dir: str | None = None,
    video: bytes | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    fdd_shift: float = 0.0,
    **kwargs: Any,
) -> Path:
    """Write one run directory under ``root/<protocol>/<run_id>/`` and return it."""
    seeds = kwargs.get("seeds", (0, 1))
    records = samples(level, seeds, n_wrong, fdd_shift)
    res = result_dict(run_id, records, **kwargs)
    if edit is not None:
        edit(res)
    run_dir = root / (protocol_dir or res["protocol"]) / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "result.json").write_text(json.dumps(res, indent=2), encoding="utf-8")
    (run_dir / "per_sample.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump({"animator": res["animator"]["spec"], "seeds": list(seeds)}), encoding="utf-8"
    )
    (run_dir / "env.json").write_text(json.dumps(env_dict()), encoding="utf-8")
    if video is not None:
        (run_dir / "sample.mp4").write_bytes(video)
    return run_dir


_VIDEO: dict[str, bytes] = {}


def tiny_video() -> bytes:
    """A real 8-frame 48 x 32 H.264 mp4 (frame i is a flat grey of level 20 + 25 i), encoded once."""
    if "mp4" not in _VIDEO:
        import tempfile

        import imageio_ffmpeg

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "v.mp4"
            writer = imageio_ffmpeg.write_frames(str(path), (48, 32), fps=8.0, codec="libx264",
                                                 pix_fmt_out="yuv420p", macro_block_size=2)
            writer.send(None)
            for i in range(8):
                writer.send(np.full((32, 48, 3), 20 + 25 * i, np.uint8))
            writer.close()
            _VIDEO["mp4"] = path.read_bytes()
    return _VIDEO["mp4"]


def write_grid(root: Path, evil_name: str | None = None) -> Path:
    """A small synth grid: ground truth, template, fixture-B and fixture-A with and without AV guidance.

    Levels (LVE multipliers) and transcript errors are chosen so that each sort order is known:
    ground truth 0 < fixture-A+AV 0.8 < fixture-A 0.9 < fixture-B+AV 1.1 < fixture-B 1.3 < template 3.
    """
    write_run(root, "gt", level=0.0, n_wrong=0, kind="ground truth", animator="ground truth")
    write_run(root, "template", level=3.0, n_wrong=5, kind="template", animator="template")
    write_run(root, "b-base", level=1.3, n_wrong=3, animator="fixture-B", video=tiny_video())
    write_run(root, "b-av", level=1.1, n_wrong=1, animator="fixture-B", guidance={"av": True})
    write_run(root, "a-base", level=0.9, n_wrong=2, animator="fixture-A")
    write_run(root, "a-av", level=0.8, n_wrong=2, animator="fixture-A", guidance={"av": True})
    if evil_name is not None:
        write_run(root, "evil", level=2.0, n_wrong=4, animator=evil_name)
    return root


@pytest.fixture
def results_root(tmp_path: Path) -> Path:
    return tmp_path / "results"


@pytest.fixture
def fx() -> SimpleNamespace:
    """The helpers of this conftest (tests cannot import a conftest module by name)."""
    return SimpleNamespace(
        REFS=REFS, SCALES=SCALES, DATA_SHA=DATA_SHA, VERSIONS=VERSIONS, aggregate=aggregate,
        env_dict=env_dict, hypothesis=hypothesis, result_dict=result_dict, samples=samples,
        write_grid=write_grid, write_run=write_run, tiny_video=tiny_video,
    )
