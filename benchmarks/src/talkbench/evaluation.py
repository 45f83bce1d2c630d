"""Evaluation on the protocol's test split under its test condition.

* Vertex metrics (``facial_metrics``): LVE (``eval.lve_variant``, lip mask), FDD
  (``eval.fdd_variant``, upper-face mask), MVE, per (test sequence, style), with the protocol's
  length rule.
* Test condition: ``all_train_styles`` (unseen test speakers, as VOCASET, BIWI-Test-B and synth):
  every test sequence is predicted once per training style and every (sequence, style) pair is
  one scored item; ``own_style``: once, with the speaker's own style.
* Temporal lip-sync metrics (``eval.temporal_metrics``): MTM (lip-sync offset by derivative DTW,
  ms), SLCC (per-frame speech energy vs lip opening) and LOC (lip-opening correlation with the GT),
  on the lip opening between the upper and lower halves of the lip mask (:func:`lip_halves`).
* Text metrics: CER / WER / VER of the transcripts that the **independent, frozen video-only
  evaluation reader** (never the guidance expert) produces from mouth renders of the prediction.
* Bracketing rows: ``ground truth`` (GT renders through the same reader: the best achievable
  readability; text metrics only) and ``template`` (the motionless template: the worst).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from facial_animator import Animator
from facial_metrics import (
    char_error_rate,
    frame_rms_energy,
    get_protocol,
    lip_opening,
    lip_vertex_error,
    loc_sequence_correlations,
    mean_vertex_error,
    mtm_sequence_offsets,
    speech_lip_correlation,
    upper_face_dynamics_deviation,
    viseme_error_rate,
    word_error_rate,
)
from lipread_expert import transcribe

from .config import BenchConfig
from .datasets import Sample
from .renders import render_mouth
from .results import PerSampleRecord
from .training.stage1 import TrainedReader

__all__ = [
    "EvalContext",
    "evaluate_animator",
    "evaluate_ground_truth",
    "evaluate_template",
    "evaluate_train_split",
    "lip_halves",
    "make_context",
    "metric_variants",
    "pad_audio",
    "train_samples",
]


@dataclass
class EvalContext:
    config: BenchConfig
    samples: list[Sample]
    styles: list[tuple[int, str]]
    masks: dict[str, Any]
    reader: TrainedReader
    own_style: bool
    #: upper- and lower-lip vertex ids (:func:`lip_halves`)
    lips: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def protocol(self) -> Any:
        return get_protocol(self.config.data.protocol)


def make_context(config: BenchConfig, reader: TrainedReader) -> EvalContext:
    """Test samples (at most ``eval.max_sentences_per_speaker`` per test speaker) and the styles."""
    from .training.data import load_masks, load_split

    proto = get_protocol(config.data.protocol)
    samples = load_split(config, "test")
    limit = config.eval.max_sentences_per_speaker
    if limit is not None:
        kept, count = [], {}
        for s in samples:
            if count.get(s.subject, 0) < limit:
                kept.append(s)
                count[s.subject] = count.get(s.subject, 0) + 1
        samples = kept
    own = proto.test_condition == "own_style"
    styles = list(enumerate(proto.train_subjects))[: config.eval.max_styles]
    masks = load_masks(config)
    lips = None
    if samples:
        lips = lip_halves(np.asarray(samples[0].template), masks["lip"].indices, config.eval.vertical_axis)
    return EvalContext(config, samples, styles, masks, reader, own, lips)


def lip_halves(template: np.ndarray, lip: Any, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Upper- and lower-lip vertex ids: the lip mask's vertices above / at or below the mean height
    (coordinate ``axis``) of the lip vertices in the neutral ``template`` (``(V, 3)``).

    The split needs no per-topology vertex list, so it works on FLAME, BIWI and the synthetic face
    alike; raises ``ValueError`` when one half is empty (a flat lip mask or the wrong axis)."""
    idx = np.asarray(lip, dtype=np.int64)
    height = np.asarray(template, dtype=np.float64)[idx, axis]
    centre = height.mean()
    upper, lower = idx[height > centre], idx[height <= centre]
    if upper.size == 0 or lower.size == 0:
        raise ValueError(
            f"the lip mask ({idx.size} vertices) does not split into upper and lower lip along axis "
            f"{axis}; set eval.vertical_axis to the topology's vertical axis"
        )
    return upper, lower


