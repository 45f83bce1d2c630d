"""The serial engine on the engines' tiny grid (:mod:`.engine_grid`): the grid is done and complete,
stale rows are refused, and a training, a reader or a CodeTalker stage 1 stopped part-way (by a
callback, SIGTERM or submitit's preemption checkpoint) resumes to the results of an uninterrupted run.
Ray, submitit's local executor and SLURM have a test file each (``test_grid_engine_*.py``).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from talkbench.config import BenchConfig
from talkbench.grid.cells import train_seed
from talkbench.grid.context import prepare
from talkbench.grid.plan import task_by_id
from talkbench.grid.tasks import grid_states, locked_run
from talkbench.results.cache import run_cache_key
from talkbench.run import run_grid

from .engine_grid import Reference, engine_config, engine_overrides, snapshot, stop_after


@pytest.mark.slow(seconds=40)
def test_the_serial_grid_is_done_and_complete(engine_reference: Reference) -> None:
    ref = engine_reference
    runs = {k.split("/")[0] for k in ref.snapshot}
    assert runs == {
        "ground-truth",
        "template",
        "faceformer-baseline",
        "faceformer-av",
        "codetalker-baseline",
        "codetalker-av",
    }
    effect = ref.snapshot["faceformer-av/result.json"]["guidance_effect"]
    assert effect["baseline_run"] == "faceformer-baseline"
    states = grid_states(ref.config, ref.results)
    assert {s.state for s in states} == {"done"}, [(s.task.id, s.state) for s in states if s.state != "done"]


@pytest.mark.slow(seconds=27)
def test_a_training_stopped_at_a_step_and_resumed_gives_the_serial_results(
    engine_reference: Reference, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    config = engine_config(engine_reference.corpus, tmp_path / "work")
    ctx = prepare(config, tmp_path / "results", progress=False, say=lambda _: None)
    for tid in ("data", "stage1/codetalker/s1"):
        assert locked_run(ctx, task_by_id(config, tid)) == "ran"
    task = task_by_id(config, "train/codetalker-av/s1")
    assert locked_run(ctx, task, stop=stop_after(3)) == "stopped"  # after its third step
    ckpt = ctx.checkpoint(next(s for s in config.run_specs() if s.run_id == "codetalker-av"), 1)
    assert torch.load(ckpt, weights_only=True)["step"] == 3
    assert {s.task.id: s.state for s in grid_states(config, tmp_path / "results")}[task.id] == "missing"
    run_grid(config, tmp_path / "results", progress=False, say=lambda _: None)  # resumes it
    torch.set_num_threads(threads)
    assert snapshot(tmp_path / "results") == engine_reference.snapshot


#: trainings long enough to be stopped part-way
LONG = ("training.steps=400", "training.checkpoint_every=1000")


def _long_training(corpus: Path, tmp_path: Path) -> tuple[BenchConfig, Any, Any, Path]:
    """A grid whose trainings take 400 steps: its config, the FaceFormer baseline cell, a context and
    the cell's seed-0 checkpoint path."""
    config = engine_config(corpus, tmp_path / "work", *LONG)
    spec = next(s for s in config.run_specs() if s.run_id == "faceformer-baseline")
    ctx = prepare(config, tmp_path / "results", progress=False, say=lambda _: None)
    return config, spec, ctx, ctx.checkpoint(spec, 0)


