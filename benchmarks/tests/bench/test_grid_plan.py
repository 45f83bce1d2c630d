"""The grid's plan of tasks, its locks, and the rule that only the reader and stage-1 tasks train."""

from __future__ import annotations

import ast
import json
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from talkbench.cli import app
from talkbench.config import BenchConfig, load_config
from talkbench.grid.lock import LockHeld, TaskLock, lock_holder
from talkbench.grid.plan import levels, plan_grid
from talkbench.grid.tasks import grid_states, run_task

from .conftest import TINY_OVERRIDES

SRC = Path(__file__).resolve().parents[2] / "src" / "talkbench"


def test_paper_vocaset_plan_has_every_training_and_its_dependencies() -> None:
    config = load_config("paper-vocaset")
    tasks = plan_grid(config)
    kinds = Counter(t.kind for t in tasks)
    # 5 variants x 3 animators = 15 cells, 3 seeds each (the count, docs/reproducing.md)
    assert kinds["train"] == 15 * 3 and kinds["eval"] == 15
    assert kinds["stage1"] == 3  # CodeTalker's, once per seed, shared by its five variants
    assert kinds["row"] == 2 and kinds["finalize"] == 1 and kinds["data"] == 1
    assert kinds["reader"] == (config.reader.judge is None) and kinds["expert"] == (
        config.expert.pretrained is None
    )
    by_id = {t.id: t for t in tasks}
    assert len(by_id) == len(tasks)
    seen: set[str] = set()
    for t in tasks:  # listed after what it waits for
        assert set(t.deps) <= seen, t.id
        seen.add(t.id)
    ct = next(t for t in tasks if t.id.startswith("train/codetalker-av/s1"))
    assert "stage1/codetalker/s1" in ct.deps and ("expert" in ct.deps) == (config.expert.pretrained is None)
    ev = by_id["eval/codetalker-av"]
    assert {f"train/codetalker-av/s{s}" for s in (0, 1, 2)} <= set(ev.deps)
    assert set(by_id["finalize"].deps) == {t.id for t in tasks if t.kind in ("eval", "row")}
    lv = levels(tasks)
    depth = {t.id: i for i, level in enumerate(lv) for t in level}
    assert all(depth[d] < depth[t.id] for t in tasks for d in t.deps)
    assert [t.id for t in lv[0]] == ["data"]


def test_shipped_readers_leave_no_reader_task(tiny_config: BenchConfig) -> None:
    ids = {t.id for t in plan_grid(tiny_config)}
    assert "reader" not in ids and "expert" not in ids
    no_av = tiny_config.model_copy(update={"variants": ["baseline"]})
    trained = BenchConfig.model_validate(
        {**no_av.model_dump(), "reader": {"judge": None}, "expert": {"pretrained": None}}
    )
    tasks = {t.id: t for t in plan_grid(trained)}
    assert "reader" in tasks and "expert" not in tasks  # no AV cell: no expert to train
    assert "reader" in tasks["row/ground-truth"].deps and "reader" in tasks["eval/faceformer-baseline"].deps
    assert "reader" not in tasks["train/faceformer-baseline/s0"].deps  # training needs no judge


def test_plan_command_lists_tasks_and_levels() -> None:
    out = CliRunner().invoke(app, ["plan", "--preset", "paper-vocaset"])
    assert out.exit_code == 0, out.output
    assert "train/faceformer-av/s2" in out.output and "after" in out.output
    n = len(plan_grid(load_config("paper-vocaset")))
    assert out.output.strip().splitlines()[-1].startswith(f"{n} tasks in ")


def test_plan_command_shows_the_resources_each_task_asks_for() -> None:
    # smoke leaves cluster.cpus_per_task unset: a compute task asks for the preset's torch_threads (2)
    config = load_config("smoke")
    assert config.cluster.cpus_per_task is None and config.torch_threads == 2
    lines = CliRunner().invoke(app, ["plan", "--preset", "smoke"]).output.splitlines()
    train = next(ln for ln in lines if ln.strip().startswith("train/faceformer-av/s0 "))
    data = next(ln for ln in lines if ln.strip().startswith("data "))
    assert "[2 cpu, 0 gpu]" in train and "[1 cpu]" in data
    overrides = ["cluster.cpus_per_task=4", "cluster.gpus_per_task=1"]
    wide = CliRunner().invoke(app, ["plan", "--preset", "smoke", *overrides])
    assert "[4 cpu, 1 gpu]" in next(ln for ln in wide.output.splitlines() if "train/faceformer-av/s0 " in ln)


