"""SpecAugment span masks as used by FaceFormer's modified wav2vec2 forward.

FaceFormer re-implements fairseq's ``compute_mask_indices`` (no padding, ``min_masks=2``):
for a sequence of ``L`` frames, ``n = max(min_masks, int(p·L/ℓ + u))`` spans (``u ~ U[0,1)``) of
length ``ℓ`` start at distinct positions drawn uniformly from ``0 … L − ℓ'`` (``ℓ' = ℓ``, or
``L − n − 1`` when ``L − ℓ ≤ n``); spans are clipped at ``L``; every row of the batch then keeps the
same number of masked frames (rows with more are subsampled at random). Random numbers come from
torch's generator so that ``torch.manual_seed`` makes training reproducible.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["span_mask"]


def span_mask(
    batch_size: int, length: int, mask_prob: float, mask_length: int, min_masks: int = 2,
    *, device: torch.device | str | None = None,
) -> Tensor:
    """``(batch_size, length)`` bool mask, ``True`` on masked frames (see the module docstring)."""
    if length <= 0:
        return torch.zeros(batch_size, max(length, 0), dtype=torch.bool, device=device)
    num_mask = int(mask_prob * length / float(mask_length) + torch.rand(()).item())
    num_mask = max(min_masks, num_mask)
    min_len = mask_length
    if length - min_len <= num_mask:
        min_len = length - num_mask - 1
    num_starts = length - min_len
    num_mask = min(num_mask, num_starts)
    rows: list[Tensor] = []
    for _ in range(batch_size):
        starts = torch.randperm(num_starts)[:num_mask]
        idx = (starts.unsqueeze(1) + torch.arange(mask_length).unsqueeze(0)).flatten()
        rows.append(torch.unique(idx[idx < length]))
    keep = min(len(r) for r in rows)
    mask = torch.zeros(batch_size, length, dtype=torch.bool)
    for b, r in enumerate(rows):
        if len(r) > keep:
            r = r[torch.randperm(len(r))[:keep]]
        mask[b, r] = True
    return mask.to(device)
