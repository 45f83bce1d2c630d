"""The one sample type shared by every dataset (VOCASET, BIWI, the synthetic corpus) and batching.

Conventions (docs/architecture, DESIGN section 3): vertices ``float32 (T, V, 3)`` at the dataset's
frame rate in its native units, template ``(V, 3)``, faces ``int64 (F, 3)``, mono ``float32`` audio
at 16 kHz, alignments as lists of ``(label, start_s, end_s)`` (phones in ARPAbet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["AUDIO_RATE", "Batch", "Sample", "Segment", "collate_samples"]

#: Sample rate of every waveform handed out by a loader.
AUDIO_RATE = 16_000

#: ``(label, start_s, end_s)``: one word or phone of an alignment.
Segment = tuple[str, float, float]


@dataclass
class Sample:
    """One utterance of one subject.

    Attributes:
        subject: subject / speaker name (e.g. ``"FaceTalk_170728_03272_TA"``, ``"F2"``, ``"synth01"``).
        sentence: sentence id as named on disk (``"sentence01"``, ``"e37"``, ``"s001"``).
        vertices: ``float32 (T, V, 3)`` at ``fps``.
        template: ``float32 (V, 3)`` neutral face of the subject.
        audio: mono ``float32 (S,)`` waveform at :data:`AUDIO_RATE`.
        fps: motion frame rate.
        topology: topology id (``"flame-5023"``, ``"biwi-23370"``, ``"synth-face-v1"``).
        faces: ``int64 (F, 3)`` triangle list of the topology, when known.
        transcript: the spoken sentence, when known.
        words / phones: alignments ``[(label, start_s, end_s), ...]``, when known.
        speaker_index: index of the subject in the protocol's training-subject list, or ``-1`` for
            a subject outside it (unseen test speakers).
        attributes: extra per-utterance labels (the synthetic corpus stores its mood here).
    """

    subject: str
    sentence: str
    vertices: np.ndarray
    template: np.ndarray
    audio: np.ndarray
    fps: float
    topology: str
    faces: np.ndarray | None = None
    transcript: str | None = None
    words: list[Segment] | None = None
    phones: list[Segment] | None = None
    speaker_index: int = -1
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``"<subject>_<sentence>"``, the file stem used by the processed layouts."""
        return f"{self.subject}_{self.sentence}"

    @property
    def num_frames(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def duration_s(self) -> float:
        """Duration of the motion, ``T / fps``."""
        return self.num_frames / self.fps


@dataclass
class Batch:
    """Padded batch of samples. Padding is zeros; ``*_lengths`` give the valid sizes.

    Attributes:
        vertices: ``(B, T_max, V, 3)``; ``vertex_lengths`` ``(B,)`` int64 frame counts.
        templates: ``(B, V, 3)``.
        audio: ``(B, S_max)``; ``audio_lengths`` ``(B,)`` int64 sample counts.
        speaker_index: ``(B,)`` int64.
        samples: the original samples (transcripts, alignments, names).
    """

    vertices: torch.Tensor
    vertex_lengths: torch.Tensor
    templates: torch.Tensor
    audio: torch.Tensor
    audio_lengths: torch.Tensor
    speaker_index: torch.Tensor
    fps: float
    samples: list[Sample]

    @property
    def transcripts(self) -> list[str | None]:
        return [s.transcript for s in self.samples]

    def frame_mask(self) -> torch.Tensor:
        """Boolean ``(B, T_max)``, true on valid frames."""
        t = torch.arange(self.vertices.shape[1])
        return t[None, :] < self.vertex_lengths[:, None]

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            vertices=self.vertices.to(device),
            vertex_lengths=self.vertex_lengths.to(device),
            templates=self.templates.to(device),
            audio=self.audio.to(device),
            audio_lengths=self.audio_lengths.to(device),
            speaker_index=self.speaker_index.to(device),
            fps=self.fps,
            samples=self.samples,
        )


def collate_samples(samples: list[Sample]) -> Batch:
    """Pad a list of samples into a :class:`Batch` (``collate_fn`` for ``torch.utils.data.DataLoader``).

    All samples must share the frame rate and the vertex count; otherwise ``ValueError`` names the
    offending sample.
    """
    if not samples:
        raise ValueError("collate_samples: empty list of samples")
    first = samples[0]
    n_vert = first.template.shape[0]
    for s in samples:
        if s.fps != first.fps:
            raise ValueError(f"collate_samples: {s.name} has fps {s.fps}, {first.name} has {first.fps}")
        if s.template.shape[0] != n_vert or s.vertices.shape[1] != n_vert:
            raise ValueError(
                f"collate_samples: {s.name} has {s.vertices.shape[1]} vertices, {first.name} has {n_vert}; "
                "batch samples of one topology only"
            )
    t_max = max(s.num_frames for s in samples)
    s_max = max(int(s.audio.shape[0]) for s in samples)
    b = len(samples)
    verts = torch.zeros(b, t_max, n_vert, 3, dtype=torch.float32)
    audio = torch.zeros(b, s_max, dtype=torch.float32)
    for i, s in enumerate(samples):
        verts[i, : s.num_frames] = torch.from_numpy(np.ascontiguousarray(s.vertices, dtype=np.float32))
        audio[i, : s.audio.shape[0]] = torch.from_numpy(np.ascontiguousarray(s.audio, dtype=np.float32))
    templates = torch.stack([torch.from_numpy(np.ascontiguousarray(s.template, dtype=np.float32)) for s in samples])
    return Batch(
        vertices=verts,
        vertex_lengths=torch.tensor([s.num_frames for s in samples], dtype=torch.int64),
        templates=templates,
        audio=audio,
        audio_lengths=torch.tensor([s.audio.shape[0] for s in samples], dtype=torch.int64),
        speaker_index=torch.tensor([s.speaker_index for s in samples], dtype=torch.int64),
        fps=float(first.fps),
        samples=list(samples),
    )
