"""The Ray engine (a local instance, two one-CPU workers) writes the serial engine's results: CodeTalker's
cells of the engines' tiny grid (:mod:`.engine_grid`), whose trainings wait on their stage-1 tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from talkbench.grid.tasks import grid_states
from talkbench.run import run_grid

from .engine_grid import Reference, engine_config, only_animator, snapshot, without


@pytest.mark.slow(seconds=20)
def test_ray_gives_the_serial_results(engine_reference: Reference, tmp_path: Path) -> None:
    ray = pytest.importorskip(
        "ray", reason="Ray is an extra: pip install -c constraints.txt 'talkbench[ray]'"
    )
    config = only_animator(engine_config(engine_reference.corpus, tmp_path / "work"), "CodeTalker")
    try:
        run_grid(config, tmp_path / "results", say=lambda _: None, engine="ray")
    finally:
        ray.shutdown()
    assert snapshot(tmp_path / "results") == without(engine_reference.snapshot, "faceformer")
    assert {s.state for s in grid_states(config, tmp_path / "results")} == {"done"}
