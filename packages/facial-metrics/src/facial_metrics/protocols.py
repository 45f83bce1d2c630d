"""Evaluation protocols as code: splits, frame rates, length rule, test conditions, report scales.

Every number in this module comes from ``reference/baselines.md`` §4 (splits, fps) and §5–6 (masks,
report scales), i.e. from the CodeTalker / FaceFormer code (CodeTalker ``main/cal_metric.py``,
``config/*/stage2.yaml``; FaceFormer ``main.py``). Results computed under different protocol names
must not be compared.

Report scale: a metric value ``x`` is displayed as ``x / report_scales[metric]`` under the header
``"<METRIC> (×<scale>)"``; e.g. a BIWI LVE of ``5.3e-4`` is shown as ``5.30`` in a ``×10⁻⁴`` column.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from .masks import RegionMask

__all__ = ["LengthRule", "Protocol", "SentenceRange", "TestCondition", "get_protocol", "list_protocols"]

TestCondition = Literal["own_style", "all_train_styles"]
LengthRule = Literal["error", "truncate_to_gt", "truncate_to_shorter"]


@dataclass(frozen=True)
class SentenceRange:
    """Inclusive range ``first..last`` of sentence numbers (1-based, as in the dataset file names)."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if not 1 <= self.first <= self.last:
            raise ValueError(f"invalid sentence range {self.first}..{self.last}")

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self.first <= number <= self.last

    def numbers(self) -> tuple[int, ...]:
        return tuple(range(self.first, self.last + 1))


