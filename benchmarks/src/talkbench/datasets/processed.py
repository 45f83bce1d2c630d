"""The processed layout shared by VOCASET, BIWI (CodeTalker preprocessing) and the synthetic corpus.

::

    <root>/vertices_npy/<subject>_<sentence>.npy   (T, V*3) or (T, V, 3) vertices at the capture rate
    <root>/wav/<subject>_<sentence>.wav            audio at any rate / channel count
    <root>/templates.pkl                           dict subject -> (V, 3) neutral mesh (latin1 pickle)
    <root>/alignments/<subject>_<sentence>.json    optional word/phone timings (see alignment.py)

Vertices are subsampled as ``[::gt_stride]`` (VOCASET 60 → 30 fps), audio is read once as 16 kHz
mono, and the pair is cut by the truncation rule of :mod:`talkbench.datasets.checks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from facial_metrics.safe_pickle import load_restricted_pickle

from .alignment_io import load_alignment, save_alignment
from .audio_io import load_audio
from .checks import DEFAULT_MAX_MISMATCH_S, DataError, check_template, check_vertices, truncate_pair
from .sample import Sample
from .splits import SplitSpec
from .transcripts import TranscriptSource, sentence_number

__all__ = ["ProcessedDataset", "load_alignment", "load_npy", "load_templates", "read_faces", "save_alignment"]

_NAME = re.compile(r"^(?P<subject>.+)_(?P<sentence>[A-Za-z]*\d+)$")


def load_templates(path: str | os.PathLike[str], num_vertices: int | None = None) -> dict[str, np.ndarray]:
    """Read ``templates.pkl`` (dict subject → (V, 3)) through the restricted unpickler."""
    p = Path(path)
    data: Any = load_restricted_pickle(p, encoding="latin1")
    if not isinstance(data, dict) or not data:
        raise DataError(
            f"{p}: expected a non-empty dict subject -> (V, 3) template, got {type(data).__name__}"
        )
    out: dict[str, np.ndarray] = {}
    for key, value in data.items():
        name = key.decode("latin1") if isinstance(key, bytes) else str(key)
        out[name] = check_template(value, f"{p} [{name!r}]", num_vertices)
    return out


def read_faces(path: str | os.PathLike[str]) -> np.ndarray:
    """Triangle list ``int64 (F, 3)`` of a mesh file (``.ply``/``.obj`` through trimesh, or ``faces.npy``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"topology file not found: {p}")
    if p.suffix == ".npy":
        faces = np.load(p, allow_pickle=False)
    else:
        import trimesh

        try:
            mesh = trimesh.load(str(p), process=False, force="mesh")
        except Exception as exc:  # trimesh raises many types for malformed files
            raise DataError(f"{p}: cannot read mesh ({type(exc).__name__}: {exc})") from exc
        faces = np.asarray(mesh.faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.shape[0] == 0:
        raise DataError(f"{p}: expected a triangle list (F, 3), got shape {faces.shape}")
    return faces.astype(np.int64)


def load_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Memory-map a ``.npy`` array (no pickles); errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"vertex file not found: {p}")
    try:
        return np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{p}: not a readable .npy array ({exc})") from exc


