"""The animator contract: one input type, one output type, one base class.

Every animator in this package (and in third-party packages registered through the
``facial_animator.animators`` entry-point group) is an :class:`Animator`, an ``nn.Module`` with

* ``forward(batch: AnimatorInput) -> AnimatorOutput`` for training and validation, and
* ``predict(audio, template, style, **kw) -> Tensor (B, T, V, 3)`` for inference.

Shapes and units follow the project conventions: audio is mono float32 at 16 kHz ``(B, S)``;
templates are ``(B, V, 3)`` in the dataset's native units; vertices are ``(B, T, V, 3)`` absolute
positions (template + offsets); ``style`` is a ``(B,)`` long index into the training subjects.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor, nn

__all__ = [
    "AUDIO_SAMPLE_RATE",
    "DATASET_CONVENTIONS",
    "RECONSTRUCTION_LOSS",
    "SETUP_FIELDS",
    "Alignment",
    "Animator",
    "AnimatorInput",
    "AnimatorOutput",
    "AnimatorSetup",
]

AUDIO_SAMPLE_RATE = 16_000
"""Sample rate (Hz) of every waveform an animator receives."""

Alignment = list[tuple[str, float, float]]
"""One utterance's timed labels: ``[(label, start_s, end_s), ...]`` (words, or ARPAbet phones)."""

RECONSTRUCTION_LOSS = "mse"
"""Key of the reconstruction loss in :attr:`AnimatorOutput.losses`.

A training harness weights this term (``λmse``) or replaces it (e.g. by the phonetic context-aware
loss computed from ``vertices`` and ``target``); every other entry of ``losses`` is an extra term of
the animator (a regulariser, a codebook loss) that the harness adds unweighted."""

DATASET_CONVENTIONS = ("vocaset", "biwi")
"""Dataset conventions of :attr:`AnimatorSetup.dataset`: VOCASET-like data (30 fps, FLAME; also the
synthetic corpus) or BIWI-like data (25 fps, the BIWI topology)."""

SETUP_FIELDS = ("num_vertices", "num_styles", "fps", "dataset")
"""Fields of :class:`AnimatorSetup`: the harness sets them from the data, never a config."""


@dataclass(frozen=True)
class AnimatorSetup:
    """What a training harness knows about the data when it builds an animator.

    It is the whole construction contract between a harness (``talkbench``) and an animator:
    :meth:`Animator.from_setup` receives it together with the user's keyword arguments.

    Attributes:
        num_vertices: vertices of the topology (``V`` of every ``(T, V, 3)`` sequence).
        num_styles: number of training subjects (valid ``style`` indices are ``0 .. num_styles-1``).
        fps: motion frame rate of the data.
        dataset: the data's convention family, one of :data:`DATASET_CONVENTIONS`.
    """

    num_vertices: int
    num_styles: int
    fps: float
    dataset: str = "vocaset"

    def __post_init__(self) -> None:
        if self.num_vertices < 1 or self.num_styles < 1 or not self.fps > 0:
            raise ValueError(f"AnimatorSetup: counts and fps must be positive, got {self}")
        if self.dataset not in DATASET_CONVENTIONS:
            raise ValueError(
                f"AnimatorSetup.dataset must be one of {DATASET_CONVENTIONS}, got {self.dataset!r}"
            )