def metric_variants(
    config: BenchConfig, text: bool = True, vertex: bool = True, temporal: bool | None = None
) -> dict[str, str]:
    """Metric → variant id written into result.json (``temporal``: default ``vertex`` and
    ``eval.temporal_metrics``)."""
    e = config.eval
    out: dict[str, str] = {}
    if vertex:
        out.update(lve=e.lve_variant, fdd=e.fdd_variant, mve="l2")
    if (vertex if temporal is None else temporal) and e.temporal_metrics:
        out.update(mtm="ddtw", slcc="frame", loc="pearson")
    if text:
        out.update(cer=e.text_aggregate, wer=e.text_aggregate, ver=e.ver_variant)
    return out


def _text_metrics(config: BenchConfig, ref: str, hyp: str) -> dict[str, float]:
    vmap, source, _ = config.eval.ver_variant.split(":")
    return {
        "cer": float(char_error_rate([ref], [hyp])),
        "wer": float(word_error_rate([ref], [hyp])),
        "ver": float(viseme_error_rate([ref], [hyp], viseme_map=vmap, phone_source=source)),  # type: ignore[arg-type]
    }


def _vertex_metrics(
    ctx: EvalContext, pred: torch.Tensor, sample: Sample
) -> tuple[dict[str, float], torch.Tensor]:
    proto = ctx.protocol
    gt = torch.from_numpy(np.ascontiguousarray(sample.vertices, dtype=np.float32))[None]
    tpl = torch.from_numpy(np.ascontiguousarray(sample.template, dtype=np.float32))[None]
    pred = pred.detach().cpu().float()
    if pred.shape[1] > gt.shape[1] and proto.length_rule == "truncate_to_gt":
        pred = pred[:, : gt.shape[1]]
    if pred.shape[1] < gt.shape[1]:
        raise ValueError(
            f"{sample.name}: prediction has {pred.shape[1]} frames, ground truth {gt.shape[1]}; "
            f"protocol {proto.name!r} rule {proto.length_rule!r} rejects a shorter prediction"
        )
    e = ctx.config.eval
    lr = "error"
    out = {
        "lve": float(lip_vertex_error(pred, gt, ctx.masks["lip"], e.lve_variant, lr)),  # type: ignore[arg-type]
        "fdd": float(upper_face_dynamics_deviation(pred, gt, tpl, ctx.masks["upper"], e.fdd_variant, lr)),  # type: ignore[arg-type]
        "mve": float(mean_vertex_error(pred, gt, None, lr)),
    }
    if e.temporal_metrics:
        out.update(temporal_metrics(ctx, pred, gt, sample))
    return out, pred[0]


def temporal_metrics(
    ctx: EvalContext, pred: torch.Tensor, gt: torch.Tensor, sample: Sample
) -> dict[str, float]:
    """MTM (ms), SLCC and LOC of one ``(1, T, V, 3)`` prediction. A metric undefined for this
    sequence (no matched extremum, constant GT opening, constant audio energy, too few frames) is
    left out of the record, never written as NaN."""
    if ctx.lips is None:
        raise ValueError("EvalContext.lips is not set (no test samples)")
    up, lo = ctx.lips
    out: dict[str, float] = {}
    if pred.shape[1] >= 3:
        offsets = mtm_sequence_offsets(pred, gt, up, lo)[0]
        if offsets.size:
            out["mtm"] = float(np.abs(offsets).mean()) * 1000.0 / sample.fps
    if pred.shape[1] >= 2 and _varies(lip_opening(gt, up, lo)[0]):
        out["loc"] = float(loc_sequence_correlations(pred, gt, up, lo)[0])
    out.update(speech_lip_metric(ctx, pred, sample))
    return out


