"""Generation of the synthetic talking-face corpus ``synth`` (deterministic from a seed).

Layout written under ``root`` (the processed VOCASET layout plus what the corpus knows exactly)::

    corpus.json                          manifest: seed, sizes, topology, speakers (voice + style), sequences
    templates.pkl                        dict speaker -> (V, 3) float32 neutral face (plain pickle)
    faces.npy, <topology>.ply            the topology
    albedo.npy                           (V, 3) float32 per-vertex albedo of the renders (synth-head-v2 only)
    masks/lips.txt, masks/upper_face.txt vertex ids (comma separated, 0-based), masks/masks.json (hashes)
    vertices_npy/<spk>_sNNN.npy          (T, V*3) float32, 30 fps, metres (synth-face-v1)
    units/<spk>_sNNN.npy                 (T, 52) float32 face-unit weights (synth-head-v2, instead of
                                         vertices: template + weights @ units, rebuilt on load)
    wav/<spk>_sNNN.wav                   16 kHz mono PCM-16
    alignments/<spk>_sNNN.json           word and ARPAbet phone timings from the synthesiser's events
    params/<spk>_sNNN.npy                (T, C) rig-channel values (``synth-face-v1``: the 13 of
                                         rig.CHANNELS; ``synth-head-v2``: the 14 of head_rig.HEAD_CHANNELS)
    transcripts/<spk>.txt                one line per sentence number
    pool/...                             the same layout for the lip-reader pool (``<spk>_pNNN``)

Topologies: ``synth-face-v1`` (the procedural face of :mod:`.face` and its rig :mod:`.rig`) or
``synth-head-v2`` (the shipped CC0 human head of :mod:`.head`, its face units driven by
:mod:`.head_rig`, speakers' heads from :mod:`.head_identity`). Both share the speakers' voices,
sentences, styles and random draws; only the face and what drives it differ.

Speakers ``synth01``–``synth12``: train 01–08, val 09–10, test 11–12 (protocol ``synth`` of
facial-metrics). The pool re-uses the training speakers 01–08 with fresh sentences, so the
validation and test speakers stay unseen by every trained component.

Every random draw comes from ``numpy.random.default_rng([seed, ...])`` keyed by what it decides
(speaker, sequence, pool or not). eSpeak NG's waveform generator keeps state from one utterance to
the next (pitch-cycle phase, flutter), which shifts later utterances by a few samples and is not
reset by ``espeak_Initialize``. The speakers are therefore split into two fixed groups (odd and even
numbers), each generated in order by a fresh worker process (``multiprocessing`` spawn, one task per
process; the groups run in parallel when ``workers`` is 2), so the files depend only on the seed and
the corpus size, not on the calling process's history or the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import queue
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..alignment_io import save_alignment
from ..audio_io import write_wav
from ..sample import AUDIO_RATE
from .coarticulation import CoarticulationStyle
from .face import TOPOLOGY, build_face, identity_shape
from .grammar import sample_sentence
from .head import HEAD_TOPOLOGY
from .motion import SpeakerStyle, utterance_params
from .rig import CHANNELS, build_rig
from .speech import Voice, synthesize_sentence
from .topologies import TOPOLOGIES

__all__ = [
    "CORPUS_VERSION",
    "FPS",
    "SIZES",
    "TOPOLOGIES",
    "CorpusSize",
    "SpeakerSpec",
    "generate_corpus",
    "speakers",
]

CORPUS_VERSION = 1
FPS = 30.0
NUM_SPEAKERS = 12
POOL_SPEAKERS = tuple(f"synth{i:02d}" for i in range(1, 9))
_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")


@dataclass(frozen=True)
class CorpusSize:
    """Sentences per speaker in the train/val/test sequences, and per pool speaker in the pool."""

    sentences_per_speaker: int
    pool_per_speaker: int


#: ``tiny`` for unit tests, ``smoke`` for CI, ``default`` for the main job.
SIZES: dict[str, CorpusSize] = {
    "tiny": CorpusSize(1, 1),
    "smoke": CorpusSize(4, 4),
    "default": CorpusSize(30, 40),
}


@dataclass(frozen=True)
class SpeakerSpec:
    """A synthetic speaker: eSpeak voice and articulation / expression style."""

    name: str
    split: str
    voice: Voice
    style: SpeakerStyle


def _split_of(index: int) -> str:
    return "train" if index <= 8 else ("val" if index <= 10 else "test")


def speakers(seed: int) -> list[SpeakerSpec]:
    """The 12 speakers of the corpus for ``seed``: voice variant, rate, pitch and style."""
    order = np.random.default_rng([seed, 0]).permutation(len(_VARIANTS))
    out = []
    for i in range(1, NUM_SPEAKERS + 1):
        rng = np.random.default_rng([seed, 1, i])
        voice = Voice(
            name=f"en-us+{_VARIANTS[order[i - 1]]}",
            rate=int(rng.integers(150, 196)),
            pitch=int(rng.integers(35, 66)),
            pitch_range=int(rng.integers(30, 71)),
        )
        coart = CoarticulationStyle(
            theta_anticipatory=float(rng.uniform(16, 30)),
            theta_carryover=float(rng.uniform(20, 34)),
            gains=tuple(float(g) for g in rng.uniform(0.75, 1.25, size=6)),
            lead_s=float(rng.uniform(0.0, 0.04)),
        )
        style = SpeakerStyle(
            coart, expressivity=float(rng.uniform(0.7, 1.3)), blink_rate=float(rng.uniform(0.2, 0.5))
        )
        out.append(SpeakerSpec(name=f"synth{i:02d}", split=_split_of(i), voice=voice, style=style))
    return out


def _write_layout_dirs(root: Path, topology: str) -> None:
    motion = "units" if topology == HEAD_TOPOLOGY else "vertices_npy"
    for sub in (motion, "wav", "alignments", "params", "transcripts"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _make_sequence(
    root: Path,
    spk: SpeakerSpec,
    template: np.ndarray,
    sentence_id: str,
    rng: np.random.Generator,
    topology: str = TOPOLOGY,
) -> dict[str, Any]:
    sentence = sample_sentence(rng)
    utt = synthesize_sentence(sentence, spk.voice, seed=int(rng.integers(2**31)))
    num_frames = int(np.floor(utt.audio.shape[0] * FPS / AUDIO_RATE))
    head = topology == HEAD_TOPOLOGY
    params = utterance_params(utt.phones, sentence.mood, num_frames, FPS, spk.style, rng, tongue=head)
    name = f"{spk.name}_{sentence_id}"
    if head:
        from .head_rig import build_head_rig

        weights = build_head_rig().unit_weights(params, template)
        _save_npy(root / "units" / f"{name}.npy", weights)
    else:
        verts = build_rig().apply(template, params)
        _save_npy(root / "vertices_npy" / f"{name}.npy", verts.reshape(num_frames, -1).astype(np.float32))
    _save_npy(root / "params" / f"{name}.npy", params)
    write_wav(root / "wav" / f"{name}.wav", utt.audio)
    save_alignment(
        root / "alignments" / f"{name}.json",
        utt.words,
        utt.phones,
        transcript=sentence.text,
        source="espeak-ng synthesiser events",
        espeak_phonemes=[list(p) for p in utt.espeak_phonemes],
    )
    return {
        "name": name,
        "subject": spk.name,
        "sentence": sentence_id,
        "split": spk.split,
        "mood": sentence.mood,
        "transcript": sentence.text,
        "num_frames": num_frames,
        "duration_s": round(utt.duration_s, 4),
    }


_Task = tuple[Path, SpeakerSpec, np.ndarray, int, int, CorpusSize, bool, str]


def _speaker_task(task: _Task, ticks: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """All sequences of one speaker; one item goes on ``ticks`` (if given) per finished sequence."""
    out, spk, template, i, seed, sz, in_pool, topology = task
    main: list[dict[str, Any]] = []
    for n in range(1, sz.sentences_per_speaker + 1):
        rng = np.random.default_rng([seed, 3, i, n])
        main.append(_make_sequence(out, spk, template, f"s{n:03d}", rng, topology))
        if ticks is not None:
            ticks.put(1)
    pool: list[dict[str, Any]] = []
    if in_pool:
        for n in range(1, sz.pool_per_speaker + 1):
            rng = np.random.default_rng([seed, 4, i, n])
            entry = _make_sequence(out / "pool", spk, template, f"p{n:03d}", rng, topology)
            entry["split"] = "pool"
            pool.append(entry)
            if ticks is not None:
                ticks.put(1)
    return main, pool


def _group_task(args: tuple[list[_Task], Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The speakers of one group, in order (run in a fresh process: see the module docstring).

    One item is put on the ``ticks`` queue per finished sequence (for the progress bar).
    """
    group, ticks = args
    main: list[dict[str, Any]] = []
    pool: list[dict[str, Any]] = []
    for task in group:
        m, p = _speaker_task(task, ticks)
        main.extend(m)
        pool.extend(p)
    return main, pool