class ProcessedDataset(Dataset[Sample]):
    """A split of a processed-layout dataset (see the module docstring).

    Args:
        root: dataset folder.
        spec: the split (subjects, sentence numbers, fps, stride, topology); see
            :func:`talkbench.datasets.splits.split_spec`.
        faces: ``(F, 3)`` triangle list of the topology, if known.
        transcripts: a transcript file or folder (see :class:`TranscriptSource`), optional.
        templates_path: defaults to ``<root>/templates.pkl``.
        max_mismatch_s: tolerance of the audio/motion duration check.
        attributes: optional ``name -> dict`` of extra labels per sequence.

    Sequences of the split that are absent from ``vertices_npy/`` are listed in :attr:`missing`
    (the VOCASET release lacks a few); a vertex file without its wav is an error naming the wav.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        spec: SplitSpec,
        *,
        faces: np.ndarray | None = None,
        transcripts: str | os.PathLike[str] | TranscriptSource | None = None,
        templates_path: str | os.PathLike[str] | None = None,
        max_mismatch_s: float = DEFAULT_MAX_MISMATCH_S,
        attributes: dict[str, dict[str, Any]] | None = None,
        vertex_loader: Callable[[Path], np.ndarray] | None = None,
    ) -> None:
        self.root = Path(root)
        self.spec = spec
        self.faces = faces
        self.max_mismatch_s = max_mismatch_s
        self.attributes = attributes or {}
        vdir, self.wav_dir = self.root / "vertices_npy", self.root / "wav"
        if not vdir.is_dir():
            raise FileNotFoundError(
                f"{vdir}: folder not found; expected the processed layout <root>/vertices_npy/"
            )
        tpath = Path(templates_path) if templates_path is not None else self.root / "templates.pkl"
        self.templates = load_templates(tpath)
        self.templates_path = tpath
        if transcripts is None or isinstance(transcripts, TranscriptSource):
            self.transcripts = transcripts
        else:
            self.transcripts = TranscriptSource(transcripts)
        self._load_vertices = vertex_loader or load_npy

        self.items: list[tuple[str, str, Path]] = []
        present: set[tuple[str, int]] = set()
        for path in sorted(vdir.glob("*.npy")):
            m = _NAME.match(path.stem)
            if not m:
                continue
            subject, sentence = m["subject"], m["sentence"]
            number = sentence_number(sentence)
            if not spec.accepts(subject, number):
                continue
            if spec.sentence_format is not None and sentence != spec.sentence_format.format(number):
                continue
            if subject not in self.templates:
                raise DataError(f"{tpath}: no template for subject {subject!r} (needed by {path})")
            wav = self.wav_dir / f"{path.stem}.wav"
            if not wav.is_file():
                raise DataError(f"{wav}: audio file missing for {path}")
            present.add((subject, number))
            self.items.append((subject, sentence, path))
        self.missing: list[str] = []
        if spec.sentences is not None and spec.sentence_format is not None:
            for subject in spec.subjects:
                for n in spec.sentences:
                    if (subject, n) not in present:
                        self.missing.append(f"{subject}_{spec.sentence_format.format(n)}")

    def __len__(self) -> int:
        return len(self.items)

    @property
    def names(self) -> list[str]:
        return [p.stem for _, _, p in self.items]

    def __getitem__(self, index: int) -> Sample:
        subject, sentence, vpath = self.items[index]
        template = self.templates[subject]
        raw = self._load_vertices(vpath)
        verts = check_vertices(raw[:: self.spec.gt_stride], template.shape[0], str(vpath))
        wav = self.wav_dir / f"{vpath.stem}.wav"
        audio = load_audio(wav)
        verts, audio = truncate_pair(verts, audio, self.spec.fps, f"{vpath} / {wav}", self.max_mismatch_s)
        words = phones = None
        transcript = self.transcripts.get(subject, sentence) if self.transcripts is not None else None
        apath = self.root / "alignments" / f"{vpath.stem}.json"
        if apath.is_file():
            words, phones, meta = load_alignment(apath)
            transcript = transcript or meta.get("transcript")
        return Sample(
            subject=subject,
            sentence=sentence,
            vertices=verts,
            template=template,
            audio=audio,
            fps=self.spec.fps,
            topology=self.spec.topology,
            faces=self.faces,
            transcript=transcript,
            words=words,
            phones=phones,
            speaker_index=self.spec.speaker_index(subject),
            attributes=dict(self.attributes.get(vpath.stem, {})),
        )

    def validate(self) -> None:
        """Load every sequence once, raising on the first bad file."""
        for i in range(len(self)):
            self[i]
