"""Attention masks of FaceFormer (Fan et al., CVPR 2022, §3.2), buildable at any length.

* :func:`periodic_causal_bias` — the ALiBi-style "biased causal" self-attention mask:
  ``M[h, i, j] = −m_h · ⌊(i − j)/p⌋`` for ``j ≤ i`` and ``−inf`` for ``j > i``, with the ALiBi
  geometric slopes (4 heads: ``[2⁻², 2⁻⁴, 2⁻⁶, 2⁻⁸]``). The official code builds it once for
  600 frames; here it is built for the length at hand, so there is no 600-frame cap.
* :func:`alignment_mask` — the hard cross-modal mask (``True`` = blocked): motion frame ``i`` sees
  audio frames ``k·i … k·i+k−1`` with ``k = 1`` (VOCASET, audio resampled to the motion rate) or
  ``k = 2`` (BIWI, 50 Hz audio for 25 fps motion).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["alibi_slopes", "alignment_mask", "periodic_causal_bias"]


def alibi_slopes(n_head: int) -> list[float]:
    """ALiBi head slopes (Press et al., 2022): geometric with start = ratio = 2^(−8/n).

    For a head count that is not a power of two, the slopes of the closest lower power of two
    are followed by every other slope of twice that power (as in ALiBi).
    """
    if n_head <= 0:
        raise ValueError(f"n_head must be positive, got {n_head}")

    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-(2.0 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n_head).is_integer():
        return power_of_two(n_head)
    closest = 2 ** math.floor(math.log2(n_head))
    return power_of_two(closest) + alibi_slopes(2 * closest)[0::2][: n_head - closest]


def periodic_causal_bias(
    n_head: int, length: int, period: int, *, device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``(n_head, length, length)`` additive mask ``−m_h·⌊(i−j)/p⌋`` below the diagonal, ``−inf`` above."""
    if length <= 0 or period <= 0:
        raise ValueError(f"length and period must be positive, got length={length}, period={period}")
    i = torch.arange(length, device=device).unsqueeze(1)
    j = torch.arange(length, device=device).unsqueeze(0)
    steps = torch.div(i - j, period, rounding_mode="floor").to(dtype)
    slopes = torch.tensor(alibi_slopes(n_head), dtype=dtype, device=device).view(-1, 1, 1)
    bias = -slopes * steps.unsqueeze(0)
    return bias.masked_fill((j > i).unsqueeze(0), float("-inf"))


def alignment_mask(
    motion_len: int, audio_len: int, audio_frames_per_motion_frame: int = 1, *,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(motion_len, audio_len)`` bool mask, ``True`` where motion frame ``i`` may NOT attend.

    Frame ``i`` may attend audio frames ``k·i … k·i + k − 1`` (``k = audio_frames_per_motion_frame``).
    """
    k = audio_frames_per_motion_frame
    if k <= 0:
        raise ValueError(f"audio_frames_per_motion_frame must be positive, got {k}")
    i = torch.arange(motion_len, device=device).unsqueeze(1)
    j = torch.arange(audio_len, device=device).unsqueeze(0)
    return ~((j >= k * i) & (j < k * i + k))