def _frozen(d: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    Attributes:
        name: protocol id (``"vocaset"``, ``"biwi-test-a"``, ``"biwi-test-b"``, ``"synth"``,
            ``"synth-head"``).
        dataset: dataset name (``"vocaset"``, ``"biwi"``, ``"synth"``).
        topology: mesh topology id; masks must be of this topology.
        fps: motion rate at which metrics are computed.
        gt_stride: ground truth is subsampled as ``gt[::gt_stride]`` before comparison (VOCASET: 2,
            60 fps capture → 30 fps).
        train_subjects / val_subjects / test_subjects: speaker ids per split; the style index of a
            speaker is its position in ``train_subjects``.
        train_sentences / val_sentences / test_sentences: sentence numbers per split, ``None`` = every
            sentence the corpus holds for the speaker.
        sentence_format: how a sentence number appears in file names (``"e{:02d}"`` → ``e37``), or
            ``None`` when the corpus names its sentences itself.
        test_condition: ``"own_style"`` (test speakers were seen in training; condition on their own
            style) or ``"all_train_styles"`` (unseen speakers; evaluate once per training style and
            average, FaceFormer's convention).
        length_rule: how a prediction / GT length mismatch is resolved (see
            :func:`facial_metrics.vertex_core.align_lengths`): ``"truncate_to_gt"`` cuts a longer
            prediction to the GT length and rejects a shorter one (CodeTalker ``cal_metric.py``).
        report_scales: metric key → scale of the reported column.
        units: metric key → unit of the raw value.
        lip_mask / upper_mask: names of the region masks for LVE and FDD on ``topology``; a name
            ``"a+b"`` means the union of masks ``a`` and ``b`` (see :meth:`resolve_mask`).
        mask_sources: mask name → where the index data comes from.
        notes: provenance and caveats.
    """

    name: str
    dataset: str
    topology: str
    fps: float
    gt_stride: int
    train_subjects: tuple[str, ...]
    val_subjects: tuple[str, ...]
    test_subjects: tuple[str, ...]
    train_sentences: SentenceRange | None
    val_sentences: SentenceRange | None
    test_sentences: SentenceRange | None
    sentence_format: str | None
    test_condition: TestCondition
    length_rule: LengthRule
    report_scales: Mapping[str, float]
    units: Mapping[str, str]
    lip_mask: str
    upper_mask: str
    mask_sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    notes: str = ""

    def style_subjects(self, subject: str) -> tuple[str, ...]:
        """Training speakers whose styles condition ``subject`` at test time, per ``test_condition``."""
        if self.test_condition == "own_style":
            if subject not in self.train_subjects:
                raise ValueError(
                    f"protocol {self.name}: {subject!r} is not a training subject, so it has no own style"
                )
            return (subject,)
        return self.train_subjects

    def style_index(self, subject: str) -> int:
        """Position of ``subject`` in ``train_subjects`` (its one-hot style index)."""
        try:
            return self.train_subjects.index(subject)
        except ValueError:
            raise ValueError(f"protocol {self.name}: {subject!r} is not a training subject") from None

    def split_of(self, subject: str) -> str:
        """``"train"``, ``"val"`` or ``"test"`` for a speaker (test wins for Test-A's shared speakers)."""
        for split in ("test", "val", "train"):
            if subject in getattr(self, f"{split}_subjects"):
                return split
        raise ValueError(f"protocol {self.name}: unknown subject {subject!r}")

    def report(self, metric: str, value: float) -> float:
        """``value / report_scales[metric]`` (the number shown in a table)."""
        if metric not in self.report_scales:
            raise KeyError(
                f"protocol {self.name} has no report scale for {metric!r}; "
                f"known: {sorted(self.report_scales)}"
            )
        return value / self.report_scales[metric]

    def resolve_mask(self, which: Literal["lip", "upper"], masks: Mapping[str, RegionMask]) -> RegionMask:
        """Pick the lip or upper-face :class:`~facial_metrics.masks.RegionMask` from ``masks``.

        ``"a+b"`` names are built as the union of ``masks["a"]`` and ``masks["b"]``.
        """
        name = self.lip_mask if which == "lip" else self.upper_mask
        parts = name.split("+")
        missing = [p for p in parts if p not in masks]
        if missing:
            raise KeyError(f"protocol {self.name}: mask(s) {missing} not provided; have {sorted(masks)}")
        result = masks[parts[0]]
        for part in parts[1:]:
            result = result.union(masks[part])
        if result.topology != self.topology:
            raise ValueError(
                f"protocol {self.name}: mask {name!r} is for {result.topology!r}, not {self.topology!r}"
            )
        return result


_VOCASET_TRAIN = (
    "FaceTalk_170728_03272_TA", "FaceTalk_170904_00128_TA", "FaceTalk_170725_00137_TA",
    "FaceTalk_170915_00223_TA", "FaceTalk_170811_03274_TA", "FaceTalk_170913_03279_TA",
    "FaceTalk_170904_03276_TA", "FaceTalk_170912_03278_TA",
)
_BIWI_TRAIN = ("F2", "F3", "F4", "M3", "M4", "M5")
_BIWI_UNSEEN = ("F1", "F5", "F6", "F7", "F8", "M1", "M2", "M6")

# lip-sync metrics (mtm.py, slcc.py, loc.py) are dataset-independent: ms and correlations, shown ×1
_TEXT_SCALES = {"cer": 1e-2, "wer": 1e-2, "ver": 1e-2, "mtm": 1.0, "slcc": 1.0, "loc": 1.0}
_TEXT_UNITS = {
    "cer": "fraction", "wer": "fraction", "ver": "fraction",
    "mtm": "ms", "slcc": "correlation", "loc": "correlation",
}

_FLAME_SCALES = _frozen({"lve": 1e-5, "fdd": 1e-7, "mve": 1e-3, **_TEXT_SCALES})
_FLAME_UNITS = _frozen({"lve": "m²", "fdd": "m²", "mve": "m", **_TEXT_UNITS})
_BIWI_SCALES = _frozen({"lve": 1e-4, "fdd": 1e-5, "mve": 1e-3, **_TEXT_SCALES})
_BIWI_UNITS = _frozen(
    {"lve": "normalised-unit²", "fdd": "normalised-unit²", "mve": "normalised-unit", **_TEXT_UNITS}
)
_BIWI_MASKS = _frozen(
    {
        "lips": "CodeTalker BIWI/regions/lve.txt (4996 ids)",
        "upper_face": "CodeTalker BIWI/regions/fdd.txt (7784 ids)",
    }
)

_PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            name="vocaset", dataset="vocaset", topology="flame-5023", fps=30.0, gt_stride=2,
            train_subjects=_VOCASET_TRAIN,
            val_subjects=("FaceTalk_170811_03275_TA", "FaceTalk_170908_03277_TA"),
            test_subjects=("FaceTalk_170809_00138_TA", "FaceTalk_170731_00024_TA"),
            train_sentences=SentenceRange(1, 40), val_sentences=SentenceRange(21, 40),
            test_sentences=SentenceRange(21, 40), sentence_format="sentence{:02d}",
            test_condition="all_train_styles", length_rule="truncate_to_gt",
            report_scales=_FLAME_SCALES, units=_FLAME_UNITS,
            lip_mask="lips", upper_mask="forehead+eye_region",
            mask_sources=_frozen({
                "lips": "FLAME_masks.pkl 'lips' (254 ids; SelfTalk / DiffSpeaker)",
                "forehead+eye_region": "union of FLAME_masks.pkl 'forehead' and 'eye_region'",
            }),
            notes=(
                "Split shared by FaceFormer, CodeTalker, SelfTalk, FaceDiffuser. VOCASET masks are not "
                "standardised across papers; LVE is comparable only with the same mask "
                "(see docs/metrics.md). "
                "MVE scale (1e-3, i.e. mm) is this project's choice; no published convention."
            ),
        ),
        Protocol(
            name="biwi-test-a", dataset="biwi", topology="biwi-23370", fps=25.0, gt_stride=1,
            train_subjects=_BIWI_TRAIN, val_subjects=_BIWI_TRAIN, test_subjects=_BIWI_TRAIN,
            train_sentences=SentenceRange(1, 32), val_sentences=SentenceRange(33, 36),
            test_sentences=SentenceRange(37, 40), sentence_format="e{:02d}",
            test_condition="own_style", length_rule="truncate_to_gt",
            report_scales=_BIWI_SCALES, units=_BIWI_UNITS,
            lip_mask="lips", upper_mask="upper_face", mask_sources=_BIWI_MASKS,
            notes="Emotional sequences only; seen speakers, own style (CodeTalker cal_metric.py).",
        ),
        Protocol(
            name="biwi-test-b", dataset="biwi", topology="biwi-23370", fps=25.0, gt_stride=1,
            train_subjects=_BIWI_TRAIN, val_subjects=_BIWI_TRAIN, test_subjects=_BIWI_UNSEEN,
            train_sentences=SentenceRange(1, 32), val_sentences=SentenceRange(33, 36),
            test_sentences=SentenceRange(37, 40), sentence_format="e{:02d}",
            test_condition="all_train_styles", length_rule="truncate_to_gt",
            report_scales=_BIWI_SCALES, units=_BIWI_UNITS,
            lip_mask="lips", upper_mask="upper_face", mask_sources=_BIWI_MASKS,
            notes="Emotional sequences only; unseen speakers (FaceFormer user study).",
        ),
        Protocol(
            name="synth", dataset="synth", topology="synth-face-v1", fps=30.0, gt_stride=1,
            train_subjects=tuple(f"synth{i:02d}" for i in range(1, 9)),
            val_subjects=("synth09", "synth10"), test_subjects=("synth11", "synth12"),
            train_sentences=None, val_sentences=None, test_sentences=None, sentence_format=None,
            test_condition="all_train_styles", length_rule="truncate_to_gt",
            report_scales=_FLAME_SCALES, units=_FLAME_UNITS,
            lip_mask="lips", upper_mask="upper_face",
            mask_sources=_frozen({"lips": "shipped by the synthetic corpus generator",
                                  "upper_face": "shipped by the synthetic corpus generator"}),
            notes="Project-generated corpus in metres (FLAME-like scale), split mirroring VOCASET.",
        ),
    )
}


# the synthetic corpus on the CC0 human head: synth's speakers, splits and scales on another topology
_PROTOCOLS["synth-head"] = replace(
    _PROTOCOLS["synth"],
    name="synth-head",
    topology="synth-head-v2",
    notes=(
        "The project-generated corpus of protocol synth on a CC0 human head (MakeHuman hm08 with "
        "teeth, tongue and ARKit face units), same speakers, sentences and splits; metres."
    ),
)


def list_protocols() -> list[str]:
    """Names of the built-in protocols."""
    return sorted(_PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """The built-in :class:`Protocol` called ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return _PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r}; known protocols: {', '.join(list_protocols())}") from None
