"""SLURM through submitit, on a single-node cluster started for the test (slurm-wlm and munge; the test
skips, saying why, without them): the grid is submitted as job arrays at once, runs to the end and
writes the serial engine's results (FaceFormer's cells of the engines' tiny grid, :mod:`.engine_grid`)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from talkbench.grid.tasks import grid_states

from .engine_grid import Reference, engine_config, only_animator, snapshot, without


@pytest.mark.slow(seconds=70)
def test_slurm_runs_the_grid_as_job_arrays(
    engine_reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(
        "submitit", reason="submitit is an extra: pip install -c constraints.txt 'talkbench[slurm]'"
    )
    from .slurm_node import SlurmUnavailable, start_slurm, stop_slurm

    try:
        env = start_slurm(tmp_path / "slurm")
    except SlurmUnavailable as exc:
        pytest.skip(f"no single-node SLURM here: {exc}")
    monkeypatch.setenv("SLURM_CONF", env["SLURM_CONF"])
    try:
        config = engine_config(
            engine_reference.corpus, tmp_path / "work", "cluster.time_min=10", "cluster.mem_gb=2"
        )
        config = only_animator(config, "FaceFormer")  # 10 tasks
        from talkbench.grid.engines import submit_slurm

        t0 = time.time()
        submitted = submit_slurm(config, tmp_path / "results", say=lambda _: None)
        assert time.time() - t0 < 30  # submitting returns at once
        pending = {t.task.id for t in grid_states(config, tmp_path / "results")} - {"data"}  # corpus: there
        assert {s["task"] for s in submitted} == pending
        deadline = time.time() + 400
        while time.time() < deadline:
            queue = subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip()
            if not queue:
                break
            time.sleep(2)
        states = {s.task.id: (s.state, s.detail) for s in grid_states(config, tmp_path / "results")}
        assert {s for s, _ in states.values()} == {"done"}, states
    finally:
        stop_slurm(env)
    assert snapshot(tmp_path / "results") == without(engine_reference.snapshot, "codetalker")
