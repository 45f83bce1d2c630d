"""Stage 1: lip readers trained on renders of ground-truth meshes.

Two readers are trained here, and they are never the same model:

* the **AV-guidance expert** (``config.expert``, audio-visual by default): trained on GT renders of
  the lip-reader pool plus its audio, then handed to stage 2 where it scores (and, when
  ``guidance.expert_trainable``, keeps learning from) the animator's renders;
* the **evaluation reader** (``config.reader``, video only): trained on GT renders of the
  protocol's training split, then frozen; CER / WER / VER come from it.

Both use ``lipread_expert``'s joint CTC/attention loss and AdamW warm-up + cosine recipe, a
character tokenizer, and are cached as checkpoints keyed by config + data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lipread_expert import Batch, CharTokenizer, LipReader, fit, load_checkpoint, save_checkpoint

from ..config import BenchConfig, ExpertConfig, ReaderConfig
from ..datasets import Sample
from ..renders import input_spec_for, render_samples
from ..seeding import seed_everything
from .data import dataset_hash, load_masks, load_split
from .events import EventLog

__all__ = [
    "TrainedReader",
    "file_sha256",
    "make_tokenizer",
    "modality_readings",
    "pad_reader_batch",
    "train_eval_reader",
    "train_expert",
]


@dataclass
class TrainedReader:
    model: LipReader
    tokenizer: CharTokenizer
    checkpoint: Path
    sha256: str


def make_tokenizer(cfg: ExpertConfig | ReaderConfig | None = None) -> Any:
    """The reader's tokenizer: characters (space, apostrophe, A–Z, 0–9) or official SentencePiece files."""
    if cfg is None or cfg.tokenizer == "char":
        return CharTokenizer()
    if not cfg.sentencepiece_model or not cfg.sentencepiece_units:
        raise ValueError(
            "tokenizer 'sentencepiece' needs sentencepiece_model and sentencepiece_units (unigram5000 files)"
        )
    from lipread_expert import SentencePieceTokenizer

    return SentencePieceTokenizer(cfg.sentencepiece_model, cfg.sentencepiece_units)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pad_reader_batch(
    videos: list[torch.Tensor],
    texts: list[str],
    tokenizer: CharTokenizer,
    audios: list[torch.Tensor] | None = None,
    samples_per_frame: int = 640,
) -> Batch:
    """Zero-pad videos ``(T, 1, S, S)`` (and audio cut/padded to ``samples_per_frame`` per frame)."""
    lengths = torch.tensor([v.shape[0] for v in videos], dtype=torch.long)
    t_max = int(lengths.max())
    video = torch.zeros(len(videos), t_max, *videos[0].shape[1:])
    for i, v in enumerate(videos):
        video[i, : v.shape[0]] = v
    targets, _ = tokenizer.batch_encode(texts)
    audio = audio_lengths = None
    if audios is not None:
        audio = torch.zeros(len(audios), t_max * samples_per_frame)
        alen = []
        for i, (a, n) in enumerate(zip(audios, lengths.tolist())):
            k = min(a.shape[0], n * samples_per_frame)
            audio[i, :k] = a[:k]
            alen.append(n * samples_per_frame)
        audio_lengths = torch.tensor(alen, dtype=torch.long)
    return Batch(targets, video=video, audio=audio, video_lengths=lengths, audio_lengths=audio_lengths)


def _key(kind: str, cfg: ExpertConfig | ReaderConfig, config: BenchConfig) -> str:
    payload = {
        "kind": kind,
        "cfg": cfg.model_dump(),
        "render": config.render.model_dump(),
        "data": dataset_hash(config),
        "v": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _train(
    kind: str,
    cfg: ExpertConfig | ReaderConfig,
    modality: str,
    samples: list[Sample],
    config: BenchConfig,
    work: Path,
    progress: bool,
    log: Callable[[str], None],
) -> TrainedReader:
    tok = make_tokenizer(cfg)
    path = work / f"{kind}-{_key(kind, cfg, config)}.pt"
    if path.is_file():
        model, _ = load_checkpoint(path)
        log(f"{kind}: reusing {path}")
        return TrainedReader(model, tok, path, file_sha256(path))
    lips = load_masks(config)["lip"].indices
    videos = render_samples(
        samples, lips, config.render, work / "renders", dataset_hash(config), kind, progress
    )
    texts = [s.transcript or "" for s in samples]
    audios = [torch.from_numpy(s.audio.copy()) for s in samples] if modality != "video" else None
    seed_everything(cfg.seed)
    model = LipReader.from_preset(
        cfg.preset, modality, tok.vocab_size, input_spec=input_spec_for(config.render), **cfg.overrides
    )
    if cfg.checkpoint:
        from lipread_expert import load_official_checkpoint

        load_official_checkpoint(model, cfg.checkpoint)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(samples)

    audio_dropout = getattr(cfg, "audio_dropout", 0.0) if audios is not None else 0.0

    def batch(step: int) -> Batch:
        idx = torch.randint(0, n, (cfg.batch_size,), generator=gen).tolist()
        b = pad_reader_batch(
            [videos[i] for i in idx],
            [texts[i] for i in idx],
            tok,
            [audios[i] for i in idx] if audios is not None else None,
            model.input_spec.samples_per_frame,
        )
        if audio_dropout > 0 and b.audio is not None:
            # modality dropout: these utterances are read from the lips alone
            drop = torch.rand(len(idx), generator=gen) < audio_dropout
            b.audio[drop] = 0.0
        return b

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, desc=f"train {kind}", disable=not progress)
    last: dict[str, float] = {}
    events = EventLog(work / "tensorboard" / path.stem, "train")

    def on_step(step: int, logs: dict[str, float]) -> None:
        last.update(logs)
        events.add(step + 1, logs)
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{logs['loss']:.2f}", acc=f"{logs['accuracy']:.2f}")

    fit(model, batch, steps=cfg.steps, lr=cfg.lr, on_step=on_step)
    bar.close()
    events.close()
    model.eval()
    save_checkpoint(path, model, step=cfg.steps, token_list=tok.token_list)
    log(
        f"{kind}: trained {cfg.steps} steps on {n} utterances, "
        f"final loss {last.get('loss', float('nan')):.3f}, "
        f"accuracy {last.get('accuracy', float('nan')):.3f}"
    )
    return TrainedReader(model, tok, path, file_sha256(path))


