"""submitit's local executor (a process per task) writes the serial engine's results: FaceFormer's
cells of the engines' tiny grid (:mod:`.engine_grid`), with a log per task."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbench.run import run_grid

from .engine_grid import Reference, engine_config, only_animator, snapshot, without


@pytest.mark.slow(seconds=40)
def test_submitit_local_gives_the_serial_results(engine_reference: Reference, tmp_path: Path) -> None:
    pytest.importorskip(
        "submitit", reason="submitit is an extra: pip install -c constraints.txt 'talkbench[slurm]'"
    )
    config = only_animator(engine_config(engine_reference.corpus, tmp_path / "work"), "FaceFormer")
    run_grid(config, tmp_path / "results", say=lambda _: None, engine="local")
    assert snapshot(tmp_path / "results") == without(engine_reference.snapshot, "codetalker")
    logs = list((tmp_path / "work" / config.name / "jobs").rglob("*_log.out"))
    assert len(logs) >= 8, "a log per task"  # two trainings, an evaluation and a row per cell