@dataclass
class AnimatorInput:
    """One batch for :meth:`Animator.forward`.

    Attributes:
        audio: ``(B, S)`` float32 mono waveform at 16 kHz. All items share one length
            (animators here are trained with batch size 1, as the official baselines).
        template: ``(B, V, 3)`` neutral face of each item's subject.
        style: ``(B,)`` long, index into the training subjects (speaking style).
        target: optional ``(B, T, V, 3)`` ground-truth vertices; when given, ``T`` fixes the
            number of predicted frames and the animator reports its reconstruction losses.
        transcript: optional list of ``B`` transcripts.
        words: optional list of ``B`` word alignments ``[(word, start_s, end_s), ...]``.
        phones: optional list of ``B`` phone alignments (ARPAbet labels).
        fps: motion frame rate of ``target`` (and of the wanted output); ``None`` means the
            animator's own rate.
    """

    audio: Tensor
    template: Tensor
    style: Tensor
    target: Tensor | None = None
    transcript: list[str] | None = None
    words: list[Alignment] | None = None
    phones: list[Alignment] | None = None
    fps: float | None = None

    @property
    def batch_size(self) -> int:
        return int(self.audio.shape[0])

    @property
    def num_vertices(self) -> int:
        return int(self.template.shape[1])

    def to(self, device: torch.device | str) -> AnimatorInput:
        """Copy of the batch with every tensor on ``device``."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return AnimatorInput(
            audio=self.audio.to(device),
            template=self.template.to(device),
            style=self.style.to(device),
            target=move(self.target),
            transcript=self.transcript,
            words=self.words,
            phones=self.phones,
            fps=self.fps,
        )

    def validate(
        self,
        *,
        num_vertices: int | None = None,
        num_styles: int | None = None,
        fps: float | None = None,
        requires_text: bool = False,
    ) -> None:
        """Check shapes, dtypes and values; raise ``ValueError`` naming the field and the problem."""
        a, tpl, st = self.audio, self.template, self.style
        if not isinstance(a, Tensor) or a.dim() != 2:
            raise ValueError(
                f"AnimatorInput.audio must be a (B, S) tensor of 16 kHz mono samples, got "
                f"{_describe(a)}; mix channels to mono and batch with audio[None] if needed"
            )
        if not a.is_floating_point():
            raise ValueError(f"AnimatorInput.audio must be floating point, got dtype {a.dtype}")
        if a.shape[1] == 0:
            raise ValueError("AnimatorInput.audio is empty (0 samples)")
        if not torch.isfinite(a).all():
            raise ValueError("AnimatorInput.audio contains NaN or Inf samples")
        b = a.shape[0]
        if not isinstance(tpl, Tensor) or tpl.dim() != 3 or tpl.shape[0] != b or tpl.shape[2] != 3:
            raise ValueError(f"AnimatorInput.template must be (B={b}, V, 3), got {_describe(tpl)}")
        if num_vertices is not None and tpl.shape[1] != num_vertices:
            raise ValueError(
                f"AnimatorInput.template has {tpl.shape[1]} vertices but the animator was built for "
                f"{num_vertices}; build it with the dataset's vertex count"
            )
        if not torch.isfinite(tpl).all():
            raise ValueError("AnimatorInput.template contains NaN or Inf")
        if not isinstance(st, Tensor) or st.shape != (b,) or st.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"AnimatorInput.style must be a (B={b},) long tensor, got {_describe(st)}")
        if num_styles is not None and ((st < 0) | (st >= num_styles)).any():
            raise ValueError(
                f"AnimatorInput.style values {st.tolist()} are outside [0, {num_styles}); the animator "
                f"was built for {num_styles} training subjects"
            )
        if self.target is not None:
            y = self.target
            if y.dim() != 4 or y.shape[0] != b or y.shape[2:] != tpl.shape[1:]:
                raise ValueError(
                    f"AnimatorInput.target must be (B={b}, T, V={tpl.shape[1]}, 3), got {_describe(y)}"
                )
            if y.shape[1] == 0:
                raise ValueError("AnimatorInput.target has 0 frames")
            if not torch.isfinite(y).all():
                raise ValueError("AnimatorInput.target contains NaN or Inf")
        if self.fps is not None and fps is not None and not math.isclose(self.fps, fps):
            raise ValueError(
                f"AnimatorInput.fps is {self.fps} but the animator runs at {fps} fps; resample the "
                f"motion or build the animator for {self.fps} fps"
            )
        for name in ("transcript", "words", "phones"):
            value = getattr(self, name)
            if value is not None and len(value) != b:
                raise ValueError(f"AnimatorInput.{name} has {len(value)} entries for a batch of {b}")
        if requires_text and self.transcript is None:
            raise ValueError("this animator needs AnimatorInput.transcript (one string per item)")


@dataclass
class AnimatorOutput:
    """What :meth:`Animator.forward` returns.

    Attributes:
        vertices: ``(B, T, V, 3)`` predicted absolute vertices.
        losses: named scalar losses (e.g. ``{"mse": ...}``), present when a target was given.
        target: the target actually compared with ``vertices`` (it can be shorter than the
            input target, e.g. when the audio covers fewer frames), or ``None``.
    """

    vertices: Tensor
    losses: dict[str, Tensor] = field(default_factory=dict)
    target: Tensor | None = None

    @property
    def loss(self) -> Tensor:
        """Sum of :attr:`losses`; raises when there is none (no target was given)."""
        if not self.losses:
            raise ValueError("AnimatorOutput.loss: no losses were computed (was a target given?)")
        return torch.stack(list(self.losses.values())).sum()


class Animator(nn.Module):
    """Base class of speech-driven 3D facial animators.

    Subclasses set the class attributes, store ``fps``, ``num_vertices`` and ``num_styles`` on the
    instance, and implement :meth:`forward`. The default :meth:`predict` runs :meth:`forward` in
    eval mode without a target; autoregressive models override it with a faster loop.

    Class attributes:
        name: registry name (lower case).
        supports_style: whether ``style`` changes the output.
        autoregressive: whether inference feeds predictions back in.
        requires_text: whether a transcript is required.
    """

    name: ClassVar[str] = ""
    supports_style: ClassVar[bool] = True
    autoregressive: ClassVar[bool] = False
    requires_text: ClassVar[bool] = False
    audio_sample_rate: ClassVar[int] = AUDIO_SAMPLE_RATE

    #: the :class:`AnimatorSetup` fields that :meth:`from_setup` passes to ``__init__`` as keywords.
    #: Animators that follow a dataset's conventions (FaceFormer's period, BIWI's frame pairing) add
    #: ``"dataset"``; user keyword arguments override it, never the three data-given counts.
    setup_args: ClassVar[tuple[str, ...]] = ("num_vertices", "num_styles", "fps")

    fps: float
    num_vertices: int
    num_styles: int

    @classmethod
    def from_setup(cls, setup: AnimatorSetup, **kwargs: object) -> Animator:
        """Build the animator for the data described by ``setup``, with the user's ``kwargs``.

        The default passes the :attr:`setup_args` fields of ``setup`` as keyword arguments
        (``dataset`` as a default that ``kwargs`` may override) and then ``kwargs``. ``kwargs`` that
        repeat ``num_vertices``, ``num_styles`` or ``fps`` raise ``ValueError``: the data sets them.
        Override this classmethod when construction needs more than keyword arguments.
        """
        clash = sorted(k for k in kwargs if k in SETUP_FIELDS and k != "dataset")
        if clash:
            raise ValueError(
                f"{cls.__name__}: {', '.join(clash)} come(s) from the data (AnimatorSetup); "
                "remove them from the animator's keyword arguments"
            )
        unknown = sorted(set(cls.setup_args) - set(SETUP_FIELDS))
        if unknown:
            raise TypeError(f"{cls.__name__}.setup_args names unknown AnimatorSetup fields {unknown}")
        args: dict[str, object] = {name: getattr(setup, name) for name in cls.setup_args}
        args.update(kwargs)
        return cls(**args)

    @classmethod
    def accepted_kwargs(cls) -> frozenset[str] | None:
        """The user keyword arguments :meth:`from_setup` accepts; ``None`` when it takes any.

        Read from the signature of an overriding ``from_setup``, else of ``__init__`` (what the default
        forwards to), less the data-given ``num_vertices``, ``num_styles`` and ``fps``; ``None`` when
        that signature has ``**kwargs`` (only construction itself can check them then). A harness uses it
        to refuse a misspelt argument before any work starts.
        """
        own = getattr(cls.from_setup, "__func__", None) is not Animator.from_setup.__func__
        params = inspect.signature(cls.from_setup if own else cls.__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return None
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        not_user = {"self", "cls", "setup", *(f for f in SETUP_FIELDS if f != "dataset")}
        return frozenset(n for n, p in params.items() if p.kind in named) - not_user

    def forward(self, batch: AnimatorInput) -> AnimatorOutput:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward(batch) -> AnimatorOutput")

    def validate_input(self, batch: AnimatorInput) -> None:
        """Validate ``batch`` against this animator (vertex count, styles, fps, text)."""
        if not isinstance(batch, AnimatorInput):
            raise TypeError(
                f"{type(self).__name__}.forward expects an AnimatorInput, got {type(batch).__name__}"
            )
        batch.validate(
            num_vertices=getattr(self, "num_vertices", None),
            num_styles=getattr(self, "num_styles", None),
            fps=getattr(self, "fps", None),
            requires_text=self.requires_text,
        )

    @torch.no_grad()
    def predict(self, audio: Tensor, template: Tensor, style: Tensor | int, **kwargs: object) -> Tensor:
        """Animate ``audio`` ``(B, S)`` (or ``(S,)``) on ``template`` ``(B, V, 3)`` (or ``(V, 3)``).

        ``style`` is a ``(B,)`` long tensor or an int. Extra keyword arguments (``transcript``,
        ``words``, ``phones``) are passed into :class:`AnimatorInput`. Returns ``(B, T, V, 3)``.
        """
        batch = self.make_input(audio, template, style, **kwargs)
        was_training = self.training
        self.eval()
        try:
            return self(batch).vertices
        finally:
            self.train(was_training)

    def make_input(
        self, audio: Tensor, template: Tensor, style: Tensor | int, **kwargs: object
    ) -> AnimatorInput:
        """Build an :class:`AnimatorInput` for inference, adding the batch dimension where missing."""
        device = next((p.device for p in self.parameters()), torch.device("cpu"))
        if isinstance(audio, Tensor) and audio.dim() == 1:
            audio = audio[None]
        if isinstance(template, Tensor) and template.dim() == 2:
            template = template[None]
        if isinstance(style, int):
            style = torch.full((audio.shape[0],), style, dtype=torch.long)
        unknown = set(kwargs) - {"transcript", "words", "phones", "fps"}
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.predict got unexpected keyword arguments {sorted(unknown)}"
            )
        return AnimatorInput(
            audio=audio.to(device),
            template=template.to(device),
            style=style.to(device),
            **kwargs,  # type: ignore[arg-type]
        )


def _describe(x: object) -> str:
    if isinstance(x, Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__
