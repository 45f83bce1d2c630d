"""One run directory as a unit: write all its files consistently, or read them back validated.

Layout: ``<run_dir>/{result.json, per_sample.jsonl, config.yaml, env.json, sample.mp4?, curves.json?}`` with
``run_dir.name == result.run_id``. :func:`write_run_dir` writes ``result.json`` **last**, so a folder
holding a ``result.json`` is a finished run even if the process died while writing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .curves import CURVES_FILE, TrainingCurves, write_curves
from .io import (
    atomic_write_bytes,
    load_config,
    load_env,
    load_per_sample,
    load_result,
    write_config,
    write_env,
    write_per_sample,
    write_result,
)
from .rescore import check_consistency
from .schema import EnvInfo, PerSampleRecord, RunResult

__all__ = ["RUN_FILES", "VIDEO_FILE", "RunFiles", "load_run_dir", "write_run_dir"]

#: the files every run directory holds
RUN_FILES: tuple[str, ...] = ("result.json", "per_sample.jsonl", "config.yaml", "env.json")
VIDEO_FILE = "sample.mp4"


@dataclass(frozen=True)
class RunFiles:
    """The validated content of one run directory."""

    path: Path
    result: RunResult
    records: list[PerSampleRecord]
    config: dict[str, Any]
    env: EnvInfo
    video: Path | None


def write_run_dir(
    run_dir: Path | str,
    result: RunResult,
    records: list[PerSampleRecord],
    config: dict[str, Any],
    env: EnvInfo,
    video: Path | str | None = None,
    curves: TrainingCurves | None = None,
) -> Path:
    """Write a run directory atomically file by file, after checking that it will validate
    (``curves``: the trainings' curves, :mod:`talkbench.results.curves`).

    Raises ``ValueError`` when the folder name is not ``result.run_id`` or when ``result`` does not
    re-derive from ``records`` (:func:`~talkbench.results.check_consistency`); nothing is written then.
    """
    run_dir = Path(run_dir)
    if run_dir.name != result.run_id:
        raise ValueError(f"{run_dir}: folder name must equal run_id {result.run_id!r}")
    problems = check_consistency(result, records)
    if problems:
        raise ValueError(f"{run_dir}: result does not match its samples: " + "; ".join(problems))
    write_per_sample(run_dir / "per_sample.jsonl", records)
    write_config(run_dir / "config.yaml", config)
    write_env(run_dir / "env.json", env)
    if video is not None:
        atomic_write_bytes(run_dir / VIDEO_FILE, Path(video).read_bytes())
    if curves is not None:
        write_curves(run_dir / CURVES_FILE, curves)
    write_result(run_dir / "result.json", result)
    return run_dir


def load_run_dir(run_dir: Path | str) -> RunFiles:
    """Read and validate the four files of a run directory (``ResultFileError`` names a bad file).

    Consistency between ``result.json`` and ``per_sample.jsonl`` is checked separately
    (:func:`~talkbench.results.check_consistency`), so that every problem can be reported.
    """
    run_dir = Path(run_dir)
    video = run_dir / VIDEO_FILE
    return RunFiles(
        path=run_dir,
        result=load_result(run_dir / "result.json"),
        records=load_per_sample(run_dir / "per_sample.jsonl"),
        config=load_config(run_dir / "config.yaml"),
        env=load_env(run_dir / "env.json"),
        video=video if video.is_file() else None,
    )