def speech_lip_metric(ctx: EvalContext, verts: torch.Tensor, sample: Sample) -> dict[str, float]:
    """``{"slcc": r}`` of ``(1, T, V, 3)`` vertices against the sample's audio (empty if undefined)."""
    if ctx.lips is None or verts.shape[1] < 2:
        return {}
    audio = torch.from_numpy(np.asarray(sample.audio, dtype=np.float32))
    frames = min(verts.shape[1], int(np.floor(audio.numel() * sample.fps / 16000 + 1e-9)))
    if frames < 2 or not _varies(frame_rms_energy(audio, sample.fps, num_frames=frames)):
        return {}
    r = speech_lip_correlation(verts, audio, ctx.lips[0], ctx.lips[1], sample.fps, variant="frame")
    return {"slcc": float(r)}


def _varies(x: torch.Tensor) -> bool:
    """Whether a 1-D signal is not constant (population std above 1e-12 of its largest magnitude)."""
    x = x.double()
    return bool(x.std(unbiased=False) > 1e-12 * x.abs().max().clamp_min(torch.finfo(torch.float64).tiny))


@torch.no_grad()
def read_lips(ctx: EvalContext, sequences: list[torch.Tensor], fps: float, batch_size: int = 8) -> list[str]:
    """Transcripts of the evaluation reader for ``(T, V, 3)`` vertex sequences (rendered, then read)."""
    cfg = ctx.config
    faces = torch.from_numpy(np.asarray(ctx.samples[0].faces, dtype=np.int64))
    lips = ctx.masks["lip"].indices
    albedo = ctx.samples[0].albedo
    out: list[str] = []
    for i in range(0, len(sequences), batch_size):
        chunk = sequences[i : i + batch_size]
        videos = [render_mouth(v[None].float(), faces, lips, fps, cfg.render, albedo)[0] for v in chunk]
        lengths = torch.tensor([v.shape[0] for v in videos])
        video = torch.zeros(len(videos), int(lengths.max()), *videos[0].shape[1:])
        for j, v in enumerate(videos):
            video[j, : v.shape[0]] = v
        out += transcribe(
            ctx.reader.model,
            ctx.reader.tokenizer,
            video=video,
            video_lengths=lengths,
            method=cfg.reader.decode,
            beam_size=cfg.reader.beam_size if cfg.reader.decode == "beam" else None,
        )
    return out


def _records(
    ctx: EvalContext,
    seed: int,
    items: list[tuple[Sample, str | None, dict[str, float], torch.Tensor | None]],
    read: bool,
) -> list[PerSampleRecord]:
    hyps: list[str | None] = [None] * len(items)
    if read:
        seqs = [
            verts if verts is not None else torch.tensor(np.asarray(s.vertices, dtype=np.float32))
            for s, _, _, verts in items
        ]
        hyps = list(read_lips(ctx, seqs, items[0][0].fps))
    records = []
    for (sample, style, metrics, _), hyp in zip(items, hyps):
        m = dict(metrics)
        ref = sample.transcript or ""
        if hyp is not None:
            m.update(_text_metrics(ctx.config, ref, hyp))
        records.append(
            PerSampleRecord(
                seed=seed,
                sample_id=sample.name,
                subject=sample.subject,
                style=style,
                frames=sample.num_frames,
                metrics=m,
                reference=ref if hyp is not None else None,
                hypothesis=hyp,
            )
        )
    return records


def pad_audio(audio: torch.Tensor, fps: float, frames: int = 2) -> torch.Tensor:
    """Audio followed by ``frames / fps`` s of silence.

    Audio encoders round the motion-frame count of a waveform in their own way (log-mel hop,
    wav2vec2 strides), which can give one frame less than the ground truth (``floor(S·fps/16000)``).
    The padding guarantees at least the GT frame count; the prediction is then cut to the GT length
    (the protocol's ``truncate_to_gt`` rule). Predictions never see the GT length.
    """
    pad = round(frames * 16000 / fps)
    return torch.nn.functional.pad(audio, (0, pad))


