"""Which sequences form a split: subjects and sentence numbers, from a facial-metrics protocol."""

from __future__ import annotations

from dataclasses import dataclass

from facial_metrics.protocols import Protocol, get_protocol

__all__ = ["SPLITS", "SplitSpec", "split_spec"]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    """Subjects and sentence numbers of one split of one protocol.

    ``sentences`` is ``None`` when every sentence present on disk belongs to the split.
    ``train_subjects`` orders the style (speaker) indices.
    """

    protocol: str
    split: str
    subjects: tuple[str, ...]
    sentences: tuple[int, ...] | None
    fps: float
    gt_stride: int
    topology: str
    train_subjects: tuple[str, ...]
    sentence_format: str | None

    def speaker_index(self, subject: str) -> int:
        """Position of ``subject`` among the training subjects, ``-1`` for unseen speakers."""
        return self.train_subjects.index(subject) if subject in self.train_subjects else -1

    def accepts(self, subject: str, number: int) -> bool:
        return subject in self.subjects and (self.sentences is None or number in self.sentences)


def split_spec(protocol: str | Protocol, split: str) -> SplitSpec:
    """The :class:`SplitSpec` of ``split`` (``"train"``, ``"val"``, ``"test"``) under ``protocol``."""
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    rng = getattr(proto, f"{split}_sentences")
    return SplitSpec(
        protocol=proto.name,
        split=split,
        subjects=tuple(getattr(proto, f"{split}_subjects")),
        sentences=None if rng is None else tuple(rng.numbers()),
        fps=float(proto.fps),
        gt_stride=int(proto.gt_stride),
        topology=proto.topology,
        train_subjects=tuple(proto.train_subjects),
        sentence_format=proto.sentence_format,
    )
