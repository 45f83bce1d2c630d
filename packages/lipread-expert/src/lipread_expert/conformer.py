"""Conformer encoder (Gulati et al. 2020) as configured in auto-avsr.

Each block (pre-LayerNorm, espnet ``EncoderLayer`` with macaron feed-forward)::

    x = x + 0.5 · dropout(FF_macaron(LN_ff_macaron(x)))
    x = x + dropout(MHSA_relpos(LN_mha(x), pos))
    x = x + dropout(ConvModule(LN_conv(x)))
    x = x + 0.5 · dropout(FF(LN_ff(x)))
    x = LN_final(x)

``ConvModule``: pointwise Conv1d(d → 2d) + GLU, depthwise Conv1d(k, groups=d), BatchNorm1d,
Swish, pointwise Conv1d(d → d). Parameter names keep espnet's legacy spelling
(``pointwise_cov1``/``pointwise_cov2``) so official checkpoints load unchanged.

``ConformerEncoder`` = front-end → ``embed`` (Linear(front-end dim → d), RelPositionalEncoding) →
blocks → ``after_norm``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .layers import (
    LayerNorm,
    PositionwiseFeedForward,
    RelPositionalEncoding,
    RelPositionMultiHeadedAttention,
    Swish,
)


class ConvolutionModule(nn.Module):
    """Conformer convolution module (input and output (B, T, d))."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.pointwise_cov1 = nn.Conv1d(channels, 2 * channels, 1)
        self.depthwise_conv = nn.Conv1d(
            channels, channels, kernel_size, padding=(kernel_size - 1) // 2, groups=channels
        )
        self.norm = nn.BatchNorm1d(channels)
        self.pointwise_cov2 = nn.Conv1d(channels, channels, 1)
        self.activation = Swish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.glu(self.pointwise_cov1(x.transpose(1, 2)), dim=1)
        x = self.activation(self.norm(self.depthwise_conv(x)))
        return self.pointwise_cov2(x).transpose(1, 2)


class ConformerBlock(nn.Module):
    """One conformer layer; see the module docstring for the computation."""

    def __init__(self, size: int, heads: int, units: int, kernel: int, dropout: float, att_dropout: float):
        super().__init__()
        self.self_attn = RelPositionMultiHeadedAttention(heads, size, att_dropout)
        self.feed_forward = PositionwiseFeedForward(size, units, dropout)
        self.feed_forward_macaron = PositionwiseFeedForward(size, units, dropout)
        self.conv_module = ConvolutionModule(size, kernel)
        self.norm_ff = LayerNorm(size)
        self.norm_mha = LayerNorm(size)
        self.norm_ff_macaron = LayerNorm(size)
        self.norm_conv = LayerNorm(size)
        self.norm_final = LayerNorm(size)
        self.dropout = nn.Dropout(dropout)
        self.ff_scale = 0.5

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = x + self.ff_scale * self.dropout(self.feed_forward_macaron(self.norm_ff_macaron(x)))
        h = self.norm_mha(x)
        x = x + self.dropout(self.self_attn(h, h, h, pos_emb, mask))
        x = x + self.dropout(self.conv_module(self.norm_conv(x)))
        x = x + self.ff_scale * self.dropout(self.feed_forward(self.norm_ff(x)))
        return self.norm_final(x)


class ConformerEncoder(nn.Module):
    """Front-end + conformer stack.

    ``forward(x, mask)``: ``x`` is the front-end input, ``mask`` a bool (B, 1, T) tensor that is True
    at valid frames (or None); returns (B, T, d).
    """

    def __init__(
        self,
        frontend: nn.Module,
        frontend_dim: int,
        size: int,
        heads: int,
        units: int,
        layers: int,
        kernel: int,
        dropout: float,
        att_dropout: float,
    ) -> None:
        super().__init__()
        self.frontend = frontend
        self.embed = nn.Sequential(nn.Linear(frontend_dim, size), RelPositionalEncoding(size, dropout))
        self.encoders = nn.ModuleList(
            [ConformerBlock(size, heads, units, kernel, dropout, att_dropout) for _ in range(layers)]
        )
        self.after_norm = LayerNorm(size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        feats = self.frontend(x)
        if mask is not None and mask.size(-1) != feats.size(1):
            raise ValueError(
                f"the front-end produced {feats.size(1)} frames but the mask covers {mask.size(-1)}"
            )
        h, pos_emb = self.embed(feats)
        for block in self.encoders:
            h = block(h, pos_emb, mask)
        return self.after_norm(h)
