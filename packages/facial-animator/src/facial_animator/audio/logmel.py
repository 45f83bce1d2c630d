"""Log-mel audio encoder for small CPU runs, with wav2vec2's 50 Hz frame contract.

Features: a Hann-windowed STFT (``torch.stft``, 400-sample window = 25 ms = ``n_fft``, hop 320 =
20 ms, no centring) so that ``L = ⌊(S − 400)/320⌋ + 1`` frames — the same count as the
wav2vec2 CNN (receptive field 400, total stride 320) — then an HTK mel filterbank
(``mel(f) = 2595·log10(1 + f/700)``, triangular filters between ``f_min`` and ``f_max``) and
``log(mel + 1e-6)``, normalised per utterance and channel. The 50 Hz frames go through the same
frame-rate rule as wav2vec2 (:func:`~facial_animator.audio.frame_rate.adapt_frame_rate`), then a
projection (LayerNorm → Linear) and a small same-length temporal convolution give
``(B, T_a, output_dim)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .frame_rate import FrameRateMode, adapt_frame_rate, audio_frames_per_motion_frame

__all__ = ["LogMelAudioEncoder", "hz_to_mel", "log_mel_spectrogram", "mel_filterbank", "mel_to_hz"]

SAMPLE_RATE = 16_000
WIN_LENGTH = 400
HOP_LENGTH = 320
N_FFT = 400


def hz_to_mel(hz: Tensor | float) -> Tensor:
    """HTK mel scale: ``2595 · log10(1 + f / 700)``."""
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: Tensor | float) -> Tensor:
    """Inverse of :func:`hz_to_mel`: ``700 · (10^(m / 2595) − 1)``."""
    return 700.0 * (10.0 ** (torch.as_tensor(mel, dtype=torch.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int = 80, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
    f_min: float = 0.0, f_max: float | None = None,
) -> Tensor:
    """``(n_fft//2 + 1, n_mels)`` triangular HTK filters (peak 1, no area normalisation)."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={f_min}, f_max={f_max}")
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2,
                                     dtype=torch.float64))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rise = (freqs[:, None] - lower[None]) / (centre - lower)[None]
    fall = (upper[None] - freqs[:, None]) / (upper - centre)[None]
    return torch.clamp(torch.minimum(rise, fall), min=0.0).to(torch.float32)


def log_mel_spectrogram(audio: Tensor, filterbank: Tensor, window: Tensor) -> Tensor:
    """``(B, S)`` audio → ``(B, L, n_mels)`` log-mel frames, ``L = ⌊(S − 400)/320⌋ + 1``."""
    if audio.shape[-1] < WIN_LENGTH:
        raise ValueError(
            f"audio has {audio.shape[-1]} samples; the log-mel encoder needs at least {WIN_LENGTH}"
        )
    spec = torch.stft(audio, n_fft=N_FFT, hop_length=HOP_LENGTH, win_length=WIN_LENGTH, window=window,
                      center=False, return_complex=True)
    power = spec.real.square() + spec.imag.square()  # (B, F, L)
    mel = torch.einsum("bfl,fm->blm", power, filterbank)
    return torch.log(mel + 1e-6)


class LogMelAudioEncoder(nn.Module):
    """``(B, S)`` 16 kHz audio → ``(B, T_a, output_dim)`` features at the motion rate.

    Args:
        output_dim: feature size.
        n_mels: mel channels.
        frame_rate_mode / fps: the frame-rate rule (``"interpolate"`` to ``fps`` or ``"pair"``).
        context: kernel size of the temporal convolution after the projection (odd).
    """

    window: Tensor
    filterbank: Tensor

    def __init__(
        self, output_dim: int = 64, n_mels: int = 40, *, frame_rate_mode: FrameRateMode = "interpolate",
        fps: float = 30.0, context: int = 3,
    ) -> None:
        super().__init__()
        if context % 2 != 1:
            raise ValueError(f"context must be odd, got {context}")
        self.frame_rate_mode: FrameRateMode = frame_rate_mode
        self.fps = float(fps)
        self.n_mels = n_mels
        self._output_dim = output_dim
        self.register_buffer("window", torch.hann_window(WIN_LENGTH, periodic=True), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(n_mels), persistent=False)
        self.norm = nn.LayerNorm(n_mels)
        self.projection = nn.Linear(n_mels, output_dim)
        self.context = nn.Conv1d(output_dim, output_dim, context, padding=context // 2)

    @property
    def output_dim(self) -> int:
        return self._output_dim

    @property
    def audio_frames_per_motion_frame(self) -> int:
        return audio_frames_per_motion_frame(self.frame_rate_mode)

    def forward(self, audio: Tensor, frame_num: int | None = None) -> Tensor:
        if audio.dim() != 2:
            raise ValueError(f"audio must be (B, S), got shape {tuple(audio.shape)}")
        feats = log_mel_spectrogram(audio.float(), self.filterbank, self.window)
        mean = feats.mean(dim=1, keepdim=True)
        std = feats.std(dim=1, keepdim=True, unbiased=False)
        feats = (feats - mean) / (std + 1e-5)
        feats = adapt_frame_rate(feats, self.frame_rate_mode, self.fps, frame_num)
        hidden = self.projection(self.norm(feats))
        return hidden + torch.relu(self.context(hidden.transpose(1, 2))).transpose(1, 2) / math.sqrt(2.0)
