"""VOCASET: the raw release files, the processed layout, and a raw → processed converter.

Raw release (voca.is.tue.mpg.de, "Training Data")::

    data_verts.npy        (N, 5023, 3) registered FLAME meshes, metres, 60 fps; memory-mapped read-only
    subj_seq_to_idx.pkl   subject -> sentence ("sentence01".."sentence40") -> {frame index: row of data_verts}
    raw_audio_fixed.pkl   subject -> sentence -> {"audio": 1-D array, "sample_rate": int}   (latin1 pickle)
    templates.pkl         subject -> (5023, 3) neutral mesh                                   (latin1 pickle)

Every pickle goes through :func:`facial_metrics.safe_pickle.load_restricted_pickle`. The processed
layout is the one written by FaceFormer's ``process_voca_data.py``: ``vertices_npy/<subject>_<sentence>.npy``
``(T60, 15069)`` plus ``wav/<subject>_<sentence>.wav`` at the original rate plus ``templates.pkl``. Both
readers give 30 fps motion by keeping every second frame (``[::2]``, the protocol's ``gt_stride``) and
the official 8/2/2 subject split with sentences 1–40 (train) and 21–40 (val, test).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from facial_metrics.safe_pickle import load_restricted_pickle

from .audio_io import to_mono_16k
from .checks import DEFAULT_MAX_MISMATCH_S, DataError, check_vertices, truncate_pair
from .processed import ProcessedDataset, load_templates, read_faces
from .sample import Sample
from .splits import split_spec
from .transcripts import TranscriptSource, sentence_number

__all__ = ["FLAME_VERTICES", "RawVocaset", "VocasetRawDataset", "convert_vocaset", "vocaset_dataset"]

FLAME_VERTICES = 5023
TOPOLOGY = "flame-5023"


def _faces_near(root: Path, faces_path: str | os.PathLike[str] | None) -> np.ndarray | None:
    if faces_path is not None:
        return read_faces(faces_path)
    for cand in (root / "FLAME_sample.ply", root / "templates" / "FLAME_sample.ply"):
        if cand.is_file():
            return read_faces(cand)
    return None


def vocaset_dataset(
    root: str | os.PathLike[str],
    split: str,
    *,
    transcripts: str | os.PathLike[str] | None = None,
    faces_path: str | os.PathLike[str] | None = None,
    max_mismatch_s: float = DEFAULT_MAX_MISMATCH_S,
) -> ProcessedDataset:
    """A split (``"train"``, ``"val"``, ``"test"``) of processed VOCASET at 30 fps.

    ``faces_path`` (or ``<root>/FLAME_sample.ply``) gives the triangles; ``transcripts`` is a folder of
    ``<subject>.txt`` files (one line per sentence) or a single shared file.
    """
    root = Path(root)
    return ProcessedDataset(
        root,
        split_spec("vocaset", split),
        faces=_faces_near(root, faces_path),
        transcripts=transcripts,
        max_mismatch_s=max_mismatch_s,
    )


class RawVocaset:
    """Reader of the raw VOCASET release files (see the module docstring)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        verts_path = self.root / "data_verts.npy"
        if not verts_path.is_file():
            raise FileNotFoundError(
                f"{verts_path}: not found; expected the raw VOCASET release in {self.root}"
            )
        try:
            self.data_verts = np.load(verts_path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{verts_path}: not a readable .npy array ({exc})") from exc
        if self.data_verts.ndim != 3 or self.data_verts.shape[1:] != (FLAME_VERTICES, 3):
            raise DataError(f"{verts_path}: expected (N, {FLAME_VERTICES}, 3), got {self.data_verts.shape}")
        self.verts_path = verts_path
        self.index_path = self.root / "subj_seq_to_idx.pkl"
        self.audio_path = self.root / "raw_audio_fixed.pkl"
        self.templates_path = self.root / "templates.pkl"
        self.index = self._mapping(
            load_restricted_pickle(self.index_path, encoding="latin1"), self.index_path
        )
        self.raw_audio = self._mapping(
            load_restricted_pickle(self.audio_path, encoding="latin1"), self.audio_path
        )
        self.templates = load_templates(self.templates_path, FLAME_VERTICES)

    @staticmethod
    def _mapping(data: Any, path: Path) -> dict[str, dict[str, Any]]:
        if not isinstance(data, dict):
            raise DataError(f"{path}: expected a dict subject -> sentence -> ..., got {type(data).__name__}")
        out: dict[str, dict[str, Any]] = {}
        for subj, seqs in data.items():
            s = subj.decode("latin1") if isinstance(subj, bytes) else str(subj)
            if not isinstance(seqs, dict):
                raise DataError(f"{path}: entry {s!r} is not a dict of sentences")
            out[s] = {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in seqs.items()}
        return out

    def sequences(self) -> Iterator[tuple[str, str]]:
        """``(subject, sentence)`` pairs that have vertices, sorted."""
        for subject in sorted(self.index):
            for sentence in sorted(self.index[subject]):
                yield subject, sentence

    def vertices_60fps(self, subject: str, sentence: str) -> np.ndarray:
        """``(T60, 5023, 3)`` rows of ``data_verts`` in frame-index order."""
        try:
            frames = self.index[subject][sentence]
        except KeyError:
            raise DataError(f"{self.index_path}: no entry for {subject}/{sentence}") from None
        if not isinstance(frames, dict) or not frames:
            raise DataError(
                f"{self.index_path}: {subject}/{sentence} must map frame index -> row, got {frames!r:.80}"
            )
        rows = np.array([int(frames[k]) for k in sorted(frames)], dtype=np.int64)
        if rows.min() < 0 or rows.max() >= self.data_verts.shape[0]:
            raise DataError(
                f"{self.index_path}: {subject}/{sentence} points at row {int(rows.max())}, but "
                f"{self.verts_path} has {self.data_verts.shape[0]} rows"
            )
        return np.asarray(self.data_verts[rows])

    def audio_raw(self, subject: str, sentence: str) -> tuple[np.ndarray, int]:
        """The stored waveform and its sample rate."""
        try:
            entry = self.raw_audio[subject][sentence]
            audio, rate = np.asarray(entry["audio"]), int(entry["sample_rate"])
        except (KeyError, TypeError, ValueError):
            raise DataError(
                f"{self.audio_path}: no usable {{'audio', 'sample_rate'}} entry for {subject}/{sentence}"
            ) from None
        return audio, rate


class VocasetRawDataset(Dataset[Sample]):
    """A split of VOCASET read directly from the raw release files, at 30 fps (``[::2]``)."""

    def __init__(
        self,
        root: str | os.PathLike[str] | RawVocaset,
        split: str,
        *,
        transcripts: str | os.PathLike[str] | None = None,
        faces_path: str | os.PathLike[str] | None = None,
        max_mismatch_s: float = DEFAULT_MAX_MISMATCH_S,
    ) -> None:
        self.raw = root if isinstance(root, RawVocaset) else RawVocaset(root)
        self.spec = split_spec("vocaset", split)
        self.faces = _faces_near(self.raw.root, faces_path)
        self.transcripts = TranscriptSource(transcripts) if transcripts is not None else None
        self.max_mismatch_s = max_mismatch_s
        self.items = [(s, q) for s, q in self.raw.sequences() if self.spec.accepts(s, sentence_number(q))]
        have = set(self.items)
        fmt = self.spec.sentence_format or "sentence{:02d}"
        self.missing = [
            f"{s}_{fmt.format(n)}"
            for s in self.spec.subjects
            for n in (self.spec.sentences or ())
            if (s, fmt.format(n)) not in have
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Sample:
        subject, sentence = self.items[index]
        if subject not in self.raw.templates:
            raise DataError(f"{self.raw.templates_path}: no template for subject {subject!r}")
        template = self.raw.templates[subject]
        src = f"{self.raw.verts_path} [{subject}/{sentence}]"
        verts = check_vertices(
            self.raw.vertices_60fps(subject, sentence)[:: self.spec.gt_stride], FLAME_VERTICES, src
        )
        audio, rate = self.raw.audio_raw(subject, sentence)
        audio = to_mono_16k(audio, rate, source=f"{self.raw.audio_path} [{subject}/{sentence}]")
        verts, audio = truncate_pair(verts, audio, self.spec.fps, src, self.max_mismatch_s)
        return Sample(
            subject=subject,
            sentence=sentence,
            vertices=verts,
            template=template,
            audio=audio,
            fps=self.spec.fps,
            topology=TOPOLOGY,
            faces=self.faces,
            transcript=self.transcripts.get(subject, sentence) if self.transcripts else None,
            speaker_index=self.spec.speaker_index(subject),
        )


def convert_vocaset(
    raw_root: str | os.PathLike[str],
    out_root: str | os.PathLike[str],
    progress: bool = False,
) -> int:
    """Write the processed layout from the raw release; returns the number of sequences written.

    Vertices keep the 60 fps capture rate and the flat ``(T60, 15069)`` float32 layout, audio keeps its
    original rate (as FaceFormer's ``process_voca_data.py``); the loaders subsample to 30 fps.
    ``templates.pkl`` is validated and copied byte for byte.
    """
    import soundfile as sf
    from tqdm import tqdm

    from ..progress import progress_enabled

    raw = RawVocaset(raw_root)
    out = Path(out_root)
    (out / "vertices_npy").mkdir(parents=True, exist_ok=True)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    seqs = list(raw.sequences())
    n = 0
    for subject, sentence in tqdm(
        seqs, desc="convert VOCASET", disable=not (progress and progress_enabled())
    ):
        name = f"{subject}_{sentence}"
        verts = check_vertices(
            raw.vertices_60fps(subject, sentence), FLAME_VERTICES, f"{raw.verts_path} [{name}]"
        )
        audio, rate = raw.audio_raw(subject, sentence)
        to_mono_16k(audio, rate, source=f"{raw.audio_path} [{name}]")  # validates the waveform
        vtmp = out / "vertices_npy" / f"{name}.tmp.npy"
        np.save(vtmp, verts.reshape(verts.shape[0], -1))
        os.replace(vtmp, out / "vertices_npy" / f"{name}.npy")
        wtmp = out / "wav" / f"{name}.tmp.wav"
        subtype = "PCM_16" if audio.dtype == np.int16 else "FLOAT"
        sf.write(str(wtmp), audio, rate, subtype=subtype, format="WAV")
        os.replace(wtmp, out / "wav" / f"{name}.wav")
        n += 1
    shutil.copyfile(raw.templates_path, out / "templates.pkl")
    return n
