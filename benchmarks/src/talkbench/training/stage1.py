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
from typing import Any, Literal

import torch

from lipread_expert import Batch, CharTokenizer, LipReader, load_checkpoint, save_checkpoint

from ..config import BenchConfig, ExpertConfig, ReaderConfig
from ..datasets import Sample
from ..renders import input_spec_for, render_samples
from ..results.cache import code_version
from ..seeding import seed_everything
from ..shipped_manifests import ShippedReaderError, shipped_manifest, shipped_path
from .data import dataset_hash, load_masks, load_split
from .events import EventLog

__all__ = [
    "ReaderStopped",
    "TrainedReader",
    "file_sha256",
    "load_shipped",
    "make_tokenizer",
    "modality_readings",
    "pad_reader_batch",
    "reader_path",
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


#: the distributions whose code makes a trained reader (its renders, its model and training loop)
READER_CODE: tuple[str, ...] = ("talkbench", "mesh-renderer", "lipread-expert")


def _key(kind: str, cfg: ExpertConfig | ReaderConfig, config: BenchConfig) -> str:
    payload = {
        "kind": kind,
        "cfg": cfg.model_dump(),
        "render": config.render.model_dump(),
        "data": dataset_hash(config),
        "code": code_version(READER_CODE),
        "v": 2,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def reader_path(kind: Literal["reader", "expert"], config: BenchConfig, work: Path) -> Path:
    """Where the grid keeps its trained evaluation ``reader`` or AV ``expert``: named by a key over
    the reader's config, the render settings, the data and the code that trains it."""
    cfg = config.reader if kind == "reader" else config.expert
    return work / f"{kind}-{_key(kind, cfg, config)}.pt"


def _fit_resumable(
    model: LipReader,
    batch: Callable[[int], Batch],
    steps: int,
    lr: float,
    on_step: Callable[[int, dict[str, float]], None],
    gen: torch.Generator,
    partial: Path,
    stop: Callable[[], bool] | None,
    checkpoint_seconds: float | None,
    bar: Any,
) -> None:
    """``lipread_expert.fit``'s loop (AdamW, warm-up over the first 10 % of steps, cosine, clip 5),
    resumable: its state (step, model, optimizer, schedule, batch generator, torch RNG) goes to
    ``partial`` every ``checkpoint_seconds`` and when ``stop()`` turns true after a step (then
    :class:`talkbench.training.animator.StopTraining`-like :class:`ReaderStopped` is raised); a later
    call resumes there and ends with the weights of an uninterrupted run. ``partial`` is removed at
    the end."""
    import time

    from lipread_expert import make_optimizer, make_scheduler, train_step

    from .checkpoint import capture_rng, load_training_state, restore_rng, save_training_state

    optimizer = make_optimizer(model, lr=lr)
    scheduler = make_scheduler(optimizer, max(1, steps // 10), steps)
    first = 0
    if partial.is_file():
        state = load_training_state(partial, "cpu", "a partial reader checkpoint")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        restore_rng(state["rng"])
        first = int(state["step"])
        bar.update(first)

    def save(step: int) -> None:
        save_training_state(
            partial,
            {
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": gen.get_state(),
                "rng": capture_rng(),
            },
        )

    saved = time.monotonic()
    for step in range(first, steps):
        on_step(step, train_step(model, batch(step), optimizer, scheduler, 5.0))
        if stop is not None and stop():
            save(step + 1)
            raise ReaderStopped(f"reader training stopped after step {step + 1}; state saved to {partial}")
        if checkpoint_seconds is not None and time.monotonic() - saved >= checkpoint_seconds:
            save(step + 1)
            saved = time.monotonic()
    partial.unlink(missing_ok=True)


class ReaderStopped(Exception):
    """A reader's training stopped at a step boundary on request (its state is saved)."""


def _train(
    kind: str,
    cfg: ExpertConfig | ReaderConfig,
    modality: str,
    samples: list[Sample],
    config: BenchConfig,
    work: Path,
    progress: bool,
    log: Callable[[str], None],
    train: bool = True,
    stop: Callable[[], bool] | None = None,
    checkpoint_seconds: float | None = None,
) -> TrainedReader:
    tok = make_tokenizer(cfg)
    path = reader_path(kind, config, work)  # type: ignore[arg-type]
    if path.is_file():
        model, _ = load_checkpoint(path)
        log(f"{kind}: reusing {path}")
        return TrainedReader(model, tok, path, file_sha256(path))
    if not train:
        raise FileNotFoundError(
            f"{path}: the grid's {kind} is not trained yet; its task `{kind}` runs first "
            f"(talkbench status --preset {config.name} shows it)"
        )
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

    _fit_resumable(
        model,
        batch,
        cfg.steps,
        cfg.lr,
        on_step,
        gen,
        path.with_suffix(".partial.pt"),
        stop,
        checkpoint_seconds,
        bar,
    )
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


def load_shipped(name: str, key: str = "reader.judge") -> TrainedReader:
    """The shipped reader ``name`` (:mod:`talkbench.shipped_readers`) as a :class:`TrainedReader` in
    eval mode, frozen (sha256 checked against its manifest)."""
    manifest = shipped_manifest(name, key)
    path = shipped_path(name)
    if not path.is_file():
        raise ShippedReaderError(f"{path}: the checkpoint of {key} {name!r} is missing; reinstall talkbench")
    sha = file_sha256(path)
    if sha != manifest["sha256"]:
        raise ShippedReaderError(
            f"{path}: sha256 {sha[:12]}… differs from its manifest's {manifest['sha256'][:12]}…; "
            f"the file was altered: reinstall talkbench or retrain it with `talkbench reader train {name}`"
        )
    model, _ = load_checkpoint(path)
    model.eval()
    model.requires_grad_(False)
    return TrainedReader(model, CharTokenizer(), path, sha)


def train_expert(
    config: BenchConfig,
    work: Path,
    progress: bool = False,
    log: Callable[[str], None] = print,
    train: bool = True,
    stop: Callable[[], bool] | None = None,
    checkpoint_seconds: float | None = None,
) -> TrainedReader:
    """Stage 1 of AV guidance: the expert on GT renders of ``config.expert.source`` (+ audio).
    With ``train`` False an expert that is not trained yet raises ``FileNotFoundError``."""
    cfg = config.expert
    if cfg.pretrained is not None:
        expert: TrainedReader = load_shipped(cfg.pretrained, "expert.pretrained")
        log(f"expert: the shipped pretrained expert {cfg.pretrained} ({expert.sha256[:12]}…)")
        return expert
    samples: list[Sample] = []
    for part in cfg.source.split("+"):
        samples += load_split(config, part)
    if cfg.max_utterances is not None:
        samples = samples[: cfg.max_utterances]
    return _train(
        "expert", cfg, cfg.modality, samples, config, work, progress, log, train, stop, checkpoint_seconds
    )


def train_eval_reader(
    config: BenchConfig,
    work: Path,
    progress: bool = False,
    log: Callable[[str], None] = print,
    train: bool = True,
    stop: Callable[[], bool] | None = None,
    checkpoint_seconds: float | None = None,
) -> TrainedReader:
    """The independent video-only evaluation reader, on GT renders of the training split; frozen.
    With ``train`` False a reader that is not trained yet raises ``FileNotFoundError``."""
    cfg = config.reader
    if cfg.judge is not None:
        judge: TrainedReader = load_shipped(cfg.judge, "reader.judge")
        log(f"reader: the shipped judge {cfg.judge} ({judge.sha256[:12]}…)")
        return judge
    samples = load_split(config, "train", limit=cfg.max_utterances)
    reader = _train(
        "reader", cfg, "video", samples, config, work, progress, log, train, stop, checkpoint_seconds
    )
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
                expert.model,
                expert.tokenizer,
                video=v,
                audio=a,
                video_lengths=b.video_lengths,
                audio_lengths=b.audio_lengths,
            )
    return {
        name: {"cer": float(char_error_rate(texts, h)), "wer": float(word_error_rate(texts, h))}
        for name, h in hyps.items()
        if h
    }
