"""The benchmark configuration's pydantic models: the sections of a preset (data, render, readers,
guidance, training, evaluation, animators), the whole :class:`BenchConfig` and one grid cell's
:class:`RunSpec`. Every key is validated; an unknown key or a bad value raises a ``ValidationError``
that :func:`talkbench.config.load_config` turns into a :class:`ConfigError` naming the file and the key.
Loading presets and overrides is :mod:`talkbench.config`'s.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .datasets.synth.topologies import SYNTH_PROTOCOLS
from .grid_settings import ClusterConfig, SweepConfig, SweepValue, set_key, sweep_label
from .shipped_manifests import ShippedReaderError, shipped_manifest, shipped_sha256

__all__ = [
    "VARIANTS",
    "AnimatorSpec",
    "BenchConfig",
    "ClusterConfig",
    "ConfigError",
    "DataConfig",
    "EvalConfig",
    "ExpertConfig",
    "GuidanceConfig",
    "ReaderConfig",
    "RenderConfig",
    "RunSpec",
    "SweepConfig",
    "TrainConfig",
    "Variant",
    "check_shipped_render",
    "format_validation_error",
    "run_slug",
]

#: guidance variants of the grid: baseline; ``lrlv``, the AV recipe's lip-vertex MSE ``Lrlv`` alone
#: (λav = 0: no lip reader); +AV guidance (``Lrlv`` + the lip reader's loss); +phonetic context-aware
#: loss; +both (AV and phonetic)
VARIANTS: tuple[str, ...] = ("baseline", "lrlv", "av", "phonetic", "both")
Variant = Literal["baseline", "lrlv", "av", "phonetic", "both"]


class ConfigError(ValueError):
    """A config file or override that fails validation; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the data lives. ``protocol`` is a ``facial_metrics`` protocol id."""

    protocol: Literal["synth", "synth-head", "vocaset", "biwi-test-a", "biwi-test-b"] = "synth"
    root: str = "data/synth-default"
    #: synthetic corpus only: generate it under ``root`` when missing
    generate: bool = True
    corpus_size: Literal["tiny", "smoke", "default"] = "default"
    corpus_seed: int = 0
    #: override the size's sentences per speaker / pool utterances per pool speaker
    corpus_sentences: int | None = Field(default=None, ge=1)
    corpus_pool: int | None = Field(default=None, ge=0)
    #: train on at most this many sequences of the training split (``None``: all)
    max_train_sequences: int | None = Field(default=None, ge=1)
    #: run even when a split lacks sequences the dataset should hold (``data info`` lists them;
    #: the VOCASET release lacks a few); by default such a run stops with an error naming them
    allow_missing: bool = False
    #: region masks of a real-data protocol (LVE lips, FDD upper face), never shipped (licensed):
    #: ``vocaset``: the FLAME region pickle ``FLAME_masks.pkl`` (region name -> vertex ids; the
    #: protocol uses ``lips`` and ``forehead`` + ``eye_region``); ``biwi-test-*``: the folder of
    #: CodeTalker's BIWI region files ``lve.txt`` (lips) and ``fdd.txt`` (upper face). A relative path
    #: is taken from the working directory. ``None``: ``<root>/FLAME_masks.pkl`` (VOCASET) or
    #: ``<root>/regions/`` (BIWI). Unused by ``synth`` (the corpus ships its masks)
    masks: str | None = None


class RenderConfig(_Strict):
    """Mouth renders for the lip readers (orthographic camera, mouth window around the lips)."""

    camera_scale: float = Field(default=8.0, gt=0)
    image_size: int = Field(default=224, ge=16)
    crop_size: int = Field(default=96, ge=8)
    out_size: int = Field(default=88, ge=8)
    mean: float = 0.421
    std: float = Field(default=0.165, gt=0)
    blur_pixels: float = Field(default=1.0, ge=0)
    faces_per_pixel: int = Field(default=4, ge=1)
    reader_fps: float = Field(default=25.0, gt=0)


class ExpertConfig(_Strict):
    """Stage 1: the audio-visual lip-reading expert trained on renders of ground-truth meshes."""

    preset: str = "tiny"
    modality: Literal["audiovisual", "video", "audio"] = "audiovisual"
    #: ``char`` (CharTokenizer, synthetic corpus) or ``sentencepiece`` (official unigram-5000 files)
    tokenizer: Literal["char", "sentencepiece"] = "char"
    sentencepiece_model: str | None = None
    sentencepiece_units: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    #: train on the lip-reader pool (synthetic corpus) or on the training split
    source: Literal["pool", "train", "pool+train"] = "pool"
    steps: int = Field(default=600, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    max_utterances: int | None = Field(default=None, ge=1)
    #: official checkpoint to start from (paper presets); ``None``: random init
    checkpoint: str | None = None
    seed: int = 0
    #: a shipped pretrained expert (``talkbench.shipped_readers``, e.g. ``synth-av-v1``) used instead of
    #: training one: ``preset``, ``modality``, ``source``, ``steps``, ... are then unused
    pretrained: str | None = None
    #: modality dropout of an audio-visual expert's training: the probability that an utterance of a
    #: batch has its audio zeroed (it must then read the lips); 0 trains on both streams always
    audio_dropout: float = Field(default=0.0, ge=0, lt=1)


class ReaderConfig(_Strict):
    """The independent video-only evaluation reader (trained on GT renders of the training split, frozen)."""

    preset: str = "tiny"
    #: ``char`` (CharTokenizer, synthetic corpus) or ``sentencepiece`` (official unigram-5000 files)
    tokenizer: Literal["char", "sentencepiece"] = "char"
    sentencepiece_model: str | None = None
    sentencepiece_units: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    steps: int = Field(default=600, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=2e-3, gt=0)
    max_utterances: int | None = Field(default=None, ge=1)
    decode: Literal["greedy", "beam"] = "greedy"
    beam_size: int = Field(default=10, ge=1)
    checkpoint: str | None = None
    seed: int = 1
    #: a shipped fixed judge (``talkbench.shipped_readers``, e.g. ``synth-video-v1``) used instead of
    #: training a reader: ``preset``, ``steps``, ``batch_size``, ``lr``, ``max_utterances`` and ``seed``
    #: are then unused
    judge: str | None = None


class GuidanceConfig(_Strict):
    """``L = λmse·Lmse + λav·(λctc·Lctc + λce·Lce) + λrlv·Lrlv`` and the phonetic context-aware loss."""

    lambda_mse: float = Field(default=1.0, ge=0)
    lambda_av: float = Field(default=1e-7, ge=0)
    lambda_ctc: float = Field(default=0.1, ge=0)
    lambda_ce: float = Field(default=0.9, ge=0)
    lambda_rlv: float = Field(default=1.0, ge=0)
    #: the expert keeps training in stage 2 (as the paper's code: same Adam as the animator)
    expert_trainable: bool = True
    expert_lr: float | None = Field(default=None, gt=0)
    #: apply the AV term on every n-th step (1: every step, as the paper)
    av_every: int = Field(default=1, ge=1)
    #: render and read only a random clip of this many motion frames of the prediction (with the
    #: words whose midpoint lies in it as transcript); ``None``: the whole sequence, as the paper
    av_clip_frames: int | None = Field(default=None, ge=8)
    #: λ of the Laplacian preconditioner ``(I + λL)⁻¹`` applied to the AV term's vertex gradient
    #: (Nicolet et al. 2021; ``mesh_renderer.LaplacianPreconditioner``): 0 passes the rasterizer's
    #: spiky edge gradients straight to the animator, as the paper's code does
    av_gradient_smoothing: float = Field(default=0.0, ge=0)
    #: phonetic context-aware loss: window (odd), softmax temperature, weight form
    phonetic_window: int = Field(default=5, ge=1)
    phonetic_temperature: float = Field(default=1.0, gt=0)
    phonetic_form: Literal["motion", "alignment"] = "motion"

    @field_validator("phonetic_window")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"phonetic_window must be odd, got {v}")
        return v


class TrainConfig(_Strict):
    """Stage 2: animator training (batch size 1, as the official baselines)."""

    steps: int = Field(default=400, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    #: Adam's ε for the animator's parameters. torch's default 1e-8 suits losses of order one; vertex
    #: MSEs in m² are ~1e-7 and the gradients of an encoder trained from scratch fall below 1e-8,
    #: where Adam's step shrinks to ``lr·|g|/ε`` (see benchmarks/configs/default.yaml)
    adam_eps: float = Field(default=1e-8, gt=0)
    grad_clip: float | None = Field(default=None, gt=0)
    checkpoint_every: int = Field(default=100, ge=1)
    #: CodeTalker stage 1 (motion VQ-autoencoder) steps and lr
    vq_steps: int = Field(default=300, ge=0)
    vq_lr: float = Field(default=2e-3, gt=0)
    #: crop training sequences to at most this many frames (``None``: whole sequences)
    max_frames: int | None = Field(default=None, ge=8)


class EvalConfig(_Strict):
    """Evaluation on the protocol's test split under its test condition."""

    max_sentences_per_speaker: int | None = Field(default=None, ge=1)
    #: ``all_train_styles`` protocols: condition on the first n training styles only (``None``: all,
    #: the protocol's definition; smaller values are a budget shortcut and are recorded in the config)
    max_styles: int | None = Field(default=None, ge=1)
    #: also score this many training sequences (speakers in turn), each in its own speaker's style,
    #: with the vertex metrics only (``result.json`` ``train_metrics``); ``None``: test split only
    train_sequences: int | None = Field(default=None, ge=1)
    #: one of ``facial_metrics.LVE_VARIANTS``
    lve_variant: str = "max_sq"
    #: one of ``facial_metrics.FDD_VARIANTS``
    fdd_variant: str = "codetalker"
    #: ``<viseme map>:<phone source>:<aggregate>``, each part one of facial_metrics' values
    ver_variant: str = "spectre:espeak:utterance"
    text_aggregate: Literal["utterance", "corpus"] = "utterance"
    #: also score the temporal lip-sync metrics MTM, SLCC and LOC (``facial_metrics``) per sequence
    temporal_metrics: bool = True
    #: the topology's vertical axis (0, 1, 2): it splits the lip mask into upper and lower lip at the
    #: template's mean lip height; the lip opening is the distance between their centroids
    vertical_axis: int = Field(default=1, ge=0, le=2)

    @field_validator("lve_variant")
    @classmethod
    def _lve(cls, v: str) -> str:
        from facial_metrics import LVE_VARIANTS

        return _one_of(v, LVE_VARIANTS)

    @field_validator("fdd_variant")
    @classmethod
    def _fdd(cls, v: str) -> str:
        from facial_metrics import FDD_VARIANTS

        return _one_of(v, FDD_VARIANTS)

    @field_validator("ver_variant")
    @classmethod
    def _ver(cls, v: str) -> str:
        from typing import get_args

        from facial_metrics import list_viseme_maps
        from facial_metrics.phonemes import PhoneSource
        from facial_metrics.text import Aggregate

        parts = v.split(":")
        if len(parts) != 3:
            raise ValueError(f"expected '<viseme map>:<phone source>:<aggregate>', got {v!r}")
        allowed = (tuple(list_viseme_maps()), get_args(PhoneSource), get_args(Aggregate))
        for part, values, what in zip(parts, allowed, ("viseme map", "phone source", "aggregate")):
            if part not in values:
                raise ValueError(f"{v!r}: {what} {part!r} is not one of {', '.join(values)}")
        return v


