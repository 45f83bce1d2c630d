"""The benchmark grid end to end: data → stage-1 readers → animators × variants × seeds → results.

:func:`run_grid` runs the plan of :mod:`talkbench.grid` (its tasks and their dependencies) with the
preset's engine (``cluster.engine``: ``serial`` by default; ``processes``, ``ray``, ``slurm``, ``local``) and
writes one run directory per grid cell (animator × guidance variant, all seeds inside: metrics are
mean ± std over seeds) plus the two bracketing rows (``ground truth`` and ``template``) under
``<results_root>/<protocol>/``. A task whose output carries the current key (resolved config +
dataset hash + code version) is skipped; training state lives in ``<work_dir>/<preset>/``
(checkpoints, GT render caches, reader checkpoints, the tasks' locks), never in the results. The
last task stores in every guided run's ``result.json`` its paired Δ against the animator's baseline
run with 95 % paired-bootstrap intervals (``talkbench.results.effects``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .config import BenchConfig
from .grid.cells import av_dose, evaluate_row, run_cell
from .grid.context import GridContext, prepare, select_device
from .grid.engines import run_local, run_processes, run_ray, run_serial, submit_slurm
from .grid.finalize import attach_guidance_effects, template_warnings

__all__ = [
    "GridContext",
    "attach_guidance_effects",
    "av_dose",
    "evaluate_row",
    "prepare",
    "run_cell",
    "run_grid",
    "select_device",
    "template_warnings",
]


def run_grid(
    config: BenchConfig,
    results_root: Path | str,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
    engine: str | None = None,
) -> list[Path]:
    """Run the whole grid of ``config`` with ``engine`` (default ``config.cluster.engine``); returns
    the run directories (bracketing rows first). ``slurm`` returns once the jobs are submitted."""
    engine = engine or config.cluster.engine
    say = say or print
    if engine == "serial":
        return run_serial(config, results_root, progress, say)
    if engine == "processes":
        run_processes(config, results_root, say)
    elif engine == "ray":
        run_ray(config, results_root, say)
    elif engine == "local":
        run_local(config, results_root, say)
    elif engine == "slurm":
        submit_slurm(config, results_root, say)
    else:
        raise ValueError(f"engine {engine!r}: expected serial, processes, ray, slurm or local")
    out = Path(results_root) / config.data.protocol
    return [out / "ground-truth", out / "template"] + [out / s.run_id for s in config.run_specs()]
