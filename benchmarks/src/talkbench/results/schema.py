"""Typed, schema-versioned run records: ``result.json``, ``per_sample.jsonl`` lines and ``env.json``.

A run directory (``<results>/<protocol>/<run_id>/``) holds:

* ``result.json`` — one :class:`RunResult`;
* ``per_sample.jsonl`` — one :class:`PerSampleRecord` per (seed, test sequence, style);
* ``config.yaml`` — the resolved run config;
* ``env.json`` — one :class:`EnvInfo`;
* ``sample.mp4`` — optional rendered sample video.

Metric values are stored **raw**, in the unit of the protocol's data (m² for a VOCASET LVE, a
fraction for CER); a table shows ``value / report_scale``. ``value`` is the mean of ``per_seed``
over seeds and ``std`` their sample standard deviation (``ddof=1``; 0 for one seed).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from facial_metrics import FDD_VARIANTS, LVE_VARIANTS, list_viseme_maps
from facial_metrics.protocols import get_protocol, list_protocols

from .direction import verdict  # the one verdict rule

__all__ = [
    "METRIC_NAMES",
    "METRIC_VARIANTS",
    "REQUIRED_PACKAGES",
    "RUN_ID_PATTERN",
    "SCHEMA_VERSION",
    "SUPPORTED_SCHEMA_VERSIONS",
    "TEMPORAL_METRICS",
    "TEXT_METRICS",
    "AVDose",
    "AnimatorRef",
    "DatasetRef",
    "EnvInfo",
    "GuidanceEffect",
    "GuidanceFlags",
    "Hardware",
    "MaskRef",
    "MetricEffect",
    "MetricName",
    "MetricSummary",
    "PerSampleRecord",
    "ReaderRef",
    "RowKind",
    "RunKind",
    "RunResult",
    "Verdict",
    "check_variant",
    "seed_mean_std",
]

#: current version of ``result.json``; a loader rejects any version not in SUPPORTED_SCHEMA_VERSIONS
SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (1,)

MetricName = Literal["lve", "fdd", "mve", "mtm", "slcc", "loc", "cer", "wer", "ver"]
METRIC_NAMES: tuple[str, ...] = ("lve", "fdd", "mve", "mtm", "slcc", "loc", "cer", "wer", "ver")
#: temporal lip-sync metrics (``facial_metrics`` MTM, SLCC, LOC), per sequence from the lip opening
TEMPORAL_METRICS: tuple[str, ...] = ("mtm", "slcc", "loc")
#: metrics computed from lip-reader transcripts (they need a ``reader``)
TEXT_METRICS: tuple[str, ...] = ("cer", "wer", "ver")

#: a run row: an animator, ground-truth renders through the reader, or the motionless template
RunKind = Literal["method", "ground truth", "template"]
#: every row kind of a leaderboard table; ``reported`` rows come from papers, never from a run
RowKind = Literal["method", "ground truth", "template", "reported"]

#: distributions whose versions every result records
REQUIRED_PACKAGES: tuple[str, ...] = (
    "talkbench",
    "facial-metrics",
    "mesh-renderer",
    "lipread-expert",
    "facial-animator",
    "torch",
    "numpy",
)

#: run ids double as directory names: letters, digits, ``.``, ``_``, ``-``; no leading dot
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_SHA256 = r"^[0-9a-f]{64}$"

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Sha256 = Annotated[str, Field(pattern=_SHA256)]
NonEmptyStr = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


#: variant ids per metric (VER: ``"<viseme map>:<phone source>:<aggregate>"``, checked separately)
METRIC_VARIANTS: dict[str, tuple[str, ...]] = {
    "lve": LVE_VARIANTS,
    "fdd": FDD_VARIANTS,
    "mve": ("l2",),
    "mtm": ("ddtw",),
    "slcc": ("frame",),
    "loc": ("pearson",),
    "cer": ("utterance", "corpus"),
    "wer": ("utterance", "corpus"),
}


def check_variant(metric: str, variant: str) -> None:
    """Raise ``ValueError`` unless ``variant`` is a known variant id of ``metric``."""
    if metric == "ver":
        parts = variant.split(":")
        maps = list_viseme_maps()
        if (
            len(parts) != 3
            or parts[0] not in maps
            or parts[1] not in ("cmudict", "espeak")
            or parts[2] not in ("utterance", "corpus")
        ):
            raise ValueError(
                f"ver variant {variant!r} is not '<map>:<phone source>:<aggregate>' with map in {maps}, "
                "source in ['cmudict', 'espeak'], aggregate in ['utterance', 'corpus']"
            )
        return
    known = METRIC_VARIANTS[metric]
    if variant not in known:
        raise ValueError(f"{metric} variant {variant!r} is unknown; known: {list(known)}")


def seed_mean_std(per_seed: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``; 0.0 for a single seed) of per-seed values."""
    n = len(per_seed)
    if n == 0:
        raise ValueError("no per-seed values")
    mean = math.fsum(per_seed) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in per_seed) / (n - 1))


