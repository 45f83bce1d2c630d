"""Configuration of the CodeTalker stage-1 VQ-autoencoder (Xing et al., CVPR 2023).

The two presets reproduce the released configs ``config/vocaset/stage1.yaml`` and
``config/BIWI/stage1.yaml`` of the official repository (Doubiiu/CodeTalker @ 1b7cb95). Every field
whose official value is a quirk that changes numbers is documented here and, where the fix is
obvious, can be switched off:

``positional_encoding``
    ``"official_constant"`` (default) adds the same vector ``pe[0] = [0, 1, 0, 1, ...]`` to every
    token. The released code indexes a sequence-first buffer with batch-first input
    (``pe[:x.size(0)]``), so with its batch size of 1 no positional information reaches the
    transformer. (Read literally, batch element *b* would get ``pe[b]``; we do not reproduce that
    batch-position dependence — all elements get ``pe[0]`` as in batch-1 training.)
    ``"sinusoidal"`` is the fix: token *t* gets ``pe[t]`` (at most ``max_len`` = 5000 tokens).
``attention_scale``
    ``"hidden"`` (default, official) scales logits by ``hidden_size ** -0.5`` (1/32 for 1024) although
    there are 8 heads of 128 channels; ``"head"`` uses the usual ``head_dim ** -0.5``.
``gelu_approximate``
    ``"tanh"`` (official: the BERT-style tanh approximation) or ``"none"`` (exact erf GELU).

Fixed behaviours (documented, not switchable because they define the checkpoint or are not bugs):
bias-free ``to_qkv`` whose output is split as (qkv, head, head_dim) in that order; pre-LayerNorm
residual blocks (eps 1e-5) with no final norm; ``InstanceNorm1d`` without affine parameters or
running statistics; replicate padding in the k=5 temporal convolutions; LeakyReLU slope 0.2; BIWI's
extra 1024→1024 linears around the bottleneck and bias-free output layer; commitment weight
β = 0.25; L1 reconstruction in the stage-1 loss. Only the released ``quant_factor = 0`` (no
temporal downsampling, one code window per frame) is provided.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = ["VQConfig"]

PositionalMode = Literal["official_constant", "sinusoidal"]
ScaleMode = Literal["hidden", "head"]
GeluMode = Literal["tanh", "none"]


@dataclass(frozen=True)
class VQConfig:
    """Hyper-parameters of :class:`~facial_animator.codetalker.VQAutoEncoder`.

    ``in_dim`` is the flattened vertex dimension V·3. Each motion frame becomes
    ``face_quan_num`` (H) codes of ``zquant_dim`` (C) channels; without ``bottleneck_linears`` the
    encoder width must equal H·C.
    """

    in_dim: int
    face_quan_num: int
    zquant_dim: int
    hidden_size: int = 1024
    num_hidden_layers: int = 6
    num_attention_heads: int = 8
    intermediate_size: int = 1536
    n_embed: int = 256
    neg_slope: float = 0.2
    beta: float = 0.25
    bottleneck_linears: bool = False
    output_bias: bool = True
    dropout: float = 0.1
    max_len: int = 5000
    positional_encoding: PositionalMode = "official_constant"
    attention_scale: ScaleMode = "hidden"
    gelu_approximate: GeluMode = "tanh"
    #: unit of the offsets inside the autoencoder, in the dataset's units: the encoder reads
    #: ``offsets / motion_scale`` and the decoder's output is multiplied by it. ``1.0`` is the
    #: official model; ``1e-3`` on metre-scale motion trained from scratch puts the zero-mean,
    #: millimetre-sized offsets at order one for the output layer (no parameter is added)
    motion_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "in_dim",
            "face_quan_num",
            "zquant_dim",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "n_embed",
            "max_len",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"VQConfig.{name} must be a positive int, got {value!r}")
        if not self.motion_scale > 0:
            raise ValueError(f"VQConfig.motion_scale must be > 0, got {self.motion_scale!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"VQConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.hidden_size % 2:
            raise ValueError(f"VQConfig.hidden_size must be even for the sinusoid, got {self.hidden_size}")
        if not self.bottleneck_linears and self.code_width != self.hidden_size:
            raise ValueError(
                f"face_quan_num*zquant_dim = {self.code_width} must equal hidden_size = {self.hidden_size} "
                "unless bottleneck_linears=True (the BIWI layout)"
            )
        if self.positional_encoding not in ("official_constant", "sinusoidal"):
            raise ValueError(
                "positional_encoding must be 'official_constant' or 'sinusoidal', "
                f"got {self.positional_encoding!r}"
            )
        if self.attention_scale not in ("hidden", "head"):
            raise ValueError(f"attention_scale must be 'hidden' or 'head', got {self.attention_scale!r}")
        if self.gelu_approximate not in ("tanh", "none"):
            raise ValueError(f"gelu_approximate must be 'tanh' or 'none', got {self.gelu_approximate!r}")

    @property
    def code_width(self) -> int:
        """H·C, the per-frame width of the quantised representation."""
        return self.face_quan_num * self.zquant_dim

    @classmethod
    def vocaset(cls, **overrides: object) -> VQConfig:
        """Official VOCASET stage 1: V·3 = 15069, H = 16 codes of C = 64, 256 entries."""
        return replace(cls(in_dim=15069, face_quan_num=16, zquant_dim=64), **overrides)  # type: ignore[arg-type]

    @classmethod
    def biwi(cls, **overrides: object) -> VQConfig:
        """Official BIWI stage 1: V·3 = 70110, H = 8 codes of C = 128, bottleneck linears, no output bias."""
        base = cls(in_dim=70110, face_quan_num=8, zquant_dim=128, bottleneck_linears=True, output_bias=False)
        return replace(base, **overrides)  # type: ignore[arg-type]

    def with_fixes(self) -> VQConfig:
        """The same architecture with the obvious fixes: real positions and per-head attention scale."""
        return replace(self, positional_encoding="sinusoidal", attention_scale="head")
