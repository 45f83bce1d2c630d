"""Building blocks shared by the encoder and decoder (espnet transformer conventions).

- ``LayerNorm``: ``torch.nn.LayerNorm`` with espnet's eps of 1e-12.
- ``PositionalEncoding``: absolute sinusoidal encoding, ``x·√d + PE`` (Vaswani et al. 2017).
- ``RelPositionalEncoding``: the "latest" espnet relative encoding, returning ``x·√d`` and
  2T − 1 relative position embeddings for positions T−1 … −(T−1) (Transformer-XL, Dai et al. 2019).
- ``MultiHeadedAttention`` and ``RelPositionMultiHeadedAttention``; the latter scores
  ``((q + u)kᵀ + rel_shift((q + v)pᵀ)) / √d_k`` with learned biases ``pos_bias_u``/``pos_bias_v``.
- ``PositionwiseFeedForward``: Linear → ReLU → dropout → Linear (parameter names ``w_1``, ``w_2``).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class Swish(nn.Module):
    """``x · sigmoid(x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class LayerNorm(nn.LayerNorm):
    """Layer normalisation over the last dimension with espnet's eps (1e-12)."""

    def __init__(self, nout: int, eps: float = 1e-12) -> None:
        super().__init__(nout, eps=eps)


def _sinusoid(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    div_term = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32, device=positions.device)
        * -(math.log(10000.0) / d_model)
    )
    pe = torch.zeros(positions.numel(), d_model, device=positions.device)
    angles = positions.float().unsqueeze(1) * div_term
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


class PositionalEncoding(nn.Module):
    """Absolute sinusoidal positional encoding: ``dropout(x·√d + PE[:T])``.

    The table is computed on the fly (it holds no state, matching the official checkpoints, whose
    state_dicts contain no ``pe`` entry).
    """

    def __init__(self, d_model: int, dropout_rate: float) -> None:
        super().__init__()
        self.d_model = d_model
        self.xscale = math.sqrt(d_model)
        self.dropout = nn.Dropout(p=dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.size(1), device=x.device)
        pe = _sinusoid(positions, self.d_model).to(x.dtype)
        return self.dropout(x * self.xscale + pe.unsqueeze(0))


class RelPositionalEncoding(nn.Module):
    """Relative positional encoding; returns ``(dropout(x·√d), dropout(P))``.

    ``P`` has shape (1, 2T − 1, d) and holds the sinusoid of relative positions
    T − 1, T − 2, …, −(T − 1) (espnet ``RelPositionalEncoding``).
    """

    def __init__(self, d_model: int, dropout_rate: float) -> None:
        super().__init__()
        self.d_model = d_model
        self.xscale = math.sqrt(d_model)
        self.dropout = nn.Dropout(p=dropout_rate)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = x.size(1)
        positions = torch.arange(t - 1, -t, -1, device=x.device)
        pos_emb = _sinusoid(positions, self.d_model).to(x.dtype).unsqueeze(0)
        return self.dropout(x * self.xscale), self.dropout(pos_emb)


class MultiHeadedAttention(nn.Module):
    """Scaled dot-product multi-head attention with ``linear_{q,k,v,out}`` projections."""

    def __init__(self, n_head: int, n_feat: int, dropout_rate: float) -> None:
        super().__init__()
        if n_feat % n_head:
            raise ValueError(f"n_feat ({n_feat}) must be divisible by n_head ({n_head})")
        self.d_k = n_feat // n_head
        self.h = n_head
        self.linear_q = nn.Linear(n_feat, n_feat)
        self.linear_k = nn.Linear(n_feat, n_feat)
        self.linear_v = nn.Linear(n_feat, n_feat)
        self.linear_out = nn.Linear(n_feat, n_feat)
        self.dropout = nn.Dropout(p=dropout_rate)

    def forward_qkv(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = query.size(0)
        q = self.linear_q(query).view(b, -1, self.h, self.d_k).transpose(1, 2)
        k = self.linear_k(key).view(b, -1, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(value).view(b, -1, self.h, self.d_k).transpose(1, 2)
        return q, k, v

    def forward_attention(
        self, value: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """``mask``: bool (B, 1, T2) or (B, T1, T2), True where attention is allowed."""
        b = value.size(0)
        if mask is not None:
            blocked = ~mask.unsqueeze(1)
            scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
            attn = torch.softmax(scores, dim=-1).masked_fill(blocked, 0.0)
        else:
            attn = torch.softmax(scores, dim=-1)
        x = torch.matmul(self.dropout(attn), value)
        x = x.transpose(1, 2).reshape(b, -1, self.h * self.d_k)
        return self.linear_out(x)

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        q, k, v = self.forward_qkv(query, key, value)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        return self.forward_attention(v, scores, mask)


class RelPositionMultiHeadedAttention(MultiHeadedAttention):
    """Multi-head self-attention with relative positional encoding (Transformer-XL style)."""

    def __init__(self, n_head: int, n_feat: int, dropout_rate: float) -> None:
        super().__init__(n_head, n_feat, dropout_rate)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.empty(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.empty(self.h, self.d_k))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)

    @staticmethod
    def rel_shift(x: torch.Tensor) -> torch.Tensor:
        """Turn scores against relative positions (B, H, T, 2T−1) into (B, H, T, T).

        Output element (i, j) is input element (i, T − 1 − i + j), i.e. the score of query i
        against the embedding of relative position i − j.
        """
        b, h, t1, n = x.shape
        padded = torch.cat([x.new_zeros(b, h, t1, 1), x], dim=-1).view(b, h, n + 1, t1)
        return padded[:, :, 1:].reshape(b, h, t1, n)[:, :, :, : n // 2 + 1]

    def forward(  # type: ignore[override]
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        pos_emb: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        q, k, v = self.forward_qkv(query, key, value)
        q = q.transpose(1, 2)  # (B, T, H, d_k)
        p = self.linear_pos(pos_emb).view(pos_emb.size(0), -1, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        matrix_ac = torch.matmul(q_u, k.transpose(-2, -1))
        matrix_bd = self.rel_shift(torch.matmul(q_v, p.transpose(-2, -1)))
        scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
        return self.forward_attention(v, scores, mask)


class PositionwiseFeedForward(nn.Module):
    """``w_2(dropout(relu(w_1(x))))``."""

    def __init__(self, idim: int, hidden_units: int, dropout_rate: float) -> None:
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden_units)
        self.w_2 = nn.Linear(hidden_units, idim)
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


def make_pad_mask_from_lengths(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Bool (B, max_len): True at valid (non-padded) positions."""
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)
