"""The ``processes`` engine (worker processes that keep their corpus and readers between tasks) writes
the serial engine's results, a stop request ends its running trainings at a step boundary with their
checkpoints saved, and its worker count follows the machine's cores and memory."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from talkbench.grid.engines import _parallel, run_processes
from talkbench.grid.stop import clear_stop, request_stop, stop_handlers
from talkbench.run import run_grid

from .engine_grid import Reference, engine_config, only_animator, snapshot, without


@pytest.mark.slow(seconds=40)
def test_processes_give_the_serial_results(engine_reference: Reference, tmp_path: Path) -> None:
    config = only_animator(engine_config(engine_reference.corpus, tmp_path / "work"), "FaceFormer")
    lines: list[str] = []
    run_grid(config, tmp_path / "results", say=lines.append, engine="processes")
    assert snapshot(tmp_path / "results") == without(engine_reference.snapshot, "codetalker")
    assert any(line.startswith("processes:") and "on 2 workers" in line for line in lines), lines


@pytest.mark.slow(seconds=30)
def test_processes_stop_at_a_step_boundary(engine_reference: Reference, tmp_path: Path) -> None:
    """A stop request (SIGTERM / SIGUSR2 / Ctrl-C in the engine's process) while the workers train
    endless cells: each running training saves its checkpoint and stops, no result is written, and
    the engine says how to resume (resuming bit for bit is the trainer's, tests/bench/test_resume.py)."""
    config = only_animator(
        engine_config(engine_reference.corpus, tmp_path / "work", "training.steps=1000000"), "FaceFormer"
    )
    lines: list[str] = []
    checkpoints = tmp_path / "work" / config.name / "checkpoints"

    ended = threading.Event()

    def stop_once_training() -> None:  # as SIGTERM would, once the workers have saved checkpoints
        while len(list(checkpoints.glob("*.pt"))) < 2:
            if ended.wait(0.2):
                return
        request_stop()

    try:
        with stop_handlers():
            threading.Thread(target=stop_once_training, daemon=True).start()
            outcomes = run_processes(config, tmp_path / "results", lines.append)
    finally:
        ended.set()
        clear_stop()  # the flag is this process's: later grids of the test session must not see it
    assert any("rerun the same command to resume" in line for line in lines), lines
    assert sorted(o for o in outcomes.values() if o == "stopped") == ["stopped", "stopped"], outcomes
    assert not list((tmp_path / "results").rglob("faceformer-*/result.json"))
    assert len(list(checkpoints.glob("*.pt"))) == 2


def test_workers_fit_cores_and_memory(engine_reference: Reference, tmp_path: Path, monkeypatch) -> None:
    """Without ``max_parallel``, as many workers as the cores hold at the task's threads and the
    memory at ``mem_gb`` each (worked by hand for an 8-core, 32 GiB machine)."""
    import os

    config = engine_config(engine_reference.corpus, tmp_path / "work", "cluster.max_parallel=null")
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 32 * 2**30 // 4096}
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])

    def cluster(**kw: object):
        return config.model_copy(update={"cluster": config.cluster.model_copy(update=kw)})

    assert _parallel(config) == 2  # 32 GiB / 16 GiB (the default mem_gb)
    assert _parallel(cluster(mem_gb=3)) == 8  # 8 cores at 1 thread; 10 fit the memory
    assert _parallel(cluster(mem_gb=3, cpus_per_task=2)) == 4
