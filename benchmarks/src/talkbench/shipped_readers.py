"""Lip readers trained once and shipped with the package: the evaluation judge and the AV expert.

Perceptual metrics of the field score every method with one fixed network (FID's Inception, LPIPS's
weights inside its package), so that numbers stay comparable across runs, machines and papers. The
synthetic presets do the same for CER / WER / VER: their evaluation reader is the **judge**
``synth-video-v1`` (``reader.judge`` of the preset), a ``lipread_expert`` ``tiny`` video-only reader
trained on ground-truth mouth renders of synthetic corpora that the benchmark never uses otherwise
(corpus seeds 101–103: 36 speakers, 2400 utterances, none a speaker of the presets' seed-0 corpus).

The AV-guidance **expert** ``synth-av-v1`` (``expert.pretrained``) stands where the paper puts its
pretrained auto-avsr model: a ``tiny`` audio-visual reader trained on another disjoint pool (corpus
seeds 201–203) with modality dropout (half the utterances of a batch have their audio zeroed), so
that it reads the lips and does not lean on the clean synthetic audio alone. The grid fine-tunes a copy
of it during AV guidance (``guidance.expert_trainable``) as the paper does.

Each is ``talkbench/shipped/<name>.pt`` with a manifest ``<name>.json`` (recipe, sha256, training
time, the readings it was checked at). Retrain one (byte-identical on the same CPU build of torch,
with the recipe's thread count)::

    talkbench reader train synth-video-v1
    talkbench reader check synth-video-v1 --write

A shipped reader reads renders made with exactly its recipe's render settings; a preset naming it
must use them (checked when the config loads).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from .config import RenderConfig
from .config import check_shipped_render as check_render
from .shipped_manifests import (
    SHIPPED_DIR,
    ShippedReaderError,
    list_shipped,
    shipped_manifest,
    shipped_path,
)
from .training.stage1 import load_shipped

__all__ = [
    "RECIPES",
    "SHIPPED_DIR",
    "ReaderRecipe",
    "ShippedReaderError",
    "check_render",
    "list_shipped",
    "load_shipped",
    "read_ground_truth",
    "shipped_manifest",
    "shipped_path",
    "train_shipped",
]

class ReaderRecipe(BaseModel):
    """Everything that determines a shipped reader's weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "synth-video-v1"
    modality: Literal["video", "audiovisual"] = "video"
    #: modality dropout (audio-visual only): probability that an utterance of a batch has its audio zeroed
    audio_dropout: float = 0.0
    #: synthetic corpora of the training pool: every utterance of every split and of the pool
    corpus_seeds: list[int] = Field(default_factory=lambda: [101, 102, 103])
    sentences_per_speaker: int = 40
    pool_per_speaker: int = 40
    preset: str = "tiny"
    steps: int = 3000
    batch_size: int = 8
    lr: float = 2e-3
    seed: int = 1
    torch_threads: int = 2
    #: variance floor of the audio layer norm the reader is trained (and reads) with; the shipped readers
    #: were trained with 1e-5 (``lipread_expert.LEGACY_AUDIO_NORM_EPS``), official ones use 1e-8
    audio_norm_eps: float = 1e-5
    #: the face of the pool corpora (protocol ``synth`` or ``synth-head``); manifests without it were
    #: trained on synth-face-v1
    topology: Literal["synth-face-v1", "synth-head-v2"] = "synth-face-v1"
    #: the render settings of the synthetic presets (a 44 px mouth window of a 112 px view)
    render: RenderConfig = Field(
        default_factory=lambda: RenderConfig(
            camera_scale=8.0, image_size=112, crop_size=48, out_size=44, blur_pixels=1.0, faces_per_pixel=2
        )
    )


_HEAD_RENDER = RenderConfig(
    camera_scale=11.0, image_size=112, crop_size=48, out_size=44, blur_pixels=1.0, faces_per_pixel=2
)

