"""Engines that run a grid's plan (:mod:`talkbench.grid.plan`): serial, Ray, SLURM through submitit.

No engine schedules by itself: Ray's scheduler places the tasks on the cores and GPUs they ask for,
SLURM queues job arrays; what the engines add is the plan, the skipping of done tasks and one
function every worker runs, :func:`talkbench.grid.tasks.run_task`.

* ``serial``: one process, the tasks one after another in plan order (the default).
* ``processes``: worker processes of this machine (``cluster.max_parallel``, else as many as the
  cores hold at the task's threads and the memory at ``cluster.mem_gb`` each), each keeping its
  loaded corpus and readers between tasks; a task starts as soon as the tasks it waits for are
  done. SIGTERM / SIGUSR2 stop every running training at its next step boundary.
* ``ray``: every task not done is a ``ray.remote`` call asking for ``cluster.cpus_per_task`` CPUs
  (default: the preset's ``torch_threads``) and ``cluster.gpus_per_task`` GPUs (one CPU for ``data``
  and ``finalize``), handed the results of the tasks it depends on so that Ray starts it after them;
  a local Ray instance unless
  ``cluster.ray_address`` names a cluster. Blocks until the grid ends.
* ``slurm``: one job array per level of the plan (:func:`talkbench.grid.plan.levels`), each array
  ``afterok`` the previous one, with the preset's resources; submitting returns at once, ``talkbench
  status`` follows the grid. A job caught by its time limit or preempted (SIGUSR2, ``--signal``)
  stops its training at the next step boundary, saves, and is requeued; the requeued job resumes.
* ``local``: the SLURM path with submitit's ``LocalExecutor``: the same job files run as processes of
  this machine, level after level (it blocks).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from ..config import BenchConfig
from .context import GridContext, prepare
from .plan import Task, levels, plan_grid, task_by_id
from .stop import clear_stop, install_stop_handlers, request_stop, stop_requested
from .tasks import grid_states, locked_run, run_task, task_resources, task_threads

__all__ = ["ENGINES", "TaskJob", "run_local", "run_processes", "run_ray", "run_serial", "submit_slurm"]

ENGINES: tuple[str, ...] = ("serial", "processes", "ray", "slurm", "local")


def _pending(config: BenchConfig, results_root: Path) -> list[Task]:
    """The tasks not done yet, in plan order."""
    return [
        s.task for s in grid_states(config, results_root) if s.state != "done" or s.task.kind == "finalize"
    ]


def run_serial(
    config: BenchConfig,
    results_root: Path | str,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Path]:
    """Every task of the plan in this process, one after another; returns the run directories
    (bracketing rows first). Stops after a task stopped by SIGTERM / SIGUSR2 (when the caller installed
    :func:`talkbench.grid.stop.install_stop_handlers`)."""
    ctx = prepare(config, results_root, progress, say)
    for task in plan_grid(config):
        if ctx.dist.rank != 0 and task.kind not in ("train", "stage1", "data"):
            continue
        if locked_run(ctx, task, stop_requested) == "stopped":
            ctx.say("grid stopped; rerun the same command to resume")
            break
    return [ctx.out_dir() / r for r in ("ground-truth", "template")] + [
        ctx.out_dir() / s.run_id for s in config.run_specs()
    ]


def _parallel(config: BenchConfig) -> int:
    """How many compute tasks run at once on this machine: ``cluster.max_parallel``, else as many as
    its cores hold at :func:`task_threads` each and its memory at ``cluster.mem_gb`` each."""
    if config.cluster.max_parallel:
        return config.cluster.max_parallel
    cores = max(1, (os.cpu_count() or 1) // task_threads(config))
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, OSError, ValueError):  # no sysconf: the cores decide
        return cores
    return max(1, min(cores, int(memory_gb // config.cluster.mem_gb)))


#: the grid context a worker of the ``processes`` engine keeps between its tasks, keyed by its grid
_WORKER_CONTEXT: dict[str, GridContext] = {}
#: set by the engine's process when a stop is requested; every worker's trainings read it
_WORKER_STOP: Any = None


def _worker_start(stop: Any) -> None:
    """A ``processes`` worker: it stops at a step boundary on SIGTERM / SIGUSR2 or when the engine
    sets ``stop``; Ctrl-C reaches the engine's process only (it stops the workers through ``stop``)."""
    global _WORKER_STOP
    import signal

    _WORKER_STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    install_stop_handlers()


def _worker_stop() -> bool:
    return stop_requested() or (_WORKER_STOP is not None and _WORKER_STOP.is_set())


def _worker_task(config_data: dict[str, Any], results_root: str, task_id: str) -> str:
    """One task in a ``processes`` worker; its :class:`GridContext` (corpus, readers) is built by the
    worker's first task of a grid and reused by the next ones, as the serial engine's is."""
    key = json.dumps([config_data, results_root], sort_keys=True)
    ctx = _WORKER_CONTEXT.get(key)
    config = ctx.config if ctx is not None else BenchConfig.model_validate(config_data)
    if ctx is None:
        import torch

        torch.set_num_threads(task_threads(config))
        _WORKER_CONTEXT.clear()
        ctx = GridContext(config, Path(results_root), False, print, corpus=False)
        ctx.train_readers = False
        _WORKER_CONTEXT[key] = ctx
    return locked_run(ctx, task_by_id(config, task_id), _worker_stop)


