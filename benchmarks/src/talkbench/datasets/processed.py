"""The processed layout shared by VOCASET, BIWI (CodeTalker preprocessing) and the synthetic corpus.

::

    <root>/vertices_npy/<subject>_<sentence>.npy   (T, V*3) or (T, V, 3) vertices at the capture rate
    <root>/wav/<subject>_<sentence>.wav            audio at any rate / channel count
    <root>/templates.pkl                           dict subject -> (V, 3) neutral mesh (latin1 pickle)
    <root>/alignments/<subject>_<sentence>.json    optional word/phone timings (see alignment.py)

Vertices are subsampled as ``[::gt_stride]`` (VOCASET 60 → 30 fps), audio is read once as 16 kHz
mono, and the pair is cut by the truncation rule of :mod:`talkbench.datasets.checks`.

An alignment must belong to the wav beside it: when it records the wav's ``audio_sha256`` or
``audio_duration_s`` they must match, and no timing may end more than
:data:`ALIGNMENT_TOLERANCE_S` after the end of the audio; otherwise :class:`DataError` names both
files (a replaced wav needs a new alignment: ``talkbench data align --force``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from facial_metrics.safe_pickle import load_restricted_pickle
from facial_metrics.text import normalize_transcript

from .alignment_io import load_alignment, save_alignment
from .audio_io import load_audio
from .checks import DEFAULT_MAX_MISMATCH_S, DataError, check_template, check_vertices, truncate_pair
from .sample import AUDIO_RATE, Sample
from .splits import SplitSpec
from .transcripts import TranscriptSource, sentence_number

__all__ = [
    "ALIGNMENT_TOLERANCE_S",
    "ProcessedDataset",
    "check_alignment",
    "load_alignment",
    "load_npy",
    "load_templates",
    "read_faces",
    "save_alignment",
]

_NAME = re.compile(r"^(?P<subject>.+)_(?P<sentence>[A-Za-z]*\d+)$")
#: how far (s) an alignment's last timing or recorded duration may exceed / differ from its audio
ALIGNMENT_TOLERANCE_S = 0.05


def check_alignment(
    apath: Path,
    wav: Path,
    num_samples: int,
    words: list[Any],
    phones: list[Any],
    meta: dict[str, Any],
    rate: int = AUDIO_RATE,
) -> None:
    """Refuse an alignment made for other audio than ``wav`` (hash, duration or timings disagree)."""
    digest = meta.get("audio_sha256")
    if digest:
        actual = hashlib.sha256(wav.read_bytes()).hexdigest()
        if actual != digest:
            raise DataError(
                f"{apath}: made for audio with sha256 {str(digest)[:12]}…, but {wav} has sha256 "
                f"{actual[:12]}…; the wav was replaced: re-align it (talkbench data align --force)"
            )
    duration = num_samples / rate
    recorded = meta.get("audio_duration_s")
    if recorded is not None and abs(float(recorded) - duration) > ALIGNMENT_TOLERANCE_S:
        raise DataError(
            f"{apath}: made for {float(recorded):.3f} s of audio, but {wav} lasts {duration:.3f} s; "
            "re-align it (talkbench data align --force)"
        )
    ends = [float(seg[2]) for seg in (*words, *phones)]
    if ends and max(ends) > duration + ALIGNMENT_TOLERANCE_S:
        raise DataError(
            f"{apath}: timings end at {max(ends):.3f} s, but {wav} lasts {duration:.3f} s; the "
            "alignment belongs to other audio: re-align it (talkbench data align --force)"
        )


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
        albedo: ``(V, 3)`` per-vertex colour of the topology for renders, if it has one.
        vertex_dir: the folder under ``root`` whose ``<subject>_<sentence>.npy`` files name the
            sequences and are read by ``vertex_loader`` (``vertices_npy``; the synthetic head stores
            face-unit weights in ``units`` and rebuilds the vertices on load).
        transcripts: a transcript file or folder (see :class:`TranscriptSource`), optional. Every
            transcript (this file or an alignment's) is normalised with
            :func:`facial_metrics.text.normalize_transcript`, as the text metrics normalise.
        templates_path: defaults to ``<root>/templates.pkl``.
        max_mismatch_s: tolerance of the audio/motion duration check.
        attributes: optional ``name -> dict`` of extra labels per sequence.
        expected: names (``<subject>_<sentence>``) of every sequence the layout should hold (the
            synthetic corpus's manifest); those of this split that are absent are :attr:`missing`.

    Sequences of the split that are absent from ``vertices_npy/`` are listed in :attr:`missing`
    (the VOCASET release lacks a few; the split's sentence numbers, or ``expected``, say what should
    be there); a vertex file without its wav is an error naming the wav.
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
        expected: Iterable[str] | None = None,
        albedo: np.ndarray | None = None,
        vertex_dir: str = "vertices_npy",
    ) -> None:
        self.root = Path(root)
        self.spec = spec
        self.faces = faces
        self.albedo = albedo
        self.max_mismatch_s = max_mismatch_s
        self.attributes = attributes or {}
        vdir, self.wav_dir = self.root / vertex_dir, self.root / "wav"
        if not vdir.is_dir():
            raise FileNotFoundError(
                f"{vdir}: folder not found; expected the processed layout <root>/{vertex_dir}/"
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
        if expected is not None:
            found = {p.stem for _, _, p in self.items}
            for name in sorted(set(expected)):
                m = _NAME.match(name)
                if m is None:
                    raise DataError(f"expected sequence name {name!r} is not <subject>_<sentence>")
                accepted = spec.accepts(m["subject"], sentence_number(m["sentence"]))
                if accepted and name not in found and name not in self.missing:
                    self.missing.append(name)

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
        num_samples = int(audio.shape[0])
        verts, audio = truncate_pair(verts, audio, self.spec.fps, f"{vpath} / {wav}", self.max_mismatch_s)
        words = phones = None
        transcript = self.transcripts.get(subject, sentence) if self.transcripts is not None else None
        apath = self.root / "alignments" / f"{vpath.stem}.json"
        if apath.is_file():
            words, phones, meta = load_alignment(apath)
            check_alignment(apath, wav, num_samples, words, phones, meta)
            transcript = transcript or meta.get("transcript")
        if transcript is not None:
            # one normalisation for tokenizers, readers and metrics (case, punctuation, spacing)
            transcript = normalize_transcript(transcript)
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
            albedo=self.albedo,
        )

    def validate(self) -> None:
        """Load every sequence once, raising on the first bad file."""
        for i in range(len(self)):
            self[i]
