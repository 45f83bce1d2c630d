"""The benchmark grid end to end: data → stage-1 readers → animators × variants × seeds → results.

:func:`run_grid` writes one run directory per grid cell (animator × guidance variant, all seeds
inside: metrics are mean ± std over seeds) plus the two bracketing rows (``ground truth`` and
``template``) under ``<results_root>/<protocol>/``. A cell whose ``result.json`` carries the
current cache key (resolved config + dataset hash + code version) is skipped; training state lives
in ``<work_dir>/<preset>/`` (checkpoints, GT render caches, reader checkpoints), never in the results.
Finally, :func:`attach_guidance_effects` stores in every guided run's ``result.json`` its paired Δ
against the animator's baseline run with 95 % paired-bootstrap intervals (``talkbench.results.effects``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facial_animator import get_animator

from .config import BenchConfig, ConfigError, RunSpec, _shipped_sha256, check_pretrained_paths
from .evaluation import (
    EvalContext,
    evaluate_animator,
    evaluate_ground_truth,
    evaluate_template,
    evaluate_train_split,
    make_context,
    metric_variants,
    train_samples,
)
from .progress import progress_enabled
from .results import (
    SCHEMA_VERSION,
    AnimatorRef,
    DatasetRef,
    ExpertRef,
    GuidanceFlags,
    MaskRef,
    ModalityReading,
    PerSampleRecord,
    ReaderRef,
    RunResult,
    animator_code_version,
    code_version,
    collect_env,
    collect_hardware,
    defined_variants,
    load_result,
    package_versions,
    run_cache_key,
    summarize,
    write_run_dir,
)
from .results.curves import TrainingCurve, TrainingCurves, binned_curve
from .results.effects import guidance_effect
from .results.io import ResultFileError, write_result
from .results.rundir import load_run_dir
from .results.schema import AVDose
from .training.animator import AnimatorTrainer
from .training.data import dataset_hash, ensure_corpus, load_split
from .training.ddp import init_distributed
from .training.stage1 import TrainedReader, train_eval_reader, train_expert

__all__ = ["GridContext", "attach_guidance_effects", "prepare", "run_cell", "run_grid", "select_device"]

log = logging.getLogger("talkbench")


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class GridContext:
    """What every cell of a grid shares: data, readers, evaluation context, hashes."""

    def __init__(
        self, config: BenchConfig, results_root: Path, progress: bool, say: Callable[[str], None]
    ) -> None:
        check_pretrained_paths(config)
        self.config = config
        self.results_root = Path(results_root)
        self.progress = progress
        self.say = say
        self.work = Path(config.work_dir) / config.name
        self.work.mkdir(parents=True, exist_ok=True)
        self.device = select_device(config.device)
        self.dist = init_distributed()
        ensure_corpus(config, progress)
        self.data_hash = dataset_hash(config)
        self.code = code_version()
        self.train = load_split(config, "train", limit=config.data.max_train_sequences)
        from .training.data import load_masks

        self.masks = load_masks(config)
        self.faces = self.train[0].faces
        self._reader: TrainedReader | None = None
        self._expert: TrainedReader | None = None
        self._expert_ref: ExpertRef | None = None
        self._eval: EvalContext | None = None

    @property
    def reader(self) -> TrainedReader:
        if self._reader is None:
            self._reader = train_eval_reader(self.config, self.work, self.progress, self.say)
        return self._reader

    @property
    def expert(self) -> TrainedReader:
        if self._expert is None:
            self._expert = train_expert(self.config, self.work, self.progress, self.say)
        return self._expert

    @property
    def eval(self) -> EvalContext:
        if self._eval is None:
            self._eval = make_context(self.config, self.reader)
        return self._eval

    def out_dir(self) -> Path:
        return self.results_root / self.config.data.protocol

    def mask_refs(self) -> dict[str, MaskRef]:
        return {k: MaskRef(id=m.id, sha256=m.sha256) for k, m in self.masks.items()}

    def trainer(self, spec: RunSpec, seed: int) -> AnimatorTrainer:
        """The stage-2 trainer of one grid cell and seed (with the stage-1 expert for AV variants)."""
        return AnimatorTrainer(
            spec,
            seed,
            self.train,
            self.faces,
            self.masks["lip"].indices,
            self.expert if spec.uses_av else None,
            self.device,
            self.dist,
        )

    def checkpoint(self, spec: RunSpec, seed: int) -> Path:
        """The training checkpoint of one grid cell and seed, keyed like its run cache."""
        key = run_cache_key(spec.resolved(), self.data_hash, self.code)
        return self.work / "checkpoints" / f"{spec.run_id}-s{seed}-{key[:12]}.pt"

    def stage1_cache(self, spec: RunSpec, seed: int) -> Path | None:
        """Where CodeTalker's stage 1 of (animator, seed) is shared by the grid's variants."""
        if spec.animator.registry != "codetalker":
            return None
        t = self.config.training
        payload = {
            "animator": spec.animator.model_dump(),
            "seed": seed,
            "vq": [t.vq_steps, t.vq_lr, t.max_frames],
            "data": self.data_hash,
            "code": self.code,
        }
        key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
        name = spec.animator.name.lower().replace(" ", "-")
        return self.work / "checkpoints" / f"{name}-stage1-s{seed}-{key}.pt"

    def expert_ref(self) -> ExpertRef:
        """The AV expert's id, sha256 and its video / audio / both readings of the test split's GT."""
        if self._expert_ref is None:
            from .training.stage1 import modality_readings

            e = self.config.expert
            test = load_split(self.config, "test")
            readings = modality_readings(self.expert, test, self.config, self.work)
            self._expert_ref = ExpertRef(
                id=(
                    f"talkbench-pretrained-{e.pretrained}"
                    if e.pretrained
                    else f"talkbench-{self.config.name}-{e.modality}-{e.preset}"
                ),
                checkpoint_sha256=self.expert.sha256,
                utterances=len(test),
                readings={k: ModalityReading(**v) for k, v in readings.items()},  # type: ignore[misc]
            )
            r = self._expert_ref.readings
            self.say(
                "expert reads GT renders of the test split at CER "
                + ", ".join(f"{k} {v.cer:.3f}" for k, v in r.items())
            )
        return self._expert_ref

    def reader_ref(self) -> ReaderRef:
        return ReaderRef(
            id=(
                f"talkbench-judge-{self.config.reader.judge}"
                if self.config.reader.judge
                else f"talkbench-{self.config.name}-video-{self.config.reader.preset}"
            ),
            checkpoint_sha256=self.reader.sha256,
        )


def prepare(
    config: BenchConfig,
    results_root: Path | str,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> GridContext:
    """Shared state of a grid (generates the corpus when missing)."""
    if config.torch_threads:
        torch.set_num_threads(config.torch_threads)
    return GridContext(
        config, Path(results_root), progress_enabled() if progress is None else progress, say or log.info
    )


def _check_owner(ctx: GridContext, run_dir: Path) -> None:
    """Refuse to replace a run that another preset wrote (its ``config.yaml`` names that preset): two
    presets of one protocol share run ids, so one would silently overwrite the other's results."""
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    try:
        owner = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("benchmark")
    except (yaml.YAMLError, AttributeError, OSError):
        return
    if owner is not None and owner != ctx.config.name:
        raise ConfigError(
            f"{run_dir}: holds a run of preset {owner!r}, which preset {ctx.config.name!r} would replace; "
            f"write this preset's results to another folder (--results runs/{ctx.config.name})"
        )


