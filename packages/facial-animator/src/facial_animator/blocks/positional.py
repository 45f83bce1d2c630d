"""Periodic positional encoding (PPE) of FaceFormer (Fan et al., CVPR 2022, §3.2).

A standard sinusoid (``sin`` on even channels, ``cos`` on odd channels, base 10000) is computed for
positions ``0 … p−1`` and tiled, so position ``t`` receives the encoding of ``t mod p``. The
official module stores the tiled table as the buffer ``pe`` of shape ``(1, p·(max_seq_len//p+1), d)``
(VOCASET ``(1, 630, 64)``, BIWI ``(1, 625, 128)``). Here the buffer keeps that shape for checkpoint
compatibility, but lookups use ``t mod p`` so any sequence length works, and a checkpoint whose
buffer has another length still loads.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["PeriodicPositionalEncoding", "periodic_sinusoid"]


def periodic_sinusoid(d_model: int, period: int, length: int) -> Tensor:
    """``(length, d_model)`` table whose row ``t`` is the sinusoid of position ``t mod period``."""
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model must be a positive even number, got {d_model}")
    if period <= 0:
        raise ValueError(f"period must be positive, got {period}")
    pos = (torch.arange(length, dtype=torch.float32) % period).unsqueeze(1)
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


class PeriodicPositionalEncoding(nn.Module):
    """``x + PPE[:T]`` followed by dropout, for batch-first ``x`` of shape ``(B, T, d)``."""

    pe: Tensor

    def __init__(self, d_model: int, period: int = 25, max_seq_len: int = 600, dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.period = period
        self.dropout = nn.Dropout(p=dropout)
        length = period * (max_seq_len // period + 1)
        self.register_buffer("pe", periodic_sinusoid(d_model, period, length).unsqueeze(0))

    def encoding(self, length: int, offset: int = 0) -> Tensor:
        """``(1, length, d)`` encodings of positions ``offset … offset+length−1`` (no length cap)."""
        idx = (torch.arange(offset, offset + length, device=self.pe.device) % self.period)
        return self.pe[:, idx]

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return self.dropout(x + self.encoding(x.shape[1], offset))

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any], strict: bool,
        missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        key = prefix + "pe"
        value = state_dict.get(key)
        if isinstance(value, Tensor) and value.dim() == 3 and value.shape != self.pe.shape:
            if value.shape[0] != 1 or value.shape[2] != self.d_model or value.shape[1] < self.period:
                error_msgs.append(
                    f"{key}: expected shape (1, L>={self.period}, {self.d_model}), got {tuple(value.shape)}"
                )
                return
            # any tiled length is valid: adopt the checkpoint's buffer
            self.pe = torch.empty_like(value, device=self.pe.device, dtype=self.pe.dtype)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
