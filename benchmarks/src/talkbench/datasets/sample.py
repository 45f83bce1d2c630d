"""The one sample type shared by every dataset (VOCASET, BIWI, the synthetic corpus).

Conventions (docs/architecture, DESIGN section 3): vertices ``float32 (T, V, 3)`` at the dataset's
frame rate in its native units, template ``(V, 3)``, faces ``int64 (F, 3)``, mono ``float32`` audio
at 16 kHz, alignments as lists of ``(label, start_s, end_s)`` (phones in ARPAbet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AUDIO_RATE", "Sample", "Segment"]

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
        albedo: ``float32 (V, 3)`` per-vertex colour of the topology for renders, when it has one
            (the synthetic head's parts: skin, lips, teeth, tongue, mouth cavity, eyes).
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
    albedo: np.ndarray | None = None

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