@pytest.mark.slow(seconds=29)
def test_sigterm_stops_a_task_at_a_step_boundary_and_the_rerun_resumes(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    config, spec, ctx, ckpt = _long_training(tiny_corpus, tmp_path)
    events = tmp_path / "work" / config.name / "tensorboard" / spec.run_id / "s0"
    args = engine_overrides(tiny_corpus, tmp_path / "work", *LONG)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "talkbench.cli",
            "task",
            "train/faceformer-baseline/s0",
            "--preset",
            "smoke",
            "--results",
            str(tmp_path / "results"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not any(events.glob("events.*")) and time.time() < deadline:  # training has started
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err[-2000:]
    step = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < step < 400  # saved where it stopped, not at a checkpoint_every boundary
    assert not (tmp_path / "work" / config.name / "tasks" / "train__faceformer-baseline__s0.lock").exists()
    ran: list[int] = []
    train_seed(ctx, spec, 0, on_step=lambda i, _: ran.append(i))  # the rerun resumes at `step`
    assert ran == list(range(step + 1, 401))
    assert torch.load(ckpt, weights_only=True)["step"] == 400


def test_finalize_refuses_stale_rows_and_rows_of_another_judge(
    engine_reference: Reference, tmp_path: Path
) -> None:
    from talkbench.grid.finalize import GridError, check_rows

    copy = tmp_path / "results"
    shutil.copytree(engine_reference.results, copy)
    ctx = prepare(engine_reference.config, copy, progress=False, say=lambda _: None)
    check_rows(ctx)
    path = copy / "synth" / "faceformer-av" / "result.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    judge = data["reader"]["checkpoint_sha256"]
    data["reader"]["checkpoint_sha256"] = "f" * 64
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GridError, match=r"different readers.*ffffffffffff: faceformer-av"):
        check_rows(ctx)
    data["reader"]["checkpoint_sha256"] = judge
    data["cache_key"] = run_cache_key({"other": 1}, "data", "code")
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(GridError, match=r"stale rows.*: faceformer-av;"):
        check_rows(ctx)


def test_a_preempted_submitit_job_checkpoints_at_a_step_and_its_requeued_call_resumes(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    pytest.importorskip(
        "submitit", reason="submitit is an extra: pip install -c constraints.txt 'talkbench[slurm]'"
    )
    import threading

    from talkbench.grid.engines import TaskJob
    from talkbench.grid.stop import clear_stop

    threads = torch.get_num_threads()
    config, spec, _ctx, ckpt = _long_training(tiny_corpus, tmp_path)
    args = (config.model_dump(mode="json"), str(tmp_path / "results"), "train/faceformer-baseline/s0")
    job = TaskJob()
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(job(*args)))  # submitit's main thread
    worker.start()
    events = tmp_path / "work" / config.name / "tensorboard" / spec.run_id / "s0"
    deadline = time.time() + 60
    while not any(events.glob("events.*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    delayed = job.checkpoint(*args)  # what submitit's SIGUSR2 handler calls before requeueing
    worker.join()
    assert outcome == ["stopped"]
    step = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < step < 400
    assert isinstance(delayed.function, TaskJob) and delayed.args == args
    assert delayed.result() == "ran"  # the requeued job: resumes and finishes
    assert torch.load(ckpt, weights_only=True)["step"] == 400
    clear_stop()
    torch.set_num_threads(threads)


def test_a_reader_training_stopped_and_resumed_gives_the_same_reader(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    from talkbench.training.stage1 import file_sha256, reader_path

    threads = torch.get_num_threads()
    shas = []
    for name, stop_at in (("straight", None), ("stopped", 3)):
        config = engine_config(
            tiny_corpus,
            tmp_path / name,
            "reader.judge=null",
            "reader.steps=8",
            "reader.preset=nano",
        )
        ctx = prepare(config, tmp_path / name / "results", progress=False, say=lambda _: None)
        task = task_by_id(config, "reader")
        if stop_at is not None:
            assert locked_run(ctx, task, stop=stop_after(stop_at)) == "stopped"
            partial = reader_path("reader", config, ctx.work).with_suffix(".partial.pt")
            assert torch.load(partial, weights_only=True)["step"] == stop_at
            assert not reader_path("reader", config, ctx.work).exists()
        assert locked_run(ctx, task) == "ran"
        shas.append(file_sha256(reader_path("reader", config, ctx.work)))
        assert not reader_path("reader", config, ctx.work).with_suffix(".partial.pt").exists()
    torch.set_num_threads(threads)
    assert shas[0] == shas[1]


def test_codetalker_stage1_stopped_and_resumed_gives_the_same_autoencoder(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    threads = torch.get_num_threads()
    states = []
    for name, stop_at in (("straight", None), ("stopped", 2)):
        config = engine_config(tiny_corpus, tmp_path / name, "training.vq_steps=6")
        ctx = prepare(config, tmp_path / name / "results", progress=False, say=lambda _: None)
        task = task_by_id(config, "stage1/codetalker/s0")
        cache = ctx.stage1_cache(next(s for s in config.run_specs() if s.run_id == task.run_id), 0)
        assert cache is not None
        if stop_at is not None:
            assert locked_run(ctx, task, stop=stop_after(stop_at)) == "stopped"
            partial = cache.with_suffix(".partial.pt")
            assert torch.load(partial, weights_only=True)["step"] == stop_at and not cache.exists()
        assert locked_run(ctx, task) == "ran"
        assert not cache.with_suffix(".partial.pt").exists()
        states.append(torch.load(cache, weights_only=True))
    torch.set_num_threads(threads)
    assert states[0]["losses"] == states[1]["losses"] and len(states[0]["losses"]) == 6
    for key, value in states[0]["autoencoder"].items():
        assert torch.equal(value, states[1]["autoencoder"][key]), key


@pytest.mark.slow(seconds=21)
def test_the_sample_video_of_a_trained_cell(engine_reference: Reference, tmp_path: Path) -> None:
    from talkbench.grid.cells import _trained
    from talkbench.grid.videos import sample_video

    results = tmp_path / "results"  # a copy: the reference is shared with other test processes
    shutil.copytree(engine_reference.results, results)
    ctx = prepare(engine_reference.config, results, progress=False, say=lambda _: None)
    spec = next(s for s in engine_reference.config.run_specs() if s.run_id == "faceformer-av")
    path = sample_video(ctx, _trained(ctx, spec, 0))
    assert path is not None and path.stat().st_size > 10_000 and path.name == "faceformer-av.mp4"