def _cached(run_dir: Path, key: str) -> bool:
    try:
        return load_result(run_dir / "result.json").cache_key == key
    except (FileNotFoundError, ResultFileError):
        return False


def _write(
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
    )
    run_dir = ctx.out_dir() / run_id
    return write_run_dir(run_dir, result, records, resolved, collect_env(), video=video, curves=curves)


def _bracket_rows(ctx: GridContext) -> list[Path]:
    out = []
    c = ctx.config
    for kind, fn, vertex in (
        ("ground truth", evaluate_ground_truth, False),
        ("template", evaluate_template, True),
    ):
        run_id = kind.replace(" ", "-")
        resolved = {
            "benchmark": c.name,
            "row": kind,
            "data": c.data.model_dump(),
            "render": c.render.model_dump(),
            "reader": c.reader.model_dump(),
            "judge_sha256": _shipped_sha256(c.reader.judge),
            "eval": c.eval.model_dump(),
        }
        key = run_cache_key(resolved, ctx.data_hash, ctx.code)
        run_dir = ctx.out_dir() / run_id
        if _cached(run_dir, key):
            ctx.say(f"{run_id}: cached")
            out.append(run_dir)
            continue
        _check_owner(ctx, run_dir)
        t0 = time.perf_counter()
        records = fn(ctx.eval)
        # the GT row carries its own SLCC: the reference level of the speech-lip correlation
        variants = metric_variants(c, text=True, vertex=vertex, temporal=True)
        if not vertex:
            variants = {k: v for k, v in variants.items() if k not in ("mtm", "loc")}
        train = train_samples(c, ctx.train) if vertex else []
        train_records = evaluate_train_split(None, ctx.eval, train, 0) if train else None
        out.append(
            _write(
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
        )
        ctx.say(f"{run_id}: written")
    return out


def _face_camera(template: np.ndarray, masks: dict[str, Any], size: int) -> Any:
    """A square orthographic view of the face, from the chin to the forehead, for any topology (FLAME,
    BIWI, the procedural face, the synthetic head with its skull and neck), in any units.

    With ``a`` the lowest point of the upper-face region (about the eyes), ``b`` the lowest lip point and
    ``d = a - b``, the view spans ``y`` from ``b - 0.55 d`` (the chin) to ``a + 0.75 d`` (the forehead) and
    the width of the lip and upper-face regions, on the longer side, with a 5 % margin, centred."""
    from mesh_renderer import OrthographicCamera

    tpl = np.asarray(template, dtype=np.float64)
    lips, upper = tpl[np.asarray(masks["lip"].indices)], tpl[np.asarray(masks["upper"].indices)]
    a, b = float(upper[:, 1].min()), float(lips[:, 1].min())
    d = max(a - b, 1e-9)
    y0, y1 = b - 0.55 * d, a + 0.75 * d
    x = np.concatenate([lips[:, 0], upper[:, 0]])
    x0, x1 = float(x.min()), float(x.max())
    half = max(y1 - y0, x1 - x0) / 2 * 1.05
    return OrthographicCamera(
        scale=1.0 / half, translation=(-(x0 + x1) / 2, -(y0 + y1) / 2), image_size=size
    )


def _sample_video(ctx: GridContext, trainer: AnimatorTrainer) -> Path | None:
    """mp4 of the first test sequence, style 0: prediction | ground truth | error at 256 px, and below it
    the same three panels zoomed onto the lip vertices (``mesh_renderer`` layout ``"mouth"``), the
    error on the preset's shared colour scale (``video_error_max_mm``), a caption band at the bottom."""
    from mesh_renderer import render_video

    from .training.data import to_animator_input

    sample = ctx.eval.samples[0]
    style = ctx.eval.styles[0][0] if not ctx.eval.own_style else None
    inp = to_animator_input(sample, style=style, device=ctx.device)
    inp_style = ctx.eval.styles[0][1] if not ctx.eval.own_style else "own"
    pred = trainer.model.predict(
        inp.audio, inp.template, inp.style, transcript=inp.transcript, words=inp.words
    )[0].cpu()
    gt = torch.from_numpy(sample.vertices.copy())
    n = min(pred.shape[0], gt.shape[0])
    cam = _face_camera(sample.template, ctx.masks, 256)
    path = ctx.work / "videos" / f"{trainer.run.run_id}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    return render_video(
        pred[:n],
        torch.from_numpy(np.asarray(sample.faces)),
        path,
        fps=sample.fps,
        gt=gt[:n],
        audio=(sample.audio, 16000),
        camera=cam,
        layout="mouth",
        mouth=np.asarray(ctx.masks["lip"].indices),
        albedo=sample.albedo,
        cull_backfaces=sample.albedo is not None,  # a whole (closed) head: its back faces are hidden
        # one colour scale for every video of the preset, in millimetres
        error_max=ctx.config.video_error_max_mm,
        error_scale=1e3,
        error_label="L2 error, mm",
        footer=(f"{sample.name}, style {inp_style}: error colour scale 0-"
                f"{ctx.config.video_error_max_mm:g} mm, shared by every video of this preset"),
    )


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


