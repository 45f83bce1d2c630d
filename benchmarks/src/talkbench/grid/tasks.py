"""Running one task of a plan, and telling whether each task is done, running, failed or missing.

A task runs under its lock (``<work>/tasks/<task>.lock``, :class:`talkbench.grid.lock.TaskLock`), so
two workers never run it at once; a worker that finds it locked waits for the holder and then finds
it done. A task that raises leaves ``<task>.failed`` (the error in one line, the host, the time);
rerunning it clears that. SIGTERM / SIGUSR2 stop a training at its next step boundary with its
checkpoint saved (:mod:`talkbench.grid.stop`): the task ends ``stopped`` and resumes when rerun.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from ..config import BenchConfig
from ..datasets.synth.topologies import SYNTH_PROTOCOLS
from ..training.animator import StopTraining
from ..training.stage1 import ReaderStopped, reader_path, train_eval_reader, train_expert
from .cells import evaluate_cell, evaluate_row, row_key, train_done_path, train_seed, train_stage1
from .context import GridContext, is_current
from .finalize import GridError, check_rows, effects_current, finalize
from .lock import TaskLock, lock_holder
from .plan import Task, plan_grid, stage1_signature, task_by_id
from .stop import stop_handlers, stop_requested

__all__ = ["TaskState", "execute", "grid_states", "run_task", "task_dir", "task_resources", "task_threads"]

State = Literal["done", "running", "failed", "missing"]


@dataclass(frozen=True)
class TaskState:
    """What :func:`grid_states` says of one task (``detail``: why, or who runs it)."""

    task: Task
    state: State
    detail: str = ""


def task_threads(config: BenchConfig) -> int:
    """The CPUs a compute task asks its engine for, and the torch threads every task of an engine
    runs with: ``cluster.cpus_per_task``, else the preset's ``torch_threads`` (what a serial run
    uses), else 1. Reductions split by thread count, so a grid whose tasks run with another thread
    count than a serial run's gives other last bits, and the training amplifies them."""
    return config.cluster.cpus_per_task or config.torch_threads or 1


def task_resources(config: BenchConfig, task: Task) -> tuple[int, int]:
    """The (CPUs, GPUs) a task asks its engine for: :func:`task_threads` and ``cluster.gpus_per_task``
    for a compute task, one CPU for ``data`` and ``finalize``."""
    return (task_threads(config), config.cluster.gpus_per_task) if task.compute else (1, 0)


def task_dir(config: BenchConfig) -> Path:
    """The folder of the plan's locks and failure notes: ``<work_dir>/<name>/tasks``."""
    return Path(config.work_dir) / config.name / "tasks"


def corpus_ready(config: BenchConfig) -> bool:
    root = Path(config.data.root)
    return (root / "corpus.json").is_file() if config.data.protocol in SYNTH_PROTOCOLS else root.is_dir()


def _spec(ctx: GridContext, run_id: str | None) -> Any:
    return next(s for s in ctx.config.run_specs() if s.run_id == run_id)


def is_done(ctx: GridContext, task: Task) -> bool:
    """Whether ``task``'s output exists and is current (a cell's trainings count as done when the
    cell's result is current: a finished grid needs no checkpoints)."""
    c = ctx.config
    try:
        if task.kind == "data":
            return corpus_ready(c)
        if task.kind in ("reader", "expert"):
            return reader_path(task.kind, c, ctx.work).is_file()  # type: ignore[arg-type]
        if task.kind == "row":
            assert task.run_id is not None
            return is_current(ctx.out_dir() / task.run_id, row_key(ctx, task.run_id))
        if task.kind == "finalize":
            cells = [ctx.out_dir() / s.run_id for s in c.run_specs()]
            rows = [ctx.out_dir() / r for r in ("ground-truth", "template")]
            if not all((d / "result.json").is_file() for d in cells + rows):
                return False
            check_rows(ctx)
            return effects_current(ctx)
        if task.kind == "stage1":
            first = _spec(ctx, task.run_id)
            specs = [s for s in c.run_specs() if stage1_signature(s) == stage1_signature(first)]
            cache = ctx.stage1_cache(first, task.seed or 0)
            return (cache is not None and cache.is_file()) or all(
                is_current(ctx.out_dir() / s.run_id, ctx.cell_key(s)) for s in specs
            )
        spec = _spec(ctx, task.run_id)
        if is_current(ctx.out_dir() / spec.run_id, ctx.cell_key(spec)):
            return True
        if task.kind == "train":
            return train_done_path(ctx.checkpoint(spec, task.seed or 0)).is_file()
        return False
    except (FileNotFoundError, GridError):  # a reader not trained yet; rows that do not agree
        return False