class MetricSummary(_Model):
    """One metric of a run: the mean over seeds with its spread, and how it was computed.

    Attributes:
        value: mean of ``per_seed`` (raw unit).
        std: sample standard deviation of ``per_seed`` (``ddof=1``), 0 for one seed.
        n: number of scored test items per seed (lines of ``per_sample.jsonl`` per seed).
        unit: unit of the raw value (``"m²"``, ``"fraction"``, ...).
        variant: metric variant id (``"max_sq"`` for LVE, ``"codetalker"`` for FDD, ``"utterance"`` or
            ``"corpus"`` for CER/WER, ``"<map>:<phone source>:<aggregate>"`` for VER, ``"l2"`` for MVE).
        report_scale: a table shows ``value / report_scale``.
        higher_is_better: direction of improvement.
        per_seed: the metric of each seed, in the order of :attr:`RunResult.seeds`.
    """

    value: FiniteFloat
    std: FiniteFloat = Field(ge=0)
    n: int = Field(ge=1)
    unit: NonEmptyStr
    variant: NonEmptyStr
    report_scale: FiniteFloat = Field(gt=0)
    higher_is_better: bool
    per_seed: list[FiniteFloat] = Field(min_length=1)

    @model_validator(mode="after")
    def _mean_and_std_match_seeds(self) -> MetricSummary:
        mean, std = seed_mean_std(self.per_seed)
        if not math.isclose(self.value, mean, rel_tol=1e-9, abs_tol=1e-15):
            raise ValueError(f"value {self.value!r} is not the mean of per_seed {self.per_seed} ({mean!r})")
        if not math.isclose(self.std, std, rel_tol=1e-6, abs_tol=1e-15):
            raise ValueError(
                f"std {self.std!r} is not the sample std (ddof=1) of per_seed {self.per_seed} ({std!r})"
            )
        return self

    @classmethod
    def from_seeds(
        cls,
        per_seed: list[float],
        *,
        n: int,
        unit: str,
        variant: str,
        report_scale: float,
        higher_is_better: bool = False,
    ) -> MetricSummary:
        """Summary whose ``value`` / ``std`` are derived from ``per_seed`` by :func:`seed_mean_std`."""
        mean, std = seed_mean_std([float(x) for x in per_seed])
        return cls(
            value=mean,
            std=std,
            n=n,
            unit=unit,
            variant=variant,
            report_scale=report_scale,
            higher_is_better=higher_is_better,
            per_seed=[float(x) for x in per_seed],
        )


class DatasetRef(_Model):
    """Dataset name (the protocol's ``dataset``) and the sha256 of its content."""

    id: NonEmptyStr
    content_sha256: Sha256


class AnimatorRef(_Model):
    """Animator display name and its full spec (the config dict it was built from)."""

    name: NonEmptyStr
    spec: dict[str, Any] = Field(default_factory=dict)


class GuidanceFlags(_Model):
    """Which guidance a run trained with; all ``False`` is the baseline."""

    av: bool = False
    phonetic: bool = False
    text: bool = False
    #: the AV recipe's lip-vertex MSE ``Lrlv`` alone (λav = 0, no lip reader); an ``av`` run has it too
    lrlv: bool = False

    @model_validator(mode="after")
    def _lrlv_alone(self) -> GuidanceFlags:
        if self.lrlv and self.av:
            raise ValueError("lrlv marks the lip-vertex term without the lip reader; an AV run includes it")
        return self

    @property
    def is_baseline(self) -> bool:
        return not (self.av or self.phonetic or self.text or self.lrlv)

    @property
    def label(self) -> str:
        """``"baseline"`` or e.g. ``"+AV +phonetic"``, ``"+Lrlv"``."""
        flags = ((self.lrlv, "+Lrlv"), (self.av, "+AV"), (self.phonetic, "+phonetic"), (self.text, "+text"))
        parts = [name for flag, name in flags if flag]
        return " ".join(parts) if parts else "baseline"


