"""Building blocks of the CodeTalker stage-1 transformer (attribute names = official state_dict keys).

Block structure (official ``models/lib/base_models.py``): ``Residual(PreNorm(Attention))`` and
``Residual(PreNorm(MLP))`` alternate in ``net`` (a ``Sequential``), so keys read
``net.{k}.fn.norm.*`` and ``net.{k}.fn.fn.{to_qkv,to_out,l1,l2}.*``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import GeluMode, PositionalMode, ScaleMode

__all__ = [
    "FeedForward",
    "LinearEmbedding",
    "PositionalEncoding",
    "PreNorm",
    "Residual",
    "SelfAttention",
    "VQTransformer",
]


class LinearEmbedding(nn.Module):
    """A Linear layer held as ``net`` (official key ``*.net.{weight,bias}``)."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Linear(size, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PositionalEncoding(nn.Module):
    """Sinusoidal encoding with buffer ``pe`` of shape (max_len, 1, d), followed by Dropout.

    ``pe[t, 2i] = sin(t / 10000^(2i/d))``, ``pe[t, 2i+1] = cos(t / 10000^(2i/d))`` (Vaswani et al.).
    Mode ``"official_constant"`` adds ``pe[0]`` (= [0, 1, 0, 1, ...]) to every token of a batch-first
    input, as the released CodeTalker code effectively does; ``"sinusoidal"`` adds ``pe[t]`` to token t.
    """

    pe: torch.Tensor

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.1,
        max_len: int = 5000,
        mode: PositionalMode = "official_constant",
    ) -> None:
        super().__init__()
        self.mode = mode
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div_term = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
        )
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, T, d) batch-first."""
        if self.mode == "official_constant":
            x = x + self.pe[0, 0]
        else:
            length = x.shape[1]
            if length > self.pe.shape[0]:
                raise ValueError(
                    f"sequence of {length} tokens exceeds the positional table ({self.pe.shape[0]}); "
                    "use shorter clips or positional_encoding='official_constant'"
                )
            x = x + self.pe[:length, 0].unsqueeze(0)
        return self.dropout(x)


class SelfAttention(nn.Module):
    """Bidirectional multi-head self-attention without mask or attention dropout.

    ``to_qkv`` (no bias) projects to 3·d channels laid out as (qkv, head, head_dim); logits are
    ``q·kᵀ · scale`` with ``scale = d ** -0.5`` (official, ``"hidden"``) or ``head_dim ** -0.5``
    (``"head"``); ``to_out`` (with bias) maps the concatenated heads back to d.
    """

    def __init__(self, dim: int, heads: int, scale_mode: ScaleMode = "hidden") -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = (dim if scale_mode == "hidden" else self.head_dim) ** -0.5
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.to_qkv(x).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))


class FeedForward(nn.Module):
    """``l2(GELU(l1(x)))``; GELU uses the tanh approximation in the official code."""

    def __init__(self, dim: int, hidden: int, approximate: GeluMode = "tanh") -> None:
        super().__init__()
        self.approximate = approximate
        self.l1 = nn.Linear(dim, hidden)
        self.l2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(F.gelu(self.l1(x), approximate=self.approximate))


class PreNorm(nn.Module):
    """``fn(LayerNorm(x))`` with LayerNorm eps 1e-5 (official class ``Norm``)."""

    def __init__(self, fn: nn.Module, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-5)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class Residual(nn.Module):
    """``x + fn(x)``."""

    def __init__(self, fn: nn.Module) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fn(x)


class VQTransformer(nn.Module):
    """``layers`` × [Residual(PreNorm(SelfAttention)), Residual(PreNorm(FeedForward))], no final norm."""

    def __init__(
        self,
        dim: int,
        layers: int,
        heads: int,
        intermediate: int,
        scale_mode: ScaleMode = "hidden",
        gelu: GeluMode = "tanh",
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for _ in range(layers):
            blocks.append(Residual(PreNorm(SelfAttention(dim, heads, scale_mode), dim)))
            blocks.append(Residual(PreNorm(FeedForward(dim, intermediate, gelu), dim)))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