def execute(ctx: GridContext, task: Task, stop: Callable[[], bool] | None = None) -> None:
    """Do the work of ``task`` in this process (nothing when its output is current)."""
    c = ctx.config
    if task.kind == "data":
        return  # the context made sure of the corpus
    seconds = c.cluster.checkpoint_minutes * 60
    if task.kind == "reader":
        ctx._reader = train_eval_reader(c, ctx.work, ctx.progress, ctx.say, True, stop, seconds)
    elif task.kind == "expert":
        ctx._expert = train_expert(c, ctx.work, ctx.progress, ctx.say, True, stop, seconds)
    elif task.kind == "stage1":
        train_stage1(ctx, _spec(ctx, task.run_id), task.seed or 0, stop)
    elif task.kind == "train":
        spec = _spec(ctx, task.run_id)
        if not is_done(ctx, task):
            train_seed(ctx, spec, task.seed or 0, stop=stop)
    elif task.kind == "eval":
        evaluate_cell(ctx, _spec(ctx, task.run_id))
    elif task.kind == "row":
        assert task.run_id is not None
        evaluate_row(ctx, task.run_id)
    elif task.kind == "finalize":
        for line in finalize(ctx):
            ctx.say(line)


def _failed_path(config: BenchConfig, task: Task) -> Path:
    return task_dir(config) / f"{task.slug}.failed"


def locked_run(
    ctx: GridContext, task: Task, stop: Callable[[], bool] | None = None, poll: float = 2.0
) -> Literal["done", "ran", "stopped"]:
    """Run ``task`` under its lock: when another worker holds the lock, wait for it to end; then run
    the task unless it is done. A failure is noted in ``<task>.failed`` and raised again. Under
    ``torchrun`` the ranks other than 0 run rank 0's task beside it, without the lock."""
    if ctx.dist.rank != 0:
        try:
            if not is_done(ctx, task) or task.kind in ("data", "finalize"):
                execute(ctx, task, stop)
        except (StopTraining, ReaderStopped):
            return "stopped"
        return "ran"
    lock = TaskLock(task_dir(ctx.config) / f"{task.slug}.lock")
    while not lock.try_acquire():
        time.sleep(poll)
    failed = _failed_path(ctx.config, task)
    try:
        if is_done(ctx, task) and task.kind not in ("data", "finalize"):
            return "done"
        execute(ctx, task, stop)
        failed.unlink(missing_ok=True)
        return "ran"
    except (StopTraining, ReaderStopped) as exc:
        ctx.say(f"{task.id}: {exc}; rerun to resume")
        return "stopped"
    except BaseException as exc:
        failed.parent.mkdir(parents=True, exist_ok=True)
        note = {
            "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
            "host": socket.gethostname(),
            "time": time.time(),
        }
        failed.write_text(json.dumps(note) + "\n", encoding="utf-8")
        raise
    finally:
        lock.release()


def run_task(
    config: BenchConfig | dict[str, Any],
    results_root: str | Path,
    task_id: str,
    say: Callable[[str], None] = print,
    progress: bool = False,
) -> str:
    """Run one task of the plan in a fresh process (a Ray task, a SLURM job, ``talkbench task``):
    builds its own :class:`GridContext` (the corpus and readers are loaded, never trained, except by
    their own tasks); SIGTERM and SIGUSR2 stop a training at a step boundary. Returns ``done``
    (found done), ``ran`` or ``stopped``."""
    if not isinstance(config, BenchConfig):
        config = BenchConfig.model_validate(config)
    task = task_by_id(config, task_id)
    torch.set_num_threads(task_threads(config))
    with stop_handlers():
        ctx = GridContext(config, Path(results_root), progress, say, corpus=task.kind == "data")
        ctx.train_readers = False
        return locked_run(ctx, task, stop_requested)


def grid_states(config: BenchConfig, results_root: str | Path) -> list[TaskState]:
    """The state of every task of ``config``'s plan: ``done`` (its output is current), ``running``
    (a live worker holds its lock), ``failed`` (its last run raised; the error in ``detail``) or
    ``missing``."""
    tasks = plan_grid(config)
    ctx = None
    if corpus_ready(config):
        ctx = GridContext(config, Path(results_root), False, lambda _: None, corpus=False)
        ctx.train_readers = False
    out = []
    for task in tasks:
        if ctx is not None and is_done(ctx, task):
            out.append(TaskState(task, "done"))
            continue
        holder = lock_holder(task_dir(config) / f"{task.slug}.lock")
        failed = _failed_path(config, task)
        if holder is not None and holder["alive"]:
            out.append(TaskState(task, "running", f"pid {holder.get('pid')} on {holder.get('host')}"))
        elif failed.is_file():
            note = json.loads(failed.read_text(encoding="utf-8") or "{}")
            out.append(TaskState(task, "failed", f"{note.get('error', '')} (on {note.get('host')})"))
        else:
            out.append(TaskState(task, "missing"))
    return out
