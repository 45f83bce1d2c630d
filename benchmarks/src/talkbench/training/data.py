"""Data for the benchmark: the corpus on disk, its splits in memory, its content hash, animator batches."""

from __future__ import annotations

import hashlib
import json
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facial_animator import AnimatorInput

from ..config import BenchConfig
from ..datasets import Sample, biwi_dataset, synth_dataset, vocaset_dataset
from ..datasets.checks import DataError
from ..datasets.synth import load_synth_masks
from ..datasets.synth.topologies import SYNTH_PROTOCOLS, synth_protocol_of

__all__ = [
    "benchmark_batch",
    "check_masks_path",
    "dataset_hash",
    "ensure_corpus",
    "load_masks",
    "load_split",
    "masks_path",
    "to_animator_input",
    "window_transcript",
]


_SILENCE = ("sil", "sp", "<sil>", "")


def window_transcript(words: list[tuple[str, float, float]], t0: float, t1: float) -> str:
    """The transcript of the window ``[t0, t1)`` s: the words whose midpoint lies inside it, normalised
    as every transcript the harness hands on (:func:`facial_metrics.text.normalize_transcript`)."""
    from facial_metrics.text import normalize_transcript

    kept = (w for w, s0, e0 in words if t0 <= 0.5 * (s0 + e0) < t1 and w.lower() not in _SILENCE)
    return normalize_transcript(" ".join(kept))


def ensure_corpus(config: BenchConfig, progress: bool = False) -> Path:
    """The data root; the synthetic corpus is generated there first when missing and allowed."""
    root = Path(config.data.root)
    synth = config.data.protocol in SYNTH_PROTOCOLS
    if (root / "corpus.json").is_file() and synth:
        from ..datasets.synth.dataset import load_manifest

        found = str(load_manifest(root).get("topology"))
        if found != SYNTH_PROTOCOLS[config.data.protocol]:
            raise DataError(
                f"{root / 'corpus.json'}: the corpus is on {found} (protocol {synth_protocol_of(found)}), "
                f"but data.protocol is {config.data.protocol!r}; set data.root to another folder, or "
                f"data.protocol={synth_protocol_of(found)}"
            )
    if (root / "corpus.json").is_file() or not synth:
        if not root.exists():
            raise FileNotFoundError(
                f"{root}: dataset folder not found (data.root of config {config.name!r}); "
                "see docs/reproducing.md for the VOCASET / BIWI layouts"
            )
        check_masks_path(config)  # before any work: the region masks of a real-data protocol
        return root
    if not config.data.generate:
        raise FileNotFoundError(
            f"{root}: no corpus.json and data.generate is false; run `talkbench data synth {root}`"
        )
    from ..datasets.synth.corpus import SIZES, CorpusSize, generate_corpus

    d = config.data
    size: str | CorpusSize = d.corpus_size
    if d.corpus_sentences is not None or d.corpus_pool is not None:
        base = SIZES[d.corpus_size]
        size = CorpusSize(
            d.corpus_sentences or base.sentences_per_speaker,
            base.pool_per_speaker if d.corpus_pool is None else d.corpus_pool,
        )
    topology = SYNTH_PROTOCOLS[d.protocol]
    generate_corpus(root, seed=d.corpus_seed, size=size, progress=progress, topology=topology)
    return root


def _dataset(config: BenchConfig, split: str):
    root = Path(config.data.root)
    proto = config.data.protocol
    if proto in SYNTH_PROTOCOLS:
        return synth_dataset(root, split)
    if proto == "vocaset":
        return vocaset_dataset(root, split)
    return biwi_dataset(root, split, test_set=proto[-1].upper())


@lru_cache(maxsize=16)
def _load_split_cached(
    root: str, protocol: str, split: str, key: str, limit: int | None, allow_missing: bool = False
) -> tuple[Sample, ...]:
    del key  # part of the cache key only
    from ..config import BenchConfig as _BC  # noqa: F401 - keeps the signature hashable

    ds = _DATASET_FACTORY[protocol](Path(root), split)
    if ds.missing and not allow_missing:
        shown = ", ".join(ds.missing[:5]) + (", ..." if len(ds.missing) > 5 else "")
        raise DataError(
            f"{root}: the {split} split of {protocol} lacks {len(ds.missing)} sequence(s) ({shown}); "
            "restore them, or set data.allow_missing=true to run without them"
        )
    n = len(ds) if limit is None else min(limit, len(ds))
    return tuple(ds[i] for i in range(n))


