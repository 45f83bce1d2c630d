"""The grid the engines' tests share: a tiny grid (FaceFormer and CodeTalker, baseline and +AV, two
seeds, one thread per task) and its reference results from the serial engine.

The reference is computed once per test session, even when pytest-xdist spreads the engines' test
files over several processes: the first process to ask for it runs it under a file lock in the
session's common temporary folder, the others read it from there.

Results are compared byte for byte (``per_sample.jsonl``, ``config.yaml``, ``curves.json``) and
``result.json`` field by field apart from what names the run's time and place (wall time, date,
hardware). One thread per task makes the kernels' sums independent of thread timing
(docs/reproducing.md, "Bit-exact reruns and CPU threads").
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from talkbench.config import BenchConfig, load_config

from ..conftest import FACE_V1_OVERRIDES, TINY_CORPUS_SEED
from .conftest import TINY_OVERRIDES

#: what differs between two runs of the same work: when, where and how long
VOLATILE = {"wall_time_s", "date", "hardware"}


def engine_overrides(corpus: Path, work: Path, *extra: str) -> tuple[str, ...]:
    """The smoke preset's overrides of the engines' grid on ``corpus`` with its work folder ``work``."""
    return (
        *TINY_OVERRIDES,
        *FACE_V1_OVERRIDES,
        f"data.root={corpus}",
        f"work_dir={work}",
        "data.generate=false",
        "torch_threads=1",
        "cluster.cpus_per_task=1",
        "cluster.max_parallel=2",
        "seeds=[0,1]",
        "variants=[baseline,av]",
        *extra,
    )


def engine_config(corpus: Path, work: Path, *extra: str) -> BenchConfig:
    """The engines' grid (:func:`engine_overrides`), FaceFormer and CodeTalker only."""
    config = load_config("smoke", engine_overrides(corpus, work, *extra))
    return config.model_copy(update={"animators": config.animators[:2]})  # FaceFormer, CodeTalker


def only_animator(config: BenchConfig, name: str) -> BenchConfig:
    """``config`` with the one animator called ``name`` (the bracketing rows stay)."""
    return config.model_copy(update={"animators": [a for a in config.animators if a.name == name]})


def stop_after(steps: int) -> Callable[[], bool]:
    """A ``stop`` callback (read once after every step) that asks to stop after ``steps`` steps."""
    calls = iter(range(1, 10**6))
    return lambda: next(calls) == steps


def snapshot(results: Path) -> dict[str, Any]:
    """Every run's comparable files under ``results``, keyed ``<run>/<file>``."""
    out: dict[str, Any] = {}
    for run in sorted((results / "synth").iterdir()):
        result = json.loads((run / "result.json").read_text(encoding="utf-8"))
        out[f"{run.name}/result.json"] = {k: v for k, v in result.items() if k not in VOLATILE}
        for name in ("per_sample.jsonl", "config.yaml", "curves.json"):
            if (run / name).is_file():
                out[f"{run.name}/{name}"] = (run / name).read_bytes()
    return out


def without(snap: dict[str, Any], *run_prefixes: str) -> dict[str, Any]:
    """``snap`` less the runs whose names start with one of ``run_prefixes``."""
    return {k: v for k, v in snap.items() if not k.startswith(run_prefixes)}


@dataclass(frozen=True)
class Reference:
    """The serial engine's results of :func:`engine_config` on the shared corpus."""

    corpus: Path
    config: BenchConfig
    results: Path
    snapshot: dict[str, Any]


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    base = factory.getbasetemp()
    # under pytest-xdist every process has its own base folder inside the session's common one
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def reference(factory: pytest.TempPathFactory) -> Reference:
    """The serial reference, computed by the first test process that asks (see the module docstring)."""
    from filelock import FileLock

    from talkbench.datasets.synth.corpus import generate_corpus
    from talkbench.run import run_grid

    root = _shared_root(factory) / "engine-reference"
    corpus, results = root / "corpus", root / "results"
    with FileLock(f"{root}.lock"):
        if not (root / "complete").is_file():
            shutil.rmtree(root, ignore_errors=True)
            generate_corpus(corpus, seed=TINY_CORPUS_SEED, size="tiny")
            threads = torch.get_num_threads()
            try:
                run_grid(engine_config(corpus, root / "work"), results, progress=False, say=lambda _: None)
            finally:
                torch.set_num_threads(threads)
            (root / "complete").touch()
    config = engine_config(corpus, root / "work")
    return Reference(corpus, config, results, snapshot(results))
