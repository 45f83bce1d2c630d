"""The grid as a plan of idempotent tasks, and their dependencies.

* ``data``: the corpus (generated when missing), checked. Waits for nothing.
* ``reader`` / ``expert``: trains the evaluation reader / the AV expert, when the preset names no
  shipped one. Wait for ``data``.
* ``stage1/<animator>/s<seed>``: CodeTalker's stage 1, shared by its variants. Waits for ``data``.
* ``train/<run>/s<seed>``: one training of a cell. Waits for ``data``, its stage 1, the expert.
* ``eval/<run>``: evaluates a cell's seeds, writes its run directory. Waits for its trainings and the
  readers.
* ``row/ground-truth``, ``row/template``: the bracketing rows. Wait for ``data`` and ``reader``.
* ``finalize``: checks that the rows agree (current keys, one judge), stores the guidance effects.
  Waits for every ``eval`` and ``row``.

Only the ``reader``, ``expert`` and ``stage1`` tasks train readers or stage 1; the tasks after them
load what they saved. A task's *level* is one more than its deepest dependency's: the tasks of one
level can all run at once (a SLURM job array per level).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from ..config import BenchConfig, RunSpec, run_slug

__all__ = ["Task", "TaskKind", "levels", "plan_grid", "stage1_signature", "stage1_trainer", "task_by_id"]

TaskKind = Literal["data", "reader", "expert", "stage1", "train", "eval", "row", "finalize"]

#: the kinds that run a network (and so ask for the preset's GPUs and CPUs per task)
COMPUTE_KINDS: frozenset[str] = frozenset({"reader", "expert", "stage1", "train", "eval", "row"})


@dataclass(frozen=True)
class Task:
    """One task of a grid's plan.

    Attributes:
        id: unique in the plan, ``/``-separated (``train/faceformer-av/s0``).
        kind: what it does (module table).
        deps: ids of the tasks it waits for.
        run_id: the cell or row it belongs to (``train``, ``eval``, ``row``).
        seed: the training seed (``stage1``, ``train``).
        (A ``stage1`` task's ``run_id`` is the first cell it serves: that cell's trainer trains it.)
    """

    id: str
    kind: TaskKind
    deps: tuple[str, ...] = ()
    run_id: str | None = None
    seed: int | None = None

    @property
    def slug(self) -> str:
        """The id as one file name (``train__faceformer-av__s0``)."""
        return self.id.replace("/", "__")

    @property
    def compute(self) -> bool:
        """Whether it runs a network (the other tasks take one CPU and no GPU)."""
        return self.kind in COMPUTE_KINDS


def plan_grid(config: BenchConfig) -> list[Task]:
    """Every task of ``config``'s grid, each after the tasks it depends on."""
    specs = config.run_specs()
    tasks = [Task("data", "data")]
    reader = config.reader.judge is None
    expert = config.expert.pretrained is None and any(s.uses_av for s in specs)
    if reader:
        tasks.append(Task("reader", "reader", ("data",)))
    if expert:
        tasks.append(Task("expert", "expert", ("data",)))
    judged = ("data", "reader") if reader else ("data",)
    stage1: dict[tuple[str, int], str] = {}  # (stage-1 signature, seed) → task id
    for spec in specs:
        if spec.animator.registry != "codetalker" or any(k == stage1_signature(spec) for k, _ in stage1):
            continue
        suffix = spec.run_id[len(f"{run_slug(spec.animator.name)}-{spec.variant}") :]
        for seed in config.seeds:
            task = Task(
                f"stage1/{run_slug(spec.animator.name)}{suffix}/s{seed}",
                "stage1",
                ("data",),
                run_id=spec.run_id,
                seed=seed,
            )
            stage1[(stage1_signature(spec), seed)] = task.id
            tasks.append(task)
    rows = [Task(f"row/{r}", "row", judged, run_id=r) for r in ("ground-truth", "template")]
    tasks += rows
    evals = []  # each right after its trainings: a serial grid writes its results cell by cell
    for spec in specs:
        trains = []
        for seed in config.seeds:
            deps = ["data"]
            if (stage1_signature(spec), seed) in stage1:
                deps.append(stage1[(stage1_signature(spec), seed)])
            if expert and spec.uses_av:
                deps.append("expert")
            task = Task(f"train/{spec.run_id}/s{seed}", "train", tuple(deps), run_id=spec.run_id, seed=seed)
            trains.append(task.id)
            tasks.append(task)
        deps = [*judged, *(["expert"] if expert and spec.uses_av else []), *trains]
        evals.append(Task(f"eval/{spec.run_id}", "eval", tuple(deps), run_id=spec.run_id))
        tasks.append(evals[-1])
    tasks.append(Task("finalize", "finalize", tuple(t.id for t in (*rows, *evals))))
    return tasks


def stage1_signature(spec: RunSpec) -> str:
    """What CodeTalker's stage 1 of a cell depends on besides the seed, the data and the code: the
    cells with one signature share one stage 1 per seed (``GridContext.stage1_cache``)."""
    t = spec.config.training
    return json.dumps([spec.animator.model_dump(), t.vq_steps, t.vq_lr, t.max_frames], sort_keys=True)


def stage1_trainer(config: BenchConfig, spec: RunSpec) -> RunSpec:
    """The cell whose trainer trains ``spec``'s CodeTalker stage 1: the grid's first cell with the same
    :func:`stage1_signature` (as the plan's ``stage1`` task does)."""
    return next(s for s in config.run_specs() if stage1_signature(s) == stage1_signature(spec))


def task_by_id(config: BenchConfig, task_id: str) -> Task:
    """The task ``task_id`` of ``config``'s plan; ``KeyError`` naming the plan's ids when absent."""
    for task in plan_grid(config):
        if task.id == task_id:
            return task
    raise KeyError(f"no task {task_id!r} in the plan of {config.name!r} (see `talkbench plan`)")


def levels(tasks: list[Task]) -> list[list[Task]]:
    """The tasks grouped by level: level 0 waits for none of ``tasks``, level k for levels < k only
    (dependencies outside ``tasks``, such as tasks already done, are not waited for)."""
    depth: dict[str, int] = {}
    for task in tasks:  # the plan lists every task after its dependencies
        depth[task.id] = 1 + max((depth[d] for d in task.deps if d in depth), default=-1)
    out: list[list[Task]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for task in tasks:
        out[depth[task.id]].append(task)
    return out