class MaskRef(_Model):
    """A region mask by id and index hash (``facial_metrics.RegionMask.id`` / ``.sha256``)."""

    id: NonEmptyStr
    sha256: Sha256


class ReaderRef(_Model):
    """The frozen evaluation lip reader (never the guidance expert): id and checkpoint sha256."""

    id: NonEmptyStr
    checkpoint_sha256: Sha256


class ModalityReading(_Model):
    """CER and WER (fractions, utterance mean) of a reader on ground-truth renders."""

    cer: FiniteFloat = Field(ge=0)
    wer: FiniteFloat = Field(ge=0)


class ExpertRef(_Model):
    """The AV-guidance expert as stage 2 received it: id, checkpoint sha256 and how it reads.

    ``readings``: CER / WER on ground-truth renders (+ audio) of the protocol's test split with the
    video only (audio zeroed), the audio only (video blanked) and both; ``video`` far better than
    chance says the guidance signal can come from the lips.
    """

    id: NonEmptyStr
    checkpoint_sha256: Sha256
    utterances: int = Field(ge=1)
    readings: dict[Literal["video", "audio", "audiovisual"], ModalityReading] = Field(min_length=1)


class AVDose(_Model):
    """How much of an AV run's training the AV term saw, counted from its trainings' logs.

    ``av_every``: the AV term comes on every ``av_every``-th step; ``clip_frames``: it reads a clip of
    that many frames of the predicted sequence (``None``: the whole sequence); ``steps`` / ``av_steps``:
    animator steps and steps with the AV term, summed over seeds; ``frames_per_av_step``: mean frames
    the expert read per AV step; ``frames_per_step``: mean frames of a training sequence. The AV
    term's share of the training, ``av_steps · frames_per_av_step / (steps · frames_per_step)``, is
    ``fraction`` (1 at the paper's dose: every step, whole sequences).
    """

    av_every: int = Field(ge=1)
    clip_frames: int | None = Field(default=None, ge=1)
    steps: int = Field(ge=0)
    av_steps: int = Field(ge=0)
    frames_per_av_step: FiniteFloat = Field(ge=0)
    frames_per_step: FiniteFloat = Field(ge=0)
    fraction: FiniteFloat = Field(ge=0, le=1)


class Hardware(_Model):
    """Where a run executed."""

    cpu: NonEmptyStr
    cores: int = Field(ge=1)
    gpu: str | None = None


#: what an interval says about a guidance effect (derived by code, ``talkbench.results.direction.verdict``)
Verdict = Literal["better", "worse", "no measurable effect"]


class MetricEffect(_Model):
    """One metric of a :class:`GuidanceEffect` (raw units; ``talkbench.results.effects`` has the formulas).

    Attributes:
        best: the metric's best direction (``"lower"``, ``"higher"``, ``"zero"`` for a signed metric).
        per_seed: paired Δ = guided − baseline of each seed (over all test items).
        mean: mean of ``per_seed``.
        ci_low, ci_high: the bootstrap percentile interval of Δ.
        distance_mean, distance_ci_low, distance_ci_high: for ``best == "zero"`` only, the change of the
            distance from 0, ``|guided| − |baseline|``, and its interval.
        n_items: test items per seed that were resampled.
        verdict: from the interval of the change in badness (``effects.verdict``).
    """

    best: Literal["lower", "higher", "zero"]
    per_seed: list[FiniteFloat] = Field(min_length=1)
    mean: FiniteFloat
    ci_low: FiniteFloat
    ci_high: FiniteFloat
    distance_mean: FiniteFloat | None = None
    distance_ci_low: FiniteFloat | None = None
    distance_ci_high: FiniteFloat | None = None
    n_items: int = Field(ge=1)
    verdict: Verdict

    @model_validator(mode="after")
    def _consistent(self) -> MetricEffect:
        mean = math.fsum(self.per_seed) / len(self.per_seed)
        if not math.isclose(self.mean, mean, rel_tol=1e-9, abs_tol=1e-15):
            raise ValueError(f"mean {self.mean!r} is not the mean of per_seed {self.per_seed}")
        distance = (self.distance_mean, self.distance_ci_low, self.distance_ci_high)
        if self.best == "zero":
            if any(x is None for x in distance):
                raise ValueError("a signed metric (best 'zero') needs distance_mean, distance_ci_low/_high")
            lo, hi = self.distance_ci_low, self.distance_ci_high
        else:
            if any(x is not None for x in distance):
                raise ValueError(f"distance_* fields belong to signed metrics only, not best {self.best!r}")
            lo, hi = self.ci_low, self.ci_high
        if self.ci_low > self.ci_high or (lo is not None and hi is not None and lo > hi):
            raise ValueError("an interval has its low end above its high end")
        expected = verdict(self.best, float(lo), float(hi))  # type: ignore[arg-type]
        if self.verdict != expected:
            raise ValueError(f"verdict {self.verdict!r} does not follow from the interval ({expected!r})")
        return self