@torch.no_grad()
def evaluate_animator(
    model: Animator, ctx: EvalContext, seed: int, progress: bool = False
) -> list[PerSampleRecord]:
    """Per-sample records of a trained animator: one per (test sequence, style) pair."""
    from tqdm import tqdm

    from .training.data import to_animator_input

    model.eval()
    device = next(model.parameters()).device
    items = []
    pairs = [
        (s, st)
        for s in ctx.samples
        for st in ([(s.speaker_index, s.subject)] if ctx.own_style else ctx.styles)
    ]
    for sample, (style_idx, style_name) in tqdm(pairs, desc="evaluate", disable=not progress):
        inp = to_animator_input(sample, style=style_idx, device=device)
        audio = pad_audio(inp.audio, sample.fps)
        pred = model.predict(
            audio, inp.template, inp.style, transcript=inp.transcript, words=inp.words, phones=inp.phones
        )
        metrics, pred_t = _vertex_metrics(ctx, pred, sample)
        items.append((sample, style_name, metrics, pred_t))
    return _records(ctx, seed, items, read=True)


def train_samples(config: BenchConfig, train: list[Sample]) -> list[Sample]:
    """The ``eval.train_sequences`` training sequences scored beside the test split: the speakers'
    sequences taken in turn (first of every speaker, then second, ...), in corpus order."""
    n = config.eval.train_sequences
    if not n:
        return []
    by_speaker: dict[str, list[Sample]] = {}
    for s in train:
        by_speaker.setdefault(s.subject, []).append(s)
    out: list[Sample] = []
    rank = 0
    while len(out) < n and any(rank < len(v) for v in by_speaker.values()):
        out += [v[rank] for v in by_speaker.values() if rank < len(v)][: n - len(out)]
        rank += 1
    return out


@torch.no_grad()
def evaluate_train_split(
    model: Animator | None, ctx: EvalContext, samples: list[Sample], seed: int
) -> list[PerSampleRecord]:
    """Vertex metrics of ``model`` (``None``: the motionless template) on training ``samples``, each
    conditioned on its own speaker's style, with the same inference as the test split."""
    from .training.data import to_animator_input

    records = []
    for sample in samples:
        if model is None:
            tpl = torch.from_numpy(np.asarray(sample.template, dtype=np.float32))
            pred = tpl[None, None].expand(1, sample.num_frames, *tpl.shape).contiguous()
        else:
            model.eval()
            device = next(model.parameters()).device
            inp = to_animator_input(sample, device=device)
            pred = model.predict(
                pad_audio(inp.audio, sample.fps), inp.template, inp.style,
                transcript=inp.transcript, words=inp.words, phones=inp.phones,
            )
        metrics, _ = _vertex_metrics(ctx, pred, sample)
        records.append(
            PerSampleRecord(
                seed=seed, sample_id=sample.name, subject=sample.subject, style=sample.subject,
                frames=sample.num_frames, metrics=metrics,
            )
        )
    return records


def evaluate_ground_truth(ctx: EvalContext) -> list[PerSampleRecord]:
    """GT renders through the evaluation reader (text metrics), and the GT's own SLCC: the reference
    level of the speech–lip correlation (``eval.temporal_metrics``)."""
    items = []
    for s in ctx.samples:
        m: dict[str, float] = {}
        if ctx.config.eval.temporal_metrics:
            verts = torch.from_numpy(np.ascontiguousarray(s.vertices, dtype=np.float32))[None]
            m = speech_lip_metric(ctx, verts, s)
        items.append((s, None, m, None))
    return _records(ctx, 0, items, read=True)


def evaluate_template(ctx: EvalContext) -> list[PerSampleRecord]:
    """The motionless template repeated over the frames of each test sequence."""
    items = []
    for s in ctx.samples:
        tpl = torch.from_numpy(np.asarray(s.template, dtype=np.float32))
        pred = tpl[None, None].expand(1, s.num_frames, *tpl.shape).contiguous()
        metrics, pred_t = _vertex_metrics(ctx, pred, s)
        items.append((s, None, metrics, pred_t))
    return _records(ctx, 0, items, read=True)