#: the recipes of the shipped readers
RECIPES: dict[str, ReaderRecipe] = {
    "synth-video-v1": ReaderRecipe(),
    "synth-av-v1": ReaderRecipe(
        name="synth-av-v1", modality="audiovisual", audio_dropout=0.5, corpus_seeds=[201, 202, 203], seed=2
    ),
    # the readers of synth-head-v2: the same recipes on the CC0 head, its mouth framed at camera scale
    # 11 (the head's lips are 50 mm wide: 33 px of the 44 px window, as synth-face-v1's at scale 8)
    "synth-video-v2": ReaderRecipe(name="synth-video-v2", topology="synth-head-v2", render=_HEAD_RENDER),
    "synth-av-v2": ReaderRecipe(
        name="synth-av-v2",
        modality="audiovisual",
        audio_dropout=0.5,
        corpus_seeds=[201, 202, 203],
        seed=2,
        topology="synth-head-v2",
        render=_HEAD_RENDER,
    ),
}


def _pool_config(recipe: ReaderRecipe, root: Path) -> Any:
    from .config import BenchConfig
    from .datasets.synth.topologies import synth_protocol_of

    return BenchConfig.model_validate(
        {
            "name": "reader-pool",
            "data": {"protocol": synth_protocol_of(recipe.topology), "root": str(root), "generate": True},
            "animators": [{"name": "FaceFormer", "registry": "faceformer"}],
            "render": recipe.render.model_dump(),
        }
    )


def _pool(
    recipe: ReaderRecipe, work: Path, progress: bool, log: Callable[[str], None]
) -> tuple[list[Any], list[Any], list[str]]:
    """Ground-truth renders, audio and transcripts of every utterance of the pool corpora."""
    from .datasets.synth.corpus import CorpusSize, generate_corpus
    from .renders import render_samples
    from .training.data import dataset_hash, load_masks, load_split

    videos: list[Any] = []
    audios: list[Any] = []
    texts: list[str] = []
    for seed in recipe.corpus_seeds:
        root = work / f"corpus-seed{seed}"
        if not (root / "corpus.json").is_file():
            size = CorpusSize(recipe.sentences_per_speaker, recipe.pool_per_speaker)
            generate_corpus(root, seed=seed, size=size, progress=progress, topology=recipe.topology)
        cfg = _pool_config(recipe, root)
        samples = [s for split in ("train", "val", "test", "pool") for s in load_split(cfg, split)]
        lips = load_masks(cfg)["lip"].indices
        videos += render_samples(
            samples, lips, recipe.render, work / "renders", dataset_hash(cfg), "pool", progress
        )
        texts += [s.transcript or "" for s in samples]
        if recipe.modality == "audiovisual":
            audios += [torch.from_numpy(s.audio.copy()) for s in samples]
        log(f"{recipe.name} pool: corpus seed {seed}, {len(samples)} utterances rendered")
        del samples  # a seed's samples (head vertices rebuilt from face units) are not held into the next
    return videos, audios, texts


