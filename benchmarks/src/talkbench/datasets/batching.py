"""Variable-length batching of :class:`~talkbench.datasets.sample.Sample` objects (zero padding + lengths)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .sample import Sample

__all__ = ["Batch", "collate_samples"]


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
    templates = torch.stack(
        [torch.from_numpy(np.ascontiguousarray(s.template, dtype=np.float32)) for s in samples]
    )
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