def run_cell(
    ctx: GridContext, spec: RunSpec, on_step: Callable[[int, dict[str, float]], None] | None = None
) -> Path:
    """Train and evaluate one grid cell over all seeds; skipped when its cached result is current."""
    c = ctx.config
    resolved = spec.resolved()
    code = ctx.code + animator_code_version(get_animator(spec.animator.registry))
    key = run_cache_key(resolved, ctx.data_hash, code)
    run_dir = ctx.out_dir() / spec.run_id
    if _cached(run_dir, key):
        ctx.say(f"{spec.run_id}: cached")
        return run_dir
    _check_owner(ctx, run_dir)
    records: list[PerSampleRecord] = []
    train_records: list[PerSampleRecord] = []
    train = train_samples(c, ctx.train)
    video = None
    curves: list[TrainingCurve] = []
    histories: list[list[dict[str, float]]] = []
    t0 = time.perf_counter()
    for i, seed in enumerate(c.seeds):
        trainer = ctx.trainer(spec, seed)
        logs = trainer.fit(
            ctx.checkpoint(spec, seed),
            on_step=on_step,
            progress=ctx.progress,
            vq_cache=ctx.stage1_cache(spec, seed),
            events=ctx.work / "tensorboard" / spec.run_id / f"s{seed}",
        )
        if logs:
            ctx.say(f"{spec.run_id} seed {seed}: final loss {logs[-1]['loss']:.4g}")
        if ctx.dist.rank != 0:
            continue
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
                video = _sample_video(ctx, trainer)
            except Exception as exc:
                ctx.say(f"{spec.run_id}: no sample video ({exc})")
    if ctx.dist.rank != 0:
        return run_dir
    guidance = GuidanceFlags(av=spec.uses_av, phonetic=spec.uses_phonetic, lrlv=spec.variant == "lrlv")
    path = _write(
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
        time.perf_counter() - t0,
        video,
        train_records,
        ctx.expert_ref() if spec.uses_av else None,
        TrainingCurves(trainings=curves) if curves else None,
        av_dose(c, histories, ctx.train) if spec.uses_av else None,
    )
    ctx.say(f"{spec.run_id}: written ({time.perf_counter() - t0:.0f} s)")
    return path