def run_processes(
    config: BenchConfig, results_root: Path | str, say: Callable[[str], None] = print
) -> dict[str, str]:
    """The plan's pending tasks on worker processes of this machine (module docstring): ``data`` and
    ``finalize`` in this process, every compute task on a worker once the tasks it waits for are done.
    After a failure no task starts and the running ones end, then the first error is raised; after
    a stop request (SIGTERM / SIGUSR2 / Ctrl-C) the running trainings stop at a step boundary with
    their checkpoints saved and a rerun resumes them. Returns each task's outcome."""
    results_root = Path(results_root).resolve()
    # the workers start in this process's folder: relative data and work folders stay as written
    data = config.model_dump(mode="json")
    pending = _pending(config, results_root)
    ids = {t.id for t in pending}
    width = _parallel(config)
    outcomes: dict[str, str] = {}
    waiting = list(pending)
    running: dict[Future[str], Task] = {}
    error: BaseException | None = None
    spawn = multiprocessing.get_context("spawn")  # no forked copies of torch's thread pools
    stop = spawn.Event()

    def ready(task: Task) -> bool:
        return all(d not in ids or outcomes.get(d) in ("done", "ran") for d in task.deps)

    with ProcessPoolExecutor(width, mp_context=spawn, initializer=_worker_start, initargs=(stop,)) as pool:
        try:
            while waiting or running:
                if stop_requested() or "stopped" in outcomes.values():
                    stop.set()  # the running trainings save and stop; nothing more starts
                if error is not None or stop.is_set():
                    waiting.clear()  # after a failure the running tasks end their work
                for task in [t for t in waiting if ready(t)]:
                    if not task.compute and not running:  # data first, finalize last: nothing beside them
                        waiting.remove(task)
                        outcomes[task.id] = run_task(data, str(results_root), task.id, say)
                    elif task.compute and len(running) < width:
                        waiting.remove(task)
                        running[pool.submit(_worker_task, data, str(results_root), task.id)] = task
                if not running:
                    if waiting and not any(ready(t) for t in waiting):
                        raise RuntimeError(f"tasks whose dependencies never ran: {[t.id for t in waiting]}")
                    continue
                finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = running.pop(future)
                    try:
                        outcomes[task.id] = future.result()
                    except BaseException as exc:
                        outcomes[task.id] = "failed"
                        error = error or exc
        except KeyboardInterrupt:
            stop.set()
            say("stopping: the running trainings save their checkpoints")
            wait(running)
            raise
    if error is not None:
        raise error
    if "stopped" in outcomes.values() or stop.is_set():
        say("grid stopped; rerun the same command to resume")
    say(f"processes: {sum(o == 'ran' for o in outcomes.values())} tasks run on {width} workers")
    return outcomes


def _ray_task(config_data: dict[str, Any], results_root: str, task_id: str, *after: str) -> str:
    del after  # the results of the tasks this one waits for: Ray starts it once they exist
    return run_task(config_data, results_root, task_id)


def run_ray(
    config: BenchConfig, results_root: Path | str, say: Callable[[str], None] = print
) -> dict[str, str]:
    """The plan's pending tasks as Ray tasks (module docstring); returns each task's outcome."""
    import ray

    results_root = Path(results_root).resolve()
    config = _absolute(config)
    c = config.cluster
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if c.ray_address is None:
            kwargs["num_cpus"] = _parallel(config) * task_threads(config)
        ray.init(address=c.ray_address, **kwargs)
    remote = ray.remote(_ray_task)
    data = config.model_dump(mode="json")
    refs: dict[str, Any] = {}
    for task in _pending(config, results_root):
        cpus, gpus = task_resources(config, task)
        deps = [refs[d] for d in task.deps if d in refs]
        refs[task.id] = remote.options(num_cpus=cpus, num_gpus=gpus, max_retries=0, name=task.id).remote(
            data, str(results_root), task.id, *deps
        )
    say(f"ray: {len(refs)} tasks submitted")
    outcomes = dict(zip(refs, ray.get(list(refs.values())), strict=True))
    return outcomes


def _absolute(config: BenchConfig) -> BenchConfig:
    """``config`` with its data and work folders absolute (workers may start elsewhere)."""
    data = config.data.model_copy(update={"root": str(Path(config.data.root).resolve())})
    return config.model_copy(update={"data": data, "work_dir": str(Path(config.work_dir).resolve())})