class GuidanceEffect(_Model):
    """A guided run's effect against its animator's baseline run, with paired-bootstrap intervals.

    Attributes:
        baseline_run: run id of the baseline (same protocol, same animator name, no guidance).
        baseline_per_sample_sha256: ``effects.per_sample_sha256`` of the baseline's records it used.
        seeds: the seeds both runs share, paired by value.
        resamples, bootstrap_seed, confidence: the bootstrap's ``B``, generator seed and level.
        metrics: metric → :class:`MetricEffect`.
    """

    baseline_run: Annotated[str, Field(pattern=RUN_ID_PATTERN)]
    baseline_per_sample_sha256: Sha256
    seeds: list[int] = Field(min_length=1)
    resamples: int = Field(ge=1)
    bootstrap_seed: int
    confidence: float = Field(gt=0, lt=1)
    metrics: dict[MetricName, MetricEffect] = Field(min_length=1)

    @model_validator(mode="after")
    def _per_seed_counts(self) -> GuidanceEffect:
        for name, m in self.metrics.items():
            if len(m.per_seed) != len(self.seeds):
                raise ValueError(f"{name}: {len(m.per_seed)} per_seed deltas for {len(self.seeds)} seeds")
        return self


class RunResult(_Model):
    """The record of one run: ``result.json`` (schema version :data:`SCHEMA_VERSION`)."""

    schema_version: Literal[1]
    run_id: Annotated[str, Field(pattern=RUN_ID_PATTERN)]
    kind: RunKind
    protocol: NonEmptyStr
    dataset: DatasetRef
    animator: AnimatorRef
    guidance: GuidanceFlags
    seeds: list[int] = Field(min_length=1)
    metrics: dict[MetricName, MetricSummary] = Field(min_length=1)
    masks: dict[NonEmptyStr, MaskRef] = Field(default_factory=dict)
    reader: ReaderRef | None = None
    versions: dict[NonEmptyStr, NonEmptyStr]
    hardware: Hardware
    wall_time_s: FiniteFloat = Field(ge=0)
    date: datetime
    cache_key: Sha256 | None = None
    #: a guided method run's effect against its baseline (absent in older files and on other rows)
    guidance_effect: GuidanceEffect | None = None
    #: an AV run's effect against the ``lrlv`` run of its animator (``Lrlv`` alone): what the lip
    #: reader adds on top of the lip-vertex MSE (absent where the grid has no such run)
    lip_reader_effect: GuidanceEffect | None = None
    #: the AV-guidance expert of an AV run and its readings of the ground truth (absent on other runs)
    expert: ExpertRef | None = None
    #: an AV run's dose of the AV term (absent on other runs and in older files)
    av_dose: AVDose | None = None
    #: a swept cell's point: dotted config key → its value here (``talkbench`` ``sweep.axes``), and the
    #: variant it is compared with (``sweep_reference``); absent on cells that are not swept
    sweep: dict[NonEmptyStr, bool | int | float | str] | None = None
    sweep_reference: str | None = None
    #: vertex metrics on training sequences, each in its own speaker's style (``eval.train_sequences``):
    #: beside the test metrics they show over-fitting and exposure bias; absent when not computed
    train_metrics: dict[MetricName, MetricSummary] | None = None

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds

    @field_validator("versions")
    @classmethod
    def _all_packages(cls, versions: dict[str, str]) -> dict[str, str]:
        missing = [p for p in REQUIRED_PACKAGES if p not in versions]
        if missing:
            raise ValueError(f"versions lacks {missing} (use 'not installed' for an absent package)")
        return versions

    @field_validator("date")
    @classmethod
    def _aware_date(cls, date: datetime) -> datetime:
        if date.tzinfo is None:
            raise ValueError("date must carry a time zone (e.g. 2026-01-31T12:00:00Z)")
        return date

    @field_validator("protocol")
    @classmethod
    def _known_protocol(cls, protocol: str) -> str:
        if protocol not in list_protocols():
            raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(list_protocols())}")
        return protocol

    @model_validator(mode="after")
    def _consistent(self) -> RunResult:
        proto = get_protocol(self.protocol)
        if self.dataset.id != proto.dataset:
            raise ValueError(
                f"dataset {self.dataset.id!r} does not belong to protocol {self.protocol!r} "
                f"(expects {proto.dataset!r})"
            )
        alien = sorted(m.id for m in self.masks.values() if m.id.split("/", 1)[0] != proto.topology)
        if alien:
            raise ValueError(
                f"masks {alien} are not of topology {proto.topology!r} of protocol {self.protocol!r}; "
                "the run was made on another dataset"
            )
        for name, m in self.metrics.items():
            if len(m.per_seed) != len(self.seeds):
                raise ValueError(
                    f"metric {name}: {len(m.per_seed)} per_seed values for {len(self.seeds)} seeds"
                )
            check_variant(name, m.variant)
            expected = float(proto.report_scales[name])
            if not math.isclose(m.report_scale, expected, rel_tol=1e-12):
                raise ValueError(
                    f"metric {name}: report_scale {m.report_scale:g} differs from protocol "
                    f"{self.protocol!r}'s {expected:g}"
                )
        text = [m for m in self.metrics if m in TEXT_METRICS]
        if text and self.reader is None:
            raise ValueError(f"metrics {text} come from a lip reader, but 'reader' is missing")
        if self.kind != "method" and not self.guidance.is_baseline:
            raise ValueError(f"a {self.kind!r} row has no guidance; got {self.guidance.label}")
        if self.guidance_effect is not None:
            if self.kind != "method" or self.guidance.is_baseline:
                raise ValueError("guidance_effect belongs to guided method runs only")
            if self.guidance_effect.baseline_run == self.run_id:
                raise ValueError("guidance_effect.baseline_run names this run itself")
            extra = sorted(set(self.guidance_effect.metrics) - set(self.metrics))
            if extra:
                raise ValueError(f"guidance_effect has metrics {extra} that the run does not")
        if self.expert is not None and not (self.kind == "method" and self.guidance.av):
            raise ValueError("expert belongs to AV method runs only")
        if self.lip_reader_effect is not None:
            if self.kind != "method" or not self.guidance.av:
                raise ValueError("lip_reader_effect belongs to AV method runs only")
            if self.lip_reader_effect.baseline_run == self.run_id:
                raise ValueError("lip_reader_effect.baseline_run names this run itself")
        return self


