"""Evaluation on the protocol's test split under its test condition.

* Vertex metrics (``facial_metrics``): LVE (``eval.lve_variant``, lip mask), FDD
  (``eval.fdd_variant``, upper-face mask), MVE, per (test sequence, style), with the protocol's
  length rule.
* Test condition: ``all_train_styles`` (unseen test speakers, as VOCASET, BIWI-Test-B and synth):
  every test sequence is predicted once per training style and every (sequence, style) pair is
  one scored item; ``own_style``: once, with the speaker's own style.
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
    get_protocol,
    lip_vertex_error,
    mean_vertex_error,
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
    return EvalContext(config, samples, styles, load_masks(config), reader, own)


def metric_variants(config: BenchConfig, text: bool = True, vertex: bool = True) -> dict[str, str]:
    """Metric → variant id written into result.json."""
    e = config.eval
    out: dict[str, str] = {}
    if vertex:
        out.update(lve=e.lve_variant, fdd=e.fdd_variant, mve="l2")
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
    return {
        "lve": float(lip_vertex_error(pred, gt, ctx.masks["lip"], e.lve_variant, lr)),  # type: ignore[arg-type]
        "fdd": float(upper_face_dynamics_deviation(pred, gt, tpl, ctx.masks["upper"], e.fdd_variant, lr)),  # type: ignore[arg-type]
        "mve": float(mean_vertex_error(pred, gt, None, lr)),
    }, pred[0]


@torch.no_grad()
def read_lips(ctx: EvalContext, sequences: list[torch.Tensor], fps: float, batch_size: int = 8) -> list[str]:
    """Transcripts of the evaluation reader for ``(T, V, 3)`` vertex sequences (rendered, then read)."""
    cfg = ctx.config
    faces = torch.from_numpy(np.asarray(ctx.samples[0].faces, dtype=np.int64))
    lips = ctx.masks["lip"].indices
    out: list[str] = []
    for i in range(0, len(sequences), batch_size):
        chunk = sequences[i : i + batch_size]
        videos = [render_mouth(v[None].float(), faces, lips, fps, cfg.render)[0] for v in chunk]
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
    """GT renders through the evaluation reader (text metrics only)."""
    items = [(s, None, {}, None) for s in ctx.samples]
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
