"""Transformer attention decoder (espnet ``Decoder``, pre-LayerNorm).

``embed`` = Embedding(odim, d) → absolute PositionalEncoding (x·√d + PE); then per layer::

    x = x + dropout(SelfAttn(LN1(x), causal mask))
    x = x + dropout(SrcAttn(LN2(x), memory, memory mask))
    x = x + dropout(FF(LN3(x)))

then ``after_norm`` and ``output_layer`` Linear(d, odim).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import LayerNorm, MultiHeadedAttention, PositionalEncoding, PositionwiseFeedForward


class DecoderLayer(nn.Module):
    """One pre-LN transformer decoder layer."""

    def __init__(self, size: int, heads: int, units: int, dropout: float, att_dropout: float) -> None:
        super().__init__()
        self.self_attn = MultiHeadedAttention(heads, size, att_dropout)
        self.src_attn = MultiHeadedAttention(heads, size, att_dropout)
        self.feed_forward = PositionwiseFeedForward(size, units, dropout)
        self.norm1 = LayerNorm(size)
        self.norm2 = LayerNorm(size)
        self.norm3 = LayerNorm(size)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        tgt: torch.Tensor,
        tgt_mask: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        h = self.norm1(tgt)
        x = tgt + self.dropout(self.self_attn(h, h, h, tgt_mask))
        h = self.norm2(x)
        x = x + self.dropout(self.src_attn(h, memory, memory, memory_mask))
        return x + self.dropout(self.feed_forward(self.norm3(x)))


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """Bool (1, L, L) lower-triangular mask: position i may attend to positions ≤ i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril().unsqueeze(0)


class TransformerDecoder(nn.Module):
    """Autoregressive decoder over token ids (B, L) with encoder memory (B, T, d)."""

    def __init__(
        self, odim: int, size: int, heads: int, units: int, layers: int, dropout: float, att_dropout: float
    ) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Embedding(odim, size), PositionalEncoding(size, dropout))
        self.decoders = nn.ModuleList(
            [DecoderLayer(size, heads, units, dropout, att_dropout) for _ in range(layers)]
        )
        self.after_norm = LayerNorm(size)
        self.output_layer = nn.Linear(size, odim)

    def forward(
        self, ys_in: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits (B, L, odim) for every prefix position (causal)."""
        tgt_mask = causal_mask(ys_in.size(1), ys_in.device)
        x = self.embed(ys_in)
        for layer in self.decoders:
            x = layer(x, tgt_mask, memory, memory_mask)
        return self.output_layer(self.after_norm(x))

    def score_next(
        self, ys: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Log-probabilities (N, odim) of the token following each prefix ``ys`` (N, L)."""
        return torch.log_softmax(self.forward(ys, memory, memory_mask)[:, -1], dim=-1)