def train_shipped(
    out_dir: Path,
    work: Path,
    recipe: ReaderRecipe | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train the reader of ``recipe``; write ``<out_dir>/<name>.pt`` and its manifest, and return it.

    The pool corpora and their renders are kept under ``work`` (reused when present).
    """
    from tqdm import tqdm

    from lipread_expert import Batch, CharTokenizer, LipReader, fit, save_checkpoint

    from .renders import input_spec_for
    from .results.curves import binned_curve
    from .seeding import seed_everything
    from .training.events import EventLog
    from .training.stage1 import file_sha256, pad_reader_batch

    recipe = recipe or ReaderRecipe()
    torch.set_num_threads(recipe.torch_threads)
    t0 = time.perf_counter()
    videos, audios, texts = _pool(recipe, Path(work), progress, log)
    t_pool = time.perf_counter() - t0
    tok = CharTokenizer()
    seed_everything(recipe.seed)
    spec = dataclasses.replace(input_spec_for(recipe.render), audio_norm_eps=recipe.audio_norm_eps)
    model = LipReader.from_preset(recipe.preset, recipe.modality, tok.vocab_size, input_spec=spec)
    gen = torch.Generator().manual_seed(recipe.seed)
    n = len(videos)

    def batch(step: int) -> Batch:
        idx = torch.randint(0, n, (recipe.batch_size,), generator=gen).tolist()
        b = pad_reader_batch(
            [videos[i] for i in idx],
            [texts[i] for i in idx],
            tok,
            [audios[i] for i in idx] if audios else None,
            model.input_spec.samples_per_frame,
        )
        if recipe.audio_dropout > 0 and b.audio is not None:
            drop = torch.rand(len(idx), generator=gen) < recipe.audio_dropout
            b.audio[drop] = 0.0
        return b

    t1 = time.perf_counter()
    bar = tqdm(total=recipe.steps, desc=f"train {recipe.name}", disable=not progress)
    last: dict[str, float] = {}
    history: list[dict[str, float]] = []
    events = EventLog(Path(work) / "tensorboard" / recipe.name, "train")

    def on_step(step: int, logs: dict[str, float]) -> None:
        last.update(logs)
        history.append(dict(logs))
        events.add(step + 1, logs)
        bar.update(1)
        if (step + 1) % 500 == 0:
            log(
                f"{recipe.name}: step {step + 1}, loss {logs['loss']:.3f}, accuracy {logs['accuracy']:.3f}, "
                f"{time.perf_counter() - t1:.0f} s"
            )

    t1 = time.perf_counter()  # training proper: the pool is ready
    fit(model, batch, steps=recipe.steps, lr=recipe.lr, on_step=on_step)
    bar.close()
    events.close()
    t_train = time.perf_counter() - t1
    model.eval()
    out_dir = Path(out_dir)
    path = save_checkpoint(out_dir / f"{recipe.name}.pt", model, step=recipe.steps, token_list=tok.token_list)
    manifest: dict[str, Any] = {
        "name": recipe.name,
        "file": path.name,
        "sha256": file_sha256(path),
        "parameters": sum(p.numel() for p in model.parameters()),
        "modality": recipe.modality,
        "tokenizer": "char",
        "recipe": recipe.model_dump(),
        "pool_utterances": n,
        "final_loss": round(last.get("loss", float("nan")), 4),
        "final_accuracy": round(last.get("accuracy", float("nan")), 4),
        # the learning curve: binned means of every logged term (talkbench.results.curves)
        "curve": binned_curve(history, recipe.seed, "reader").model_dump(mode="json"),
        "time_s": {"pool": round(t_pool, 1), "train": round(t_train, 1)},
        "torch": torch.__version__,
        "command": f"talkbench reader train {recipe.name}",
        "readings": {},
    }
    (out_dir / f"{recipe.name}.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    log(f"{recipe.name}: {n} utterances, {recipe.steps} steps in {t_train:.0f} s; wrote {path}")
    return manifest


def read_ground_truth(
    reader: Any, samples: list[Any], lip_indices: Any, render: RenderConfig, batch_size: int = 8
) -> dict[str, Any]:
    """CER / WER (``facial_metrics``, utterance mean) of ``reader`` on ground-truth renders of ``samples``."""
    import numpy as np

    from facial_metrics.text import char_error_rate, word_error_rate
    from lipread_expert import transcribe

    from .renders import render_mouth

    hyps: list[str] = []
    with torch.no_grad():
        for i in range(0, len(samples), batch_size):
            chunk = samples[i : i + batch_size]
            vids = []
            for s in chunk:
                v = torch.from_numpy(np.ascontiguousarray(s.vertices, dtype=np.float32))[None]
                faces = torch.from_numpy(np.asarray(s.faces, dtype=np.int64))
                vids.append(render_mouth(v, faces, lip_indices, s.fps, render, s.albedo)[0])
            lengths = torch.tensor([v.shape[0] for v in vids])
            video = torch.zeros(len(vids), int(lengths.max()), *vids[0].shape[1:])
            for j, v in enumerate(vids):
                video[j, : v.shape[0]] = v
            hyps += transcribe(
                reader.model, reader.tokenizer, video=video, video_lengths=lengths, method="greedy"
            )
    refs = [s.transcript or "" for s in samples]
    return {
        "cer": float(char_error_rate(refs, hyps)),
        "wer": float(word_error_rate(refs, hyps)),
        "utterances": len(samples),
        "hypotheses": hyps,
    }
