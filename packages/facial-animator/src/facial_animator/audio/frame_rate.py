"""Official frame-rate handling of audio features (FaceFormer ``wav2vec.py``), at the CNN-feature level.

Both audio encoders produce 50 Hz features (16 kHz / 320). Before the feature projection they are
brought to the motion rate by one of two rules:

* ``"interpolate"`` (VOCASET, and any other fps): linear interpolation in time with
  ``align_corners=True`` to ``frame_num`` frames when the number of motion frames is known
  (training), else to ``int(L / 50 · fps)`` frames (inference).
* ``"pair"`` (BIWI, 25 fps): no resampling, two audio frames per motion frame. An odd last frame is
  dropped; when ``frame_num`` is known and ``L > 2·frame_num`` the features are cut to ``2·frame_num``.
"""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor

__all__ = ["AUDIO_FEATURE_RATE", "FrameRateMode", "adapt_frame_rate", "conv_output_length"]

AUDIO_FEATURE_RATE = 50.0
"""Rate (Hz) of the 50 Hz audio features (16 kHz input, total stride 320)."""

FrameRateMode = Literal["interpolate", "pair"]

WAV2VEC2_CONV_KERNELS = (10, 3, 3, 3, 3, 2, 2)
WAV2VEC2_CONV_STRIDES = (5, 2, 2, 2, 2, 2, 2)


def conv_output_length(num_samples: int) -> int:
    """Frames of the wav2vec2 CNN for ``num_samples`` samples: ``L ← ⌊(L − k)/s⌋ + 1`` per layer."""
    length = num_samples
    for k, s in zip(WAV2VEC2_CONV_KERNELS, WAV2VEC2_CONV_STRIDES):
        length = (length - k) // s + 1
    return max(length, 0)


def adapt_frame_rate(
    features: Tensor, mode: FrameRateMode, fps: float, frame_num: int | None = None
) -> Tensor:
    """Bring ``(B, L, C)`` 50 Hz features to the motion rate (see the module docstring).

    Returns ``(B, T_a, C)`` with ``T_a = T`` (interpolate) or ``T_a ≤ 2T`` even (pair).
    """
    if features.dim() != 3:
        raise ValueError(f"features must be (B, L, C), got shape {tuple(features.shape)}")
    length = features.shape[1]
    if mode == "interpolate":
        out_len = int(frame_num) if frame_num is not None else int(length / AUDIO_FEATURE_RATE * fps)
        if out_len <= 0:
            raise ValueError(
                f"audio too short: {length} feature frames give {out_len} motion frames at {fps} fps"
            )
        resampled = F.interpolate(features.transpose(1, 2), size=out_len, mode="linear", align_corners=True)
        return resampled.transpose(1, 2)
    if mode == "pair":
        if length % 2:
            features = features[:, :-1]
        if frame_num is not None and features.shape[1] > 2 * frame_num:
            features = features[:, : 2 * frame_num]
        if features.shape[1] < 2:
            raise ValueError(f"audio too short: {length} feature frames give no motion frame in 'pair' mode")
        return features
    raise ValueError(f"frame-rate mode must be 'interpolate' or 'pair', got {mode!r}")


def audio_frames_per_motion_frame(mode: FrameRateMode) -> int:
    """Audio frames aligned with one motion frame: 1 after interpolation, 2 in ``pair`` mode."""
    return 2 if mode == "pair" else 1