_DATASET_FACTORY: dict[str, Any] = {
    "synth": synth_dataset,
    "synth-head": synth_dataset,
    "vocaset": vocaset_dataset,
    "biwi-test-a": lambda root, split: biwi_dataset(root, split, test_set="A"),
    "biwi-test-b": lambda root, split: biwi_dataset(root, split, test_set="B"),
}


def load_split(config: BenchConfig, split: str, limit: int | None = None) -> list[Sample]:
    """Samples of ``split`` (``train``, ``val``, ``test``, ``pool``), the first ``limit`` in dataset order.

    A split that lacks sequences (``missing`` of its dataset) raises :class:`DataError` unless
    ``data.allow_missing`` is set.
    """
    root = Path(config.data.root)
    key = dataset_hash(config)
    return list(
        _load_split_cached(str(root), config.data.protocol, split, key, limit, config.data.allow_missing)
    )


def dataset_hash(config: BenchConfig) -> str:
    """sha256 identifying the dataset content.

    Synthetic corpus: its manifest (``corpus.json``: seed, sizes, every sequence) and mask hashes,
    which determine every generated file. Real data: names and sizes of every file under the root.
    """
    root = Path(config.data.root)
    h = hashlib.sha256()
    manifest = root / "corpus.json"
    if manifest.is_file():
        h.update(manifest.read_bytes())
        masks = root / "masks" / "masks.json"
        if masks.is_file():
            h.update(masks.read_bytes())
        return h.hexdigest()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(root).as_posix()}\0{f.stat().st_size}\0".encode())
    return h.hexdigest()


#: the BIWI region files (CodeTalker ``BIWI/regions/``) and the protocol mask each one holds
BIWI_REGION_FILES: dict[str, str] = {"lips": "lve.txt", "upper_face": "fdd.txt"}


def masks_path(config: BenchConfig) -> Path | None:
    """The absolute path of the region masks of a real-data protocol (``data.masks``), ``None`` for synth.

    ``data.masks`` unset: ``<data.root>/FLAME_masks.pkl`` (VOCASET) or ``<data.root>/regions``
    (BIWI, a folder holding ``lve.txt`` and ``fdd.txt``).
    """
    proto = config.data.protocol
    if proto in SYNTH_PROTOCOLS:
        return None
    if config.data.masks is not None:
        return Path(config.data.masks).expanduser().resolve()
    root = Path(config.data.root)
    return (root / ("FLAME_masks.pkl" if proto == "vocaset" else "regions")).resolve()


def _mask_error(config: BenchConfig, path: Path, problem: str) -> DataError:
    preset = config.name if config.name in ("paper-vocaset", "paper-biwi") else "<preset>"
    if config.data.protocol == "vocaset":
        what, example = "the FLAME region pickle FLAME_masks.pkl", "/path/to/FLAME_masks.pkl"
    else:
        what = "the folder of the BIWI region files lve.txt and fdd.txt"
        example = "/path/to/BIWI/regions"
    source = "data.masks"
    if config.data.masks is None:
        source += " (unset: its default under data.root)"
    return DataError(
        f"{path}: {problem} ({source} must name {what}); "
        f"run e.g. `talkbench run --preset {preset} data.masks={example}`"
    )


def check_masks_path(config: BenchConfig) -> Path | None:
    """Fail early (:class:`DataError` naming ``data.masks``) when a real-data protocol's masks are absent."""
    path = masks_path(config)
    if path is None:
        return None
    if config.data.protocol == "vocaset":
        if not path.is_file():
            raise _mask_error(config, path, "not found" if not path.exists() else "not a file")
        return path
    if not path.is_dir():
        raise _mask_error(config, path, "folder not found" if not path.exists() else "not a folder")
    absent = [f for f in BIWI_REGION_FILES.values() if not (path / f).is_file()]
    if absent:
        raise _mask_error(config, path, f"lacks {' and '.join(absent)}")
    return path