def _one_of(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return value


class AnimatorSpec(_Strict):
    """One animator of the grid: display name, registry name and constructor arguments."""

    name: str
    #: any name of the ``facial_animator`` registry (built-ins and entry-point plug-ins)
    registry: str
    kwargs: dict[str, Any] = Field(default_factory=dict)
    #: CodeTalker: stage-1 VQ-autoencoder config (``facial_animator.codetalker.VQConfig`` fields)
    vq: dict[str, Any] | None = None
    #: the guidance variants this animator is trained with (``None``: all of the grid's ``variants``)
    variants: list[Variant] | None = Field(default=None, min_length=1)
    #: this animator's own ``training.steps`` / ``training.lr`` (``None``: the grid's)
    steps: int | None = Field(default=None, ge=1)
    lr: float | None = Field(default=None, gt=0)

    @field_validator("registry")
    @classmethod
    def _registered(cls, v: str) -> str:
        from facial_animator import get_animator

        try:
            get_animator(v)
        except KeyError as exc:  # UnknownAnimatorError: the message lists names and a suggestion
            raise ValueError(str(exc.args[0]) if exc.args else str(exc)) from None
        return v.strip().lower()

    @field_validator("name")
    @classmethod
    def _run_id_safe(cls, v: str) -> str:
        import re

        from .results.schema import RUN_ID_PATTERN

        slug = run_slug(v)
        if not re.match(RUN_ID_PATTERN, f"{slug}-baseline"):
            raise ValueError(
                f"{v!r}: run ids are made from the name ({slug!r} + '-<variant>') and may hold only "
                "letters, digits, '.', '_', '-' and spaces (e.g. 'GRU newcomer')"
            )
        return v

    @field_validator("kwargs")
    @classmethod
    def _no_data_keys(cls, v: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(k for k in v if k in ("num_vertices", "num_styles", "fps"))
        if clash:
            raise ValueError(
                f"{', '.join(clash)}: set from the data by the harness (facial_animator.AnimatorSetup); "
                "remove them from kwargs"
            )
        return v

    @model_validator(mode="after")
    def _kwargs_fit_the_constructor(self) -> AnimatorSpec:
        """Every ``kwargs`` key (and ``vq``) is one the animator accepts: checked at load, not after the
        grid has trained other cells (:func:`talkbench.animator_args.check_animator_args`)."""
        from .animator_args import check_animator_args

        check_animator_args(self.registry, self.kwargs, self.vq)
        return self


def run_slug(name: str) -> str:
    """The run-id stem of an animator display name: lower case, spaces as ``-``."""
    return name.strip().lower().replace(" ", "-")


class BenchConfig(_Strict):
    """A whole benchmark: data, the grid (animators × variants × seeds), stages and evaluation."""

    name: str
    description: str = ""
    data: DataConfig = DataConfig()
    animators: list[AnimatorSpec] = Field(min_length=1)
    variants: list[Variant] = Field(default_factory=lambda: list(VARIANTS), min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    render: RenderConfig = RenderConfig()
    expert: ExpertConfig = ExpertConfig()
    reader: ReaderConfig = ReaderConfig()
    guidance: GuidanceConfig = GuidanceConfig()
    training: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    device: str = "auto"
    torch_threads: int | None = Field(default=None, ge=1)
    cluster: ClusterConfig = ClusterConfig()
    sweep: SweepConfig | None = None
    #: render one side-by-side sample video per method
    sample_videos: bool = True
    #: top of the sample videos' error colour scale, in millimetres: one scale for every video of a
    #: preset, so their heat maps compare (errors above it show in the top colour)
    video_error_max_mm: float = Field(default=10.0, gt=0)
    work_dir: str = "data/work"

    @field_validator("seeds")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be unique, got {v}")
        return v

    @model_validator(mode="after")
    def _distinct_run_ids(self) -> BenchConfig:
        seen: dict[str, str] = {}
        for i, a in enumerate(self.animators):
            slug = run_slug(a.name)
            if slug in seen:
                raise ValueError(
                    f"animators.{i}.name {a.name!r} gives the same run ids ({slug}-<variant>) as "
                    f"{seen[slug]!r}; give each animator its own name"
                )
            seen[slug] = a.name
        return self

    @model_validator(mode="after")
    def _shipped_readers_fit(self) -> BenchConfig:
        for key, name in (("reader.judge", self.reader.judge), ("expert.pretrained", self.expert.pretrained)):
            if name is None:
                continue
            if self.data.protocol not in SYNTH_PROTOCOLS:
                raise ValueError(
                    f"{key} {name!r} reads the synthetic face only; protocol {self.data.protocol!r} "
                    f"needs a reader trained on its data ({key}: null)"
                )
            check_shipped_render(name, self.render, key, SYNTH_PROTOCOLS[self.data.protocol])
        return self

    @model_validator(mode="after")
    def _sweep_fits(self) -> BenchConfig:
        if self.sweep is None:
            return self
        names = {a.name for a in self.animators}
        unknown = sorted(set(self.sweep.animators or []) - names)
        if unknown:
            raise ValueError(f"sweep.animators {unknown}: not animators of the grid ({sorted(names)})")
        missing = sorted(set(self.sweep.variants or []) - set(self.variants))
        if missing:
            raise ValueError(f"sweep.variants {missing}: not variants of the grid ({self.variants})")
        self.sweep_points()  # every point must be a valid config (distinct labels: distinct run ids)
        return self

    def sweep_points(self) -> list[tuple[tuple[tuple[str, SweepValue], ...], BenchConfig]]:
        """Each point of the sweep's axes (``((key, value), ...)``) with the config it makes."""
        import itertools

        if self.sweep is None:
            return []
        keys = list(self.sweep.axes)
        out = []
        for values in itertools.product(*(self.sweep.axes[k] for k in keys)):
            data = self.model_dump()
            data["sweep"] = None
            point = tuple(zip(keys, values, strict=True))
            try:
                for key, value in point:
                    set_key(data, key, value)
                out.append((point, BenchConfig.model_validate(data)))
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                where = ", ".join(f"{k}={v!r}" for k, v in point)
                if isinstance(exc, ValidationError):
                    detail = format_validation_error(exc)
                else:
                    detail = f"no such key ({exc})"
                raise ValueError(f"sweep point {where}: {detail}") from None
        return out

    def run_specs(self) -> list[RunSpec]:
        """One :class:`RunSpec` per (animator, variant), and per sweep point for the swept cells;
        seeds stay inside a run (mean ± std).

        Ordered variant-major (every animator's baseline first, then +AV, ...), so a grid stopped
        part-way has comparable rows for every animator."""
        points = self.sweep_points()
        specs = []
        for v in self.variants:
            for i, a in enumerate(self.animators):
                if a.variants is not None and v not in a.variants:
                    continue
                sw = self.sweep
                if sw is None or (sw.variants is not None and v not in sw.variants) or (
                    sw.animators is not None and a.name not in sw.animators
                ):
                    specs.append(RunSpec(config=self, animator=a, variant=v))
                    continue
                specs += [RunSpec(config=c, animator=c.animators[i], variant=v, sweep=pt) for pt, c in points]
        return specs


class RunSpec(BaseModel):
    """One cell of the grid: an animator trained with one guidance variant (over all seeds)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: BenchConfig
    animator: AnimatorSpec
    variant: Variant
    #: the sweep point of a swept cell (``((key, value), ...)``); its ``config`` has the values set
    sweep: tuple[tuple[str, SweepValue], ...] = ()

    @property
    def uses_av(self) -> bool:
        return self.variant in ("av", "both")

    @property
    def uses_rlv(self) -> bool:
        """The lip-vertex MSE ``Lrlv`` of the AV recipe (on every step): ``lrlv``, ``av``, ``both``."""
        return self.variant in ("lrlv", "av", "both")

    @property
    def uses_phonetic(self) -> bool:
        return self.variant in ("phonetic", "both")

    @property
    def run_id(self) -> str:
        suffix = "".join(f".{key.split('.')[-1]}-{sweep_label(value)}" for key, value in self.sweep)
        return f"{run_slug(self.animator.name)}-{self.variant}{suffix}"

    def resolved(self) -> dict[str, Any]:
        """The resolved config of this run (JSON-compatible): what the cache key hashes. Where the data
        lie (``data.root``) is not part of it: the key's data hash says what they hold, so a corpus
        moved, or named by an absolute path as the cluster engines do, keeps its results current."""
        c = self.config
        return {
            "benchmark": c.name,
            "data": c.data.model_dump(exclude={"root"}),
            "animator": self.animator.model_dump(),
            "variant": self.variant,
            "seeds": list(c.seeds),
            "render": c.render.model_dump(),
            "expert": c.expert.model_dump() if self.uses_av else None,
            "reader": c.reader.model_dump(),
            "judge_sha256": shipped_sha256(c.reader.judge),
            "expert_sha256": shipped_sha256(c.expert.pretrained) if self.uses_av else None,
            "guidance": c.guidance.model_dump(),
            "training": c.training.model_dump(),
            "eval": c.eval.model_dump(),
        }


def format_validation_error(exc: ValidationError) -> str:
    """The errors of a pydantic ``ValidationError`` on one line: ``key: message; ...``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        msg = msg.removeprefix("Value error, ")
        lines.append(msg if not err["loc"] and err["type"] == "value_error" else f"{loc}: {msg}")
    return "; ".join(lines)


def check_shipped_render(
    name: str, render: RenderConfig, key: str = "reader.judge", topology: str | None = None
) -> None:
    """Raise :class:`ShippedReaderError` when ``render`` differs from the settings ``name`` was trained on,
    or ``topology`` (the face of the preset's ``data.protocol``) from the face it was trained on."""
    recipe = shipped_manifest(name, key)["recipe"]
    trained_on = recipe.get("topology", "synth-face-v1")
    if topology is not None and topology != trained_on:
        raise ShippedReaderError(
            f"{key} {name!r} was trained on renders of {trained_on}, but the preset's data is on "
            f"{topology!r}: use a reader trained on {topology} renders, or set {key}: null to train one "
            "on this preset"
        )
    trained = RenderConfig(**recipe["render"])
    diff = [
        f"render.{k} is {getattr(render, k)!r}, the reader's {v!r}"
        for k, v in trained.model_dump().items()
        if getattr(render, k) != v
    ]
    if diff:
        raise ShippedReaderError(
            f"{key} {name!r} reads renders made with its own render settings: {'; '.join(diff)}. "
            f"Use its render settings, or set {key}: null to train one on this preset."
        )
