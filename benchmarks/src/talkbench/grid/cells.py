"""The work of a grid's tasks: CodeTalker's stage 1, one training per cell and seed, one evaluation
per cell and the two bracketing rows (the finalize step is :mod:`talkbench.grid.finalize`).

Each function is idempotent: what it produces is found again by its key and not redone. A cell's
evaluation loads its seeds' finished checkpoints (it never trains), so the serial grid and a grid
spread over many workers write the same bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import BenchConfig, RunSpec
from ..evaluation import (
    evaluate_animator,
    evaluate_ground_truth,
    evaluate_template,
    evaluate_train_split,
    metric_variants,
    train_samples,
)
from ..results import (
    SCHEMA_VERSION,
    AnimatorRef,
    DatasetRef,
    ExpertRef,
    GuidanceFlags,
    PerSampleRecord,
    RunResult,
    collect_env,
    collect_hardware,
    defined_variants,
    package_versions,
    run_cache_key,
    summarize,
    write_run_dir,
)
from ..results.curves import TrainingCurve, TrainingCurves, binned_curve
from ..results.schema import AVDose
from ..shipped_manifests import shipped_sha256
from ..training.animator import AnimatorTrainer
from .context import GridContext, check_owner, is_current
from .plan import stage1_trainer
from .videos import sample_video

__all__ = [
    "BRACKET_ROWS",
    "av_dose",
    "evaluate_cell",
    "evaluate_row",
    "row_key",
    "run_cell",
    "train_done_path",
    "train_seed",
    "train_stage1",
    "write_run",
]

#: the bracketing rows: run id → kind
BRACKET_ROWS: dict[str, str] = {"ground-truth": "ground truth", "template": "template"}


def write_run(
    ctx: GridContext,
    run_id: str,
    kind: str,
    name: str,
    spec: dict[str, Any],
    guidance: GuidanceFlags,
    seeds: list[int],
    records: list[PerSampleRecord],
    variants: dict[str, str],
    resolved: dict[str, Any],
    key: str,
    wall: float,
    video: Path | None = None,
    train_records: list[PerSampleRecord] | None = None,
    expert: ExpertRef | None = None,
    curves: TrainingCurves | None = None,
    av_dose: AVDose | None = None,
    sweep: tuple[tuple[str, Any], ...] = (),
) -> Path:
    metrics = summarize(records, seeds, ctx.config.data.protocol, defined_variants(records, seeds, variants))
    train_metrics = None
    if train_records:
        vertex = defined_variants(train_records, seeds, metric_variants(ctx.config, text=False))
        train_metrics = summarize(train_records, seeds, ctx.config.data.protocol, vertex)
    text = any(m in variants for m in ("cer", "wer", "ver"))
    result = RunResult(
        schema_version=SCHEMA_VERSION,
        run_id=run_id,
        kind=kind,
        protocol=ctx.config.data.protocol,  # type: ignore[arg-type]
        dataset=DatasetRef(id=ctx.eval.protocol.dataset, content_sha256=ctx.data_hash),
        animator=AnimatorRef(name=name, spec=spec),
        guidance=guidance,
        seeds=seeds,
        metrics=metrics,
        masks=ctx.mask_refs(),
        reader=ctx.reader_ref() if text else None,
        versions=package_versions(),
        hardware=collect_hardware(),
        wall_time_s=wall,
        date=datetime.now(timezone.utc),
        cache_key=key,
        train_metrics=train_metrics,
        expert=expert,
        av_dose=av_dose,
        sweep=dict(sweep) if sweep else None,
        sweep_reference=ctx.config.sweep.reference if sweep and ctx.config.sweep else None,
    )
    run_dir = ctx.out_dir() / run_id
    return write_run_dir(run_dir, result, records, resolved, collect_env(), video=video, curves=curves)


def _row_resolved(ctx: GridContext, kind: str) -> dict[str, Any]:
    c = ctx.config
    return {
        "benchmark": c.name,
        "row": kind,
        "data": c.data.model_dump(),
        "render": c.render.model_dump(),
        "reader": c.reader.model_dump(),
        "judge_sha256": shipped_sha256(c.reader.judge) or ctx.reader.sha256,
        "eval": c.eval.model_dump(),
    }


def row_key(ctx: GridContext, run_id: str) -> str:
    """The cache key of a bracketing row (``ground-truth`` or ``template``)."""
    return run_cache_key(_row_resolved(ctx, BRACKET_ROWS[run_id]), ctx.data_hash, ctx.code)


def evaluate_row(ctx: GridContext, run_id: str) -> Path:
    """One bracketing row: the ground truth read by the judge, or the motionless template."""
    c = ctx.config
    kind = BRACKET_ROWS[run_id]
    fn, vertex = (evaluate_ground_truth, False) if kind == "ground truth" else (evaluate_template, True)
    resolved = _row_resolved(ctx, kind)
    key = run_cache_key(resolved, ctx.data_hash, ctx.code)
    run_dir = ctx.out_dir() / run_id
    if is_current(run_dir, key):
        ctx.say(f"{run_id}: cached")
        return run_dir
    check_owner(ctx, run_dir)
    t0 = time.perf_counter()
    records = fn(ctx.eval)
    # the GT row carries its own SLCC: the reference level of the speech-lip correlation
    variants = metric_variants(c, text=True, vertex=vertex, temporal=True)
    if not vertex:
        variants = {k: v for k, v in variants.items() if k not in ("mtm", "loc")}
    train = train_samples(c, ctx.train) if vertex else []
    train_records = evaluate_train_split(None, ctx.eval, train, 0) if train else None
    path = write_run(
        ctx,
        run_id,
        kind,
        kind,
        {},
        GuidanceFlags(),
        [0],
        records,
        variants,
        resolved,
        key,
        time.perf_counter() - t0,
        train_records=train_records,
    )
    ctx.say(f"{run_id}: written")
    return path


def train_stage1(ctx: GridContext, spec: RunSpec, seed: int, stop: Callable[[], bool] | None = None) -> Path:
    """CodeTalker's stage 1 of ``spec``'s animator and ``seed``, trained by ``spec``'s trainer and saved
    to :meth:`GridContext.stage1_cache`, where every cell of the same stage-1 settings finds it."""
    cache = ctx.stage1_cache(spec, seed)
    assert cache is not None, f"{spec.animator.name} has no stage 1"
    if cache.is_file():
        return cache
    trainer = ctx.trainer(spec, seed)
    trainer.stage1(
        cache,
        ctx.progress,
        ctx.work / "tensorboard" / spec.run_id / f"s{seed}" / "stage1",
        stop,
        ctx.config.cluster.checkpoint_minutes * 60,
    )
    ctx.say(f"{spec.animator.name} seed {seed}: stage 1 saved ({cache.name})")
    return cache


def train_done_path(checkpoint: Path) -> Path:
    """The marker written beside a checkpoint once its training reached the last step."""
    return checkpoint.with_name(checkpoint.name + ".done")


def train_seed(
    ctx: GridContext,
    spec: RunSpec,
    seed: int,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> AnimatorTrainer:
    """Train one cell for one seed to its last step (resuming its checkpoint; CodeTalker's stage 1
    from the shared cache) and mark the checkpoint finished."""
    ckpt = ctx.checkpoint(spec, seed)
    trainer = ctx.trainer(spec, seed)
    logs = trainer.fit(
        ckpt,
        on_step=on_step,
        progress=ctx.progress,
        vq_cache=ctx.stage1_cache(spec, seed),
        events=ctx.work / "tensorboard" / spec.run_id / f"s{seed}",
        stop=stop,
        checkpoint_seconds=ctx.config.cluster.checkpoint_minutes * 60,
    )
    if logs:
        ctx.say(f"{spec.run_id} seed {seed}: final loss {logs[-1]['loss']:.4g}")
    if ctx.dist.rank == 0:
        done = train_done_path(ckpt)
        done.write_text(
            json.dumps({"steps": trainer.step_index, "train_seconds": trainer.train_seconds}) + "\n",
            encoding="utf-8",
        )
    return trainer


def _trained(ctx: GridContext, spec: RunSpec, seed: int) -> AnimatorTrainer:
    ckpt = ctx.checkpoint(spec, seed)
    if not train_done_path(ckpt).is_file():
        raise FileNotFoundError(
            f"{ckpt}: the training of {spec.run_id} seed {seed} has not finished; its task "
            f"train/{spec.run_id}/s{seed} runs first"
        )
    trainer = ctx.trainer(spec, seed, distributed=False)
    trainer.resume(ckpt)
    trainer.model.eval()
    return trainer


def evaluate_cell(ctx: GridContext, spec: RunSpec) -> Path:
    """Evaluate one cell over all seeds from their finished checkpoints and write its run directory
    (skipped when its result is current)."""
    c = spec.config  # a swept cell's own values (its guidance dose, say)
    resolved = ctx.result_resolved(spec)
    key = ctx.cell_key(spec)
    run_dir = ctx.out_dir() / spec.run_id
    if is_current(run_dir, key):
        ctx.say(f"{spec.run_id}: cached")
        return run_dir
    check_owner(ctx, run_dir)
    records: list[PerSampleRecord] = []
    train_records: list[PerSampleRecord] = []
    train = train_samples(c, ctx.train)
    video = None
    curves: list[TrainingCurve] = []
    histories: list[list[dict[str, float]]] = []
    t0 = time.perf_counter()
    trained = 0.0
    for i, seed in enumerate(c.seeds):
        trainer = _trained(ctx, spec, seed)
        trained += trainer.train_seconds
        if trainer.vq_history:
            curves.append(binned_curve([{"loss": x} for x in trainer.vq_history], seed, "stage1"))
        if trainer.history:
            first = trainer.step_index - len(trainer.history)
            curves.append(binned_curve(trainer.history, seed, "animator", first_step=first))
        histories.append(trainer.history)
        records += evaluate_animator(trainer.model, ctx.eval, seed, ctx.progress)
        train_records += evaluate_train_split(trainer.model, ctx.eval, train, seed)
        if i == 0 and c.sample_videos:
            try:
                video = sample_video(ctx, trainer)
            except Exception as exc:
                ctx.say(f"{spec.run_id}: no sample video ({exc})")
    guidance = GuidanceFlags(av=spec.uses_av, phonetic=spec.uses_phonetic, lrlv=spec.variant == "lrlv")
    wall = trained + time.perf_counter() - t0
    path = write_run(
        ctx,
        spec.run_id,
        "method",
        spec.animator.name,
        spec.animator.model_dump(),
        guidance,
        list(c.seeds),
        records,
        metric_variants(c),
        resolved,
        key,
        wall,
        video,
        train_records,
        ctx.expert_ref() if spec.uses_av else None,
        TrainingCurves(trainings=curves) if curves else None,
        av_dose(c, histories, ctx.train) if spec.uses_av else None,
        spec.sweep,
    )
    ctx.say(f"{spec.run_id}: written ({wall:.0f} s)")
    return path


def run_cell(
    ctx: GridContext, spec: RunSpec, on_step: Callable[[int, dict[str, float]], None] | None = None
) -> Path:
    """Train (every seed) and evaluate one grid cell in this process; skipped when its result is current."""
    if is_current(ctx.out_dir() / spec.run_id, ctx.cell_key(spec)):
        ctx.say(f"{spec.run_id}: cached")
        return ctx.out_dir() / spec.run_id
    for seed in ctx.config.seeds:
        if spec.animator.registry == "codetalker":
            train_stage1(ctx, stage1_trainer(ctx.config, spec), seed)
        if not train_done_path(ctx.checkpoint(spec, seed)).is_file():
            train_seed(ctx, spec, seed, on_step)
    if ctx.dist.rank != 0:
        return ctx.out_dir() / spec.run_id
    return evaluate_cell(ctx, spec)


def av_dose(config: BenchConfig, histories: list[list[dict[str, float]]], train: list[Any]) -> AVDose:
    """The AV term's dose of a run, counted from its trainings' logged steps (:class:`AVDose`);
    ``train``: the training split (a step's sequence is one of them, cut to ``training.max_frames``)."""
    steps = sum(len(h) for h in histories)
    frames = [h["av_frames"] for hist in histories for h in hist if "av_frames" in h]
    max_frames = config.training.max_frames
    seq = [min(s.num_frames, max_frames) if max_frames else s.num_frames for s in train]
    per_step = sum(seq) / len(seq) if seq else 0.0
    per_av = sum(frames) / len(frames) if frames else 0.0
    fraction = len(frames) * per_av / (steps * per_step) if steps and per_step else 0.0
    return AVDose(
        av_every=config.guidance.av_every,
        clip_frames=config.guidance.av_clip_frames,
        steps=steps,
        av_steps=len(frames),
        frames_per_av_step=per_av,
        frames_per_step=per_step,
        fraction=min(fraction, 1.0),
    )