def test_a_dependent_task_never_trains_the_reader(
    tiny_corpus: Path, tmp_path: Path, face_v1_overrides: tuple[str, ...]
) -> None:
    overrides = [
        *TINY_OVERRIDES,
        *face_v1_overrides,
        f"data.root={tiny_corpus}",
        f"work_dir={tmp_path / 'w'}",
        "data.generate=false",
        "reader.judge=null",
    ]
    config = load_config("smoke", overrides)
    results = tmp_path / "results"
    with pytest.raises(FileNotFoundError, match="task `reader` runs first"):
        run_task(config, results, "row/ground-truth", say=lambda _: None)
    states = {s.task.id: s for s in grid_states(config, results)}
    assert states["row/ground-truth"].state == "failed" and "reader" in states["row/ground-truth"].detail
    assert states["reader"].state == "missing" and states["data"].state == "done"
    out = CliRunner().invoke(app, ["status", "--preset", "smoke", "--results", str(results), *overrides])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert any(line.startswith("failed   row/ground-truth  FileNotFoundError") for line in lines)
    n = len(plan_grid(config))
    assert lines[-1] == f"smoke: {n} tasks: 1 done, 1 failed, {n - 2} missing"


def test_lock_excludes_a_second_worker_and_is_released(tmp_path: Path) -> None:
    path = tmp_path / "t.lock"
    with TaskLock(path, heartbeat=0.1, stale_after=1.0) as lock:
        assert lock.held()
        with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
            TaskLock(path).__enter__()
        time.sleep(1.3)  # longer than stale_after: only the heartbeat keeps it alive
        holder = lock_holder(path, 1.0)
        assert holder is not None and holder["alive"] and holder["token"] == lock.token
        assert not TaskLock(path, heartbeat=0.1, stale_after=1.0).try_acquire()
    assert not path.exists()
    assert TaskLock(path).try_acquire()


def test_an_abandoned_lock_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "t.lock"
    path.write_text(json.dumps({"host": "gone", "pid": 1, "token": "dead"}))
    old = time.time() - 120
    os.utime(path, (old, old))  # a worker killed two minutes ago: no heartbeat since
    lock = TaskLock(path, heartbeat=1.0, stale_after=60.0)
    assert lock.try_acquire() and lock.held()
    lock.release()


def _imports(path: Path, module: str) -> set[str]:
    """The talkbench modules ``module`` (at ``path``) imports, at any depth of its code."""
    out = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            names = [stem] + [f"{stem}.{a.name}" for a in node.names]
        out |= {n for n in names if n.split(".")[0] == "talkbench"}
    return out


def test_no_import_circle_among_talkbench_modules() -> None:
    modules = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    graph = {}
    for name, f in modules.items():
        deps = set()
        for target in _imports(f, name):
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                deps.add(target)
        graph[name] = deps
    # depth-first search for a back edge
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = [*stack[stack.index(d) :], d]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    # the configuration is a schema: it reaches no training, rendering or evaluation code
    assert not {
        d for d in graph["talkbench.config"] if d.startswith(("talkbench.training", "talkbench.renders"))
    }


def test_engine_tasks_run_with_the_threads_they_ask_for(monkeypatch) -> None:
    """A task's torch threads are the CPUs it asks its engine for (by default the serial run's
    ``torch_threads``, so the engines compute what ``serial`` computes); this machine's cores bound
    how many run at once: a task never shares a core with another's threads."""
    from talkbench.grid.engines import _parallel
    from talkbench.grid.tasks import task_resources, task_threads

    smoke = load_config("smoke")
    assert smoke.torch_threads == 2 and smoke.cluster.cpus_per_task is None
    train = next(t for t in plan_grid(smoke) if t.kind == "train")
    data = next(t for t in plan_grid(smoke) if t.kind == "data")
    assert task_threads(smoke) == 2
    assert task_resources(smoke, train) == (2, 0) and task_resources(smoke, data) == (1, 0)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 512 * 2**30 // 4096}  # memory that binds nothing
    monkeypatch.setattr(os, "sysconf", lambda name: pages[name])
    assert _parallel(smoke) == 8
    one = load_config("smoke", ["cluster.cpus_per_task=1", "cluster.gpus_per_task=1"])
    assert task_threads(one) == 1 and task_resources(one, train) == (1, 1) and _parallel(one) == 16
    assert _parallel(load_config("smoke", ["cluster.max_parallel=3"])) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert _parallel(smoke) == 1  # a task wider than the machine still runs, alone
    assert task_threads(load_config("smoke", ["torch_threads=null"])) == 1