def train_expert(
    config: BenchConfig, work: Path, progress: bool = False, log: Callable[[str], None] = print
) -> TrainedReader:
    """Stage 1 of AV guidance: the expert on GT renders of ``config.expert.source`` (+ audio)."""
    cfg = config.expert
    if cfg.pretrained is not None:
        from ..shipped_readers import load_shipped

        expert: TrainedReader = load_shipped(cfg.pretrained, "expert.pretrained")
        log(f"expert: the shipped pretrained expert {cfg.pretrained} ({expert.sha256[:12]}…)")
        return expert
    samples: list[Sample] = []
    for part in cfg.source.split("+"):
        samples += load_split(config, part)
    if cfg.max_utterances is not None:
        samples = samples[: cfg.max_utterances]
    return _train("expert", cfg, cfg.modality, samples, config, work, progress, log)


def train_eval_reader(
    config: BenchConfig, work: Path, progress: bool = False, log: Callable[[str], None] = print
) -> TrainedReader:
    """The independent video-only evaluation reader, on GT renders of the training split; frozen."""
    cfg = config.reader
    if cfg.judge is not None:
        from ..shipped_readers import load_shipped

        judge: TrainedReader = load_shipped(cfg.judge, "reader.judge")
        log(f"reader: the shipped judge {cfg.judge} ({judge.sha256[:12]}…)")
        return judge
    samples = load_split(config, "train", limit=cfg.max_utterances)
    reader = _train("reader", cfg, "video", samples, config, work, progress, log)
    reader.model.eval()
    for p in reader.model.parameters():
        p.requires_grad_(False)
    return reader


@torch.no_grad()
def modality_readings(
    expert: TrainedReader, samples: list[Sample], config: BenchConfig, work: Path
) -> dict[str, dict[str, float]]:
    """CER / WER of an audio-visual ``expert`` on ground-truth renders of ``samples`` with the video
    only (audio zeroed), the audio only (video frames at the normalised mean, 0) and both.

    Whether the AV guidance signal comes from the lips shows in the gap between ``video`` and
    ``audio``: an expert that reads as well with the video blanked does not look at the mouth.
    """
    from facial_metrics.text import char_error_rate, word_error_rate
    from lipread_expert import transcribe

    lips = load_masks(config)["lip"].indices
    key = dataset_hash(config)
    videos = render_samples(samples, lips, config.render, work / "renders", key, "expert-test")
    texts = [s.transcript or "" for s in samples]
    audios = [torch.from_numpy(s.audio.copy()) for s in samples]
    spf = expert.model.input_spec.samples_per_frame
    hyps: dict[str, list[str]] = {"video": [], "audio": [], "audiovisual": []}
    for i in range(0, len(samples), 8):
        b = pad_reader_batch(videos[i : i + 8], texts[i : i + 8], expert.tokenizer, audios[i : i + 8], spf)
        assert b.video is not None and b.audio is not None
        inputs = {
            "video": (b.video, torch.zeros_like(b.audio)),
            "audio": (torch.zeros_like(b.video), b.audio),
            "audiovisual": (b.video, b.audio),
        }
        if expert.model.modality != "audiovisual":  # a single-stream expert reads its own stream
            only = expert.model.modality
            inputs = {only: (b.video if only == "video" else None, b.audio if only == "audio" else None)}
        for name, (v, a) in inputs.items():
            hyps[name] += transcribe(
                expert.model, expert.tokenizer, video=v, audio=a,
                video_lengths=b.video_lengths, audio_lengths=b.audio_lengths,
            )
    return {
        name: {"cer": float(char_error_rate(texts, h)), "wer": float(word_error_rate(texts, h))}
        for name, h in hyps.items()
        if h
    }