def _write_masks(root: Path, face_regions: dict[str, np.ndarray], topology: str) -> dict[str, Any]:
    from facial_metrics import RegionMask

    (root / "masks").mkdir(exist_ok=True)
    meta: dict[str, Any] = {}
    for name, idx in face_regions.items():
        mask = RegionMask.from_indices(name, topology, idx)
        (root / "masks" / f"{name}.txt").write_text(
            ",".join(str(int(i)) for i in mask.indices) + "\n", encoding="utf-8"
        )
        meta[name] = {"topology": topology, "file": f"{name}.txt", "count": len(mask), "sha256": mask.sha256}
    (root / "masks" / "masks.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def generate_corpus(
    root: str | os.PathLike[str],
    seed: int = 0,
    size: str | CorpusSize = "default",
    progress: bool = False,
    workers: int | None = None,
    topology: str = TOPOLOGY,
) -> dict[str, Any]:
    """Generate the corpus under ``root`` and return its manifest (also written to ``corpus.json``).

    ``workers`` (1 or 2; default: the CPU count, at most 2) processes generate the two speaker groups.
    ``topology``: one of :data:`TOPOLOGIES`.
    """
    from tqdm import tqdm

    from .albedo import vertex_albedo

    if topology not in TOPOLOGIES:
        raise ValueError(f"unknown synthetic topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")
    sz = SIZES[size] if isinstance(size, str) else size
    out = Path(root)
    pool = out / "pool"
    _write_layout_dirs(out, topology)
    _write_layout_dirs(pool, topology)
    spks = speakers(seed)
    if topology == HEAD_TOPOLOGY:
        from .head import load_head
        from .head_identity import head_identity_shape
        from .head_rig import HEAD_CHANNELS

        head = load_head()
        mesh_vertices, mesh_faces, channels = head.vertices, head.faces, HEAD_CHANNELS
        regions = {"lips": head.region("lips"), "upper_face": head.region("upper_face")}
        templates = {
            s.name: head_identity_shape(head, np.random.default_rng([seed, 2, i + 1]))
            for i, s in enumerate(spks)
        }
    else:
        face = build_face()
        mesh_vertices, mesh_faces, channels = face.vertices, face.faces, CHANNELS
        regions = {"lips": face.region("lips"), "upper_face": face.region("upper_face")}
        templates = {
            s.name: identity_shape(face, np.random.default_rng([seed, 2, i + 1])) for i, s in enumerate(spks)
        }
    with open(out / "templates.pkl", "wb") as fh:
        pickle.dump(templates, fh, protocol=2)
    with open(pool / "templates.pkl", "wb") as fh:
        pickle.dump({k: templates[k] for k in POOL_SPEAKERS}, fh, protocol=2)
    np.save(out / "faces.npy", mesh_faces)
    if topology == HEAD_TOPOLOGY:
        np.save(out / "albedo.npy", vertex_albedo(topology))
    _export_ply(out / f"{topology}.ply", mesh_vertices, mesh_faces, topology)
    masks = _write_masks(out, regions, topology)

    groups = [
        [
            (out, spk, templates[spk.name], i, seed, sz, spk.name in POOL_SPEAKERS, topology)
            for i, spk in enumerate(spks, start=1)
            if i % 2 == parity
        ]
        for parity in (1, 0)
    ]
    sequences: list[dict[str, Any]] = []
    pool_sequences: list[dict[str, Any]] = []
    n_workers = max(1, min(workers if workers is not None else (os.cpu_count() or 1), len(groups)))
    total = sum(sz.sentences_per_speaker + (sz.pool_per_speaker if t[6] else 0) for g in groups for t in g)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ctx.Pool(n_workers, maxtasksperchild=1) as procs:
        ticks = manager.Queue()
        pending = procs.map_async(_group_task, [(g, ticks) for g in groups])
        with tqdm(total=total, desc="synth corpus", unit="seq", disable=not progress) as bar:
            while not pending.ready() or not ticks.empty():
                try:
                    ticks.get(timeout=0.2)
                    bar.update(1)
                except queue.Empty:
                    pass
        for main_entries, pool_entries in pending.get():
            sequences.extend(main_entries)
            pool_sequences.extend(pool_entries)
    sequences.sort(key=lambda e: e["name"])
    pool_sequences.sort(key=lambda e: e["name"])
    for where, entries in ((out, sequences), (pool, pool_sequences)):
        by_spk: dict[str, list[str]] = {}
        for e in entries:
            by_spk.setdefault(e["subject"], []).append(e["transcript"])
        for name, lines in by_spk.items():
            (where / "transcripts" / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    manifest = {
        "corpus": "synth",
        "version": CORPUS_VERSION,
        "seed": seed,
        "size": asdict(sz) | {"name": size if isinstance(size, str) else "custom"},
        "topology": topology,
        "num_vertices": int(mesh_vertices.shape[0]),
        "num_faces": int(mesh_faces.shape[0]),
        "fps": FPS,
        "audio_rate": AUDIO_RATE,
        "units": "metres",
        "channels": list(channels),
        "masks": masks,
        "pool_speakers": list(POOL_SPEAKERS),
        "speakers": [
            {"name": s.name, "split": s.split, "voice": asdict(s.voice), "style": asdict(s.style)}
            for s in spks
        ],
        "sequences": sequences,
        "pool": pool_sequences,
    }
    if topology == HEAD_TOPOLOGY:
        manifest["motion"] = {
            "folder": "units",
            "content": "face-unit weights (T, 52) in [0, 1]; vertices = template + weights @ units",
            "units": list(head.unit_names),
            "head_sha256": _head_sha256(),
        }
    tmp = out / "corpus.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(tmp, out / "corpus.json")
    return manifest


def _head_sha256() -> str:
    from .head import HEAD_TOPOLOGY, SHIPPED_HEAD

    prov = SHIPPED_HEAD.with_name(f"{HEAD_TOPOLOGY}.provenance.json")
    return str(json.loads(prov.read_text(encoding="utf-8"))["sha256"])


def _export_ply(path: Path, vertices: np.ndarray, faces: np.ndarray, topology: str) -> None:
    """ASCII PLY (vertices + triangles) readable by trimesh, MeshLab, Blender."""
    lines = [
        "ply",
        "format ascii 1.0",
        f"comment {topology}",
        f"element vertex {len(vertices)}",
        "property float x",
        "property float y",
        "property float z",
        f"element face {len(faces)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    lines += [f"{x:.7f} {y:.7f} {z:.7f}" for x, y, z in vertices]
    lines += [f"3 {a} {b} {c}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