class TaskJob:
    """The callable a submitit job runs: one task of the plan (:func:`run_task`) in a worker thread.

    On SIGUSR2 (SLURM's ``--signal`` before the time limit, or preemption) submitit calls
    :meth:`checkpoint` in the main thread: it asks the training to stop at its next step boundary,
    waits for the checkpoint to be written, and hands submitit this same call to requeue."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def __call__(self, config_data: dict[str, Any], results_root: str, task_id: str) -> str:
        clear_stop()  # a requeued call in the process that stopped the previous one starts afresh
        out: dict[str, Any] = {}

        def work() -> None:
            try:
                out["value"] = run_task(config_data, results_root, task_id)
            except BaseException as exc:  # handed to the main thread
                out["error"] = exc

        self._thread = threading.Thread(target=work, name=task_id)
        self._thread.start()
        while self._thread.is_alive():  # short joins: the main thread stays free for signals
            self._thread.join(timeout=0.5)
        if "error" in out:
            raise out["error"]
        return str(out["value"])

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        request_stop()
        if self._thread is not None:
            self._thread.join()
        return submitit.helpers.DelayedSubmission(TaskJob(), *args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._thread = None


def _log_dir(config: BenchConfig) -> Path:
    c = config.cluster
    return Path(c.log_dir) if c.log_dir else Path(config.work_dir) / config.name / "jobs"


def _slurm_parameters(config: BenchConfig, task: Task) -> dict[str, Any]:
    c = config.cluster
    cpus, gpus = task_resources(config, task)
    params: dict[str, Any] = {
        "slurm_cpus_per_task": cpus,
        "slurm_mem_gb": c.mem_gb if task.compute else 4,
        "timeout_min": c.time_min,
        "slurm_signal_delay_s": 120,
        "slurm_job_name": f"talkbench-{config.name}-{task.kind}",
    }
    if gpus:
        params["slurm_gpus_per_node"] = gpus
    if c.partition:
        params["slurm_partition"] = c.partition
    if c.account:
        params["slurm_account"] = c.account
    if c.max_parallel:
        params["slurm_array_parallelism"] = c.max_parallel
    extra = dict(flag.split("=", 1) for flag in c.sbatch)
    if extra:
        params["slurm_additional_parameters"] = extra
    return params


def submit_slurm(
    config: BenchConfig, results_root: Path | str, say: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Submit the pending tasks to SLURM, one job array per level and kind of resources, each level
    ``afterok`` the previous one; returns at once with what was submitted (also written to
    ``<log_dir>/submitted-<time>.json``)."""
    import submitit

    results_root = Path(results_root).resolve()
    config = _absolute(config)
    folder = _log_dir(config).resolve()
    data = config.model_dump(mode="json")
    submitted: list[dict[str, Any]] = []
    previous: list[str] = []
    for level in levels(_pending(config, results_root)):
        ids: list[str] = []
        for compute in (True, False):
            group = [t for t in level if t.compute == compute]
            if not group:
                continue
            ex = submitit.AutoExecutor(folder=folder / "%j", cluster="slurm")
            params = _slurm_parameters(config, group[0])
            if previous:
                extra = dict(params.get("slurm_additional_parameters", {}))
                extra["dependency"] = "afterok:" + ":".join(previous)
                params["slurm_additional_parameters"] = extra
            ex.update_parameters(**params)
            jobs = ex.map_array(
                TaskJob(), [data] * len(group), [str(results_root)] * len(group), [t.id for t in group]
            )
            array = jobs[0].job_id.split("_")[0]
            ids.append(array)
            submitted += [{"task": t.id, "job": j.job_id} for t, j in zip(group, jobs, strict=True)]
        previous = ids or previous
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (folder / f"submitted-{stamp}.json").write_text(json.dumps(submitted, indent=1) + "\n", encoding="utf-8")
    say(
        f"slurm: {len(submitted)} tasks in {len({s['job'].split('_')[0] for s in submitted})} job arrays; "
        f"follow with `talkbench status --preset {config.name}`; logs in {folder}"
    )
    return submitted


def run_local(
    config: BenchConfig, results_root: Path | str, say: Callable[[str], None] = print
) -> dict[str, str]:
    """The SLURM path on this machine: submitit's ``LocalExecutor`` runs each level's tasks as
    processes, level after level, as many at once as ``cluster.max_parallel`` (default: as many as
    the cores hold at :func:`~talkbench.grid.tasks.task_threads` each)."""
    import submitit

    results_root = Path(results_root).resolve()
    config = _absolute(config)
    folder = _log_dir(config).resolve()
    data = config.model_dump(mode="json")
    outcomes: dict[str, str] = {}
    width = _parallel(config)
    for level in levels(_pending(config, results_root)):
        for i in range(0, len(level), width):
            group = level[i : i + width]
            ex = submitit.LocalExecutor(folder=folder / "%j")
            ex.update_parameters(timeout_min=config.cluster.time_min)
            jobs = [ex.submit(TaskJob(), data, str(results_root), t.id) for t in group]
            for task, job in zip(group, jobs, strict=True):
                outcomes[task.id] = job.result()
    say(f"local: {len(outcomes)} tasks run")
    return outcomes