class PerSampleRecord(_Model):
    """One line of ``per_sample.jsonl``: one test sequence under one style and one seed.

    ``metrics`` holds the per-sequence values (raw units) of the vertex metrics and the per-utterance
    rates of the text metrics; ``reference`` / ``hypothesis`` are the unnormalised transcripts, so the
    text metrics can be re-scored with the current normaliser.
    """

    seed: int
    sample_id: NonEmptyStr
    subject: NonEmptyStr
    style: str | None = None
    frames: int = Field(ge=1)
    metrics: dict[MetricName, FiniteFloat] = Field(default_factory=dict)
    reference: str | None = None
    hypothesis: str | None = None

    @model_validator(mode="after")
    def _transcripts_together(self) -> PerSampleRecord:
        if (self.reference is None) != (self.hypothesis is None):
            raise ValueError("reference and hypothesis must be given together")
        return self


class EnvInfo(_Model):
    """``env.json``: interpreter, platform, package versions, hardware, library settings, git state.

    ``git_sha`` / ``git_dirty`` describe the checkout the run was started from (``None`` outside a
    git work tree); ``argv`` is the command line of the run.
    """

    python: NonEmptyStr
    platform: NonEmptyStr
    versions: dict[NonEmptyStr, NonEmptyStr]
    hardware: Hardware
    torch_num_threads: int | None = None
    cuda_available: bool = False
    cuda_version: str | None = None
    env_vars: dict[str, str] = Field(default_factory=dict)
    git_sha: str | None = None
    git_dirty: bool | None = None
    argv: list[str] = Field(default_factory=list)


def is_sha256(text: str) -> bool:
    """Whether ``text`` is 64 lower-case hex digits."""
    return re.fullmatch(_SHA256, text) is not None