def _read_masks(config: BenchConfig, path: Path) -> dict[str, Any]:
    from facial_metrics import get_protocol
    from facial_metrics.masks import load_flame_masks, load_index_file

    proto = get_protocol(config.data.protocol)
    try:
        if config.data.protocol == "vocaset":
            return load_flame_masks(path, topology=proto.topology)
        return {
            name: load_index_file(path / fname, name, proto.topology)
            for name, fname in BIWI_REGION_FILES.items()
        }
    except (OSError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise _mask_error(config, path, f"unreadable ({exc})") from None


def load_masks(config: BenchConfig) -> dict[str, Any]:
    """Region masks ``{"lip": RegionMask, "upper": RegionMask}`` of the protocol.

    ``synth``: the corpus's own masks. ``vocaset`` / ``biwi-test-*``: the user's region files at
    ``data.masks`` (see :func:`masks_path`), read with ``facial_metrics``' readers and resolved with
    the protocol's mask names (VOCASET: ``lips``, ``forehead+eye_region``; BIWI: ``lips``,
    ``upper_face``). A missing or invalid file raises :class:`DataError` naming ``data.masks``,
    the resolved path and the override to use.
    """
    from facial_metrics import get_protocol

    proto = get_protocol(config.data.protocol)
    if config.data.protocol in SYNTH_PROTOCOLS:
        masks = load_synth_masks(config.data.root)
        return {"lip": masks[proto.lip_mask], "upper": masks[proto.upper_mask]}
    path = check_masks_path(config)
    assert path is not None
    regions = _read_masks(config, path)
    try:
        return {"lip": proto.resolve_mask("lip", regions), "upper": proto.resolve_mask("upper", regions)}
    except (KeyError, ValueError) as exc:
        msg = exc.args[0] if exc.args else str(exc)
        raise _mask_error(config, path, f"does not fit protocol {proto.name}: {msg}") from None


def to_animator_input(
    sample: Sample,
    style: int | None = None,
    max_frames: int | None = None,
    start: int = 0,
    device: torch.device | str = "cpu",
) -> AnimatorInput:
    """One-item :class:`AnimatorInput` of ``sample`` (target, transcript and alignments included).

    ``max_frames`` crops a window of frames starting at ``start`` together with its audio
    (``16000 / fps`` samples per frame), shifts the alignments into the window and keeps as
    transcript the words whose midpoint lies in the window (so the AV expert's target matches).
    """
    verts = np.asarray(sample.vertices, dtype=np.float32)
    audio = np.asarray(sample.audio, dtype=np.float32)
    words, phones = sample.words, sample.phones
    transcript = sample.transcript or ""
    if max_frames is not None and sample.num_frames > max_frames:
        spf = 16000.0 / sample.fps
        verts = verts[start : start + max_frames]
        a0, a1 = round(start * spf), round((start + max_frames) * spf)
        audio = audio[a0:a1]
        t0, t1 = start / sample.fps, (start + max_frames) / sample.fps

        def shift(segs):
            if segs is None:
                return None
            return [(lab, max(s, t0) - t0, min(e, t1) - t0) for lab, s, e in segs if e > t0 and s < t1]

        if words is not None:
            transcript = window_transcript(words, t0, t1)
            # the word timings of the window: the same words as the transcript (silences kept)
            words = [
                w for w in words if w[0].lower() in _SILENCE or t0 <= 0.5 * (w[1] + w[2]) < t1
            ]
        words, phones = shift(words), shift(phones)
    s = sample.speaker_index if style is None else style
    if s < 0:
        raise ValueError(f"{sample.name}: speaker {sample.subject} is not a training subject; pass style=")
    return AnimatorInput(
        audio=torch.from_numpy(np.ascontiguousarray(audio))[None].to(device),
        template=torch.from_numpy(np.ascontiguousarray(sample.template, dtype=np.float32))[None].to(device),
        style=torch.tensor([s], dtype=torch.long, device=device),
        target=torch.from_numpy(np.ascontiguousarray(verts)).reshape(1, verts.shape[0], -1, 3).to(device),
        transcript=[transcript],
        words=[list(words)] if words is not None else None,
        phones=[list(phones)] if phones is not None else None,
        fps=float(sample.fps),
    )


def benchmark_batch(
    preset: str = "default", index: int = 0, overrides: tuple[str, ...] = ()
) -> AnimatorInput:
    """A ready training batch (one sequence of the training split) of a preset, for benchmarks.

    Generates the preset's corpus when missing (``data.root``; override it to use a scratch folder).
    """
    from ..config import load_config

    config = load_config(preset, overrides)
    ensure_corpus(config)
    samples = load_split(config, "train", limit=index + 1)
    return to_animator_input(samples[index], max_frames=config.training.max_frames)


def describe(config: BenchConfig) -> str:
    """One line: data root and split sizes (for logs)."""
    return json.dumps({"root": config.data.root, "protocol": config.data.protocol})