def attach_guidance_effects(ctx: GridContext, specs: list[RunSpec] | None = None) -> list[Path]:
    """Store in each guided run's ``result.json`` its paired-bootstrap effect against the baseline run
    of the same animator (``talkbench.results.effects``) and, for an ``av`` run, its effect against
    the animator's ``lrlv`` run (``lip_reader_effect``); returns the run directories it (re)wrote.

    A guided run whose baseline folder holds no finished run is left as it is; a stored effect that
    already equals the recomputed one is not rewritten (so a cached grid stays byte-identical).
    """
    written: list[Path] = []
    for spec in ctx.config.run_specs() if specs is None else specs:
        if spec.variant == "baseline":
            continue
        base_id = RunSpec(config=spec.config, animator=spec.animator, variant="baseline").run_id
        guided_dir, base_dir = ctx.out_dir() / spec.run_id, ctx.out_dir() / base_id
        if not (guided_dir / "result.json").is_file() or not (base_dir / "result.json").is_file():
            continue
        guided, base = load_run_dir(guided_dir), load_run_dir(base_dir)
        effect = guidance_effect(base.result, base.records, guided.result, guided.records)
        update = {"guidance_effect": effect}
        lrlv_id = RunSpec(config=spec.config, animator=spec.animator, variant="lrlv").run_id
        lrlv_dir = ctx.out_dir() / lrlv_id
        if spec.variant == "av" and (lrlv_dir / "result.json").is_file():
            lrlv = load_run_dir(lrlv_dir)
            update["lip_reader_effect"] = guidance_effect(
                lrlv.result, lrlv.records, guided.result, guided.records
            )
        if all(getattr(guided.result, k) == v for k, v in update.items()):
            continue
        write_result(guided_dir / "result.json", guided.result.model_copy(update=update))
        against = base_id + (f" and {lrlv_id}" if "lip_reader_effect" in update else "")
        ctx.say(f"{spec.run_id}: guidance effect against {against} stored")
        written.append(guided_dir)
    return written


def run_grid(
    config: BenchConfig,
    results_root: Path | str,
    progress: bool | None = None,
    say: Callable[[str], None] | None = None,
) -> list[Path]:
    """Run the whole grid of ``config``; returns the run directories (bracketing rows first)."""
    ctx = prepare(config, results_root, progress, say)
    dirs = _bracket_rows(ctx) if ctx.dist.rank == 0 else []
    for spec in config.run_specs():
        dirs.append(run_cell(ctx, spec))
    if ctx.dist.rank == 0:
        attach_guidance_effects(ctx)
        for line in template_warnings(dirs):
            ctx.say(line)
    return dirs


def template_warnings(dirs: list[Path]) -> list[str]:
    """One warning per method run whose LVE is not below the template row's (the motionless mean
    face): a model that does worse than not moving has not learned the task, usually because its
    output scale does not suit the preset's recipe (docs/adding-an-animator.md, "Output scale")."""
    results = {}
    for d in dirs:
        if (d / "result.json").is_file():
            results[d.name] = load_result(d / "result.json")
    template = results.get("template")
    if template is None or "lve" not in template.metrics or template.metrics["lve"].value <= 0:
        return []
    ref = template.metrics["lve"].value
    out = []
    for run_id, res in results.items():
        if res.kind != "method" or "lve" not in res.metrics:
            continue
        ratio = res.metrics["lve"].value / ref
        if ratio >= 1.0:
            out.append(
                f"warning: {res.animator.name} {res.guidance.label} ({run_id}) does not beat the motionless "
                f"template: LVE / template {ratio:.2f}; check its output scale against the preset's recipe "
                "(docs/adding-an-animator.md, \"Output scale\")"
            )
    return out
