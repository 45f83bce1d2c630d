"""Audio reading: any soundfile-readable file (or an in-memory array) → mono ``float32`` at 16 kHz.

Channels are averaged to mono and the rate is converted once, here, with
``scipy.signal.resample_poly`` (polyphase FIR, the up/down factors reduced by their gcd); encoders
downstream never resample. Undecodable, empty or non-finite audio raises an error naming the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .sample import AUDIO_RATE

__all__ = ["AudioError", "load_audio", "to_mono_16k", "write_wav"]


class AudioError(ValueError):
    """Audio that cannot be used: undecodable, empty, or containing NaN/Inf."""


def to_mono_16k(audio: np.ndarray, sample_rate: int, source: str = "<array>") -> np.ndarray:
    """Mix ``(S,)`` or ``(S, C)`` audio to mono and resample it to :data:`AUDIO_RATE`.

    Integer PCM arrays are scaled to [-1, 1) by their type's range. ``source`` names the data in errors.
    """
    arr = np.asarray(audio)
    if sample_rate <= 0:
        raise AudioError(f"{source}: invalid sample rate {sample_rate}")
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        arr = arr.astype(np.float64) / float(max(abs(info.min), info.max))
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 2:
        arr = arr.mean(axis=1)
    elif arr.ndim != 1:
        raise AudioError(f"{source}: expected a 1-D or (samples, channels) waveform, got shape {arr.shape}")
    if arr.size == 0:
        raise AudioError(f"{source}: the audio is empty")
    if not np.all(np.isfinite(arr)):
        raise AudioError(f"{source}: the audio contains NaN or Inf samples")
    if sample_rate != AUDIO_RATE:
        g = math.gcd(int(sample_rate), AUDIO_RATE)
        arr = resample_poly(arr, AUDIO_RATE // g, int(sample_rate) // g)
    return arr.astype(np.float32)


def load_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an audio file as mono ``float32`` at 16 kHz.

    Raises:
        FileNotFoundError: the file is missing.
        AudioError: the file cannot be decoded, is empty, or holds NaN/Inf.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"audio file not found: {p}")
    try:
        data, rate = sf.read(str(p), dtype="float64", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(f"{p}: cannot decode audio ({exc}); expected a WAV/FLAC/OGG file") from exc
    return to_mono_16k(data, int(rate), source=str(p))


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int = AUDIO_RATE) -> None:
    """Write mono audio as 16-bit PCM WAV (the processed-layout format), atomically."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    sf.write(
        str(tmp),
        np.clip(np.asarray(audio, dtype=np.float64), -1.0, 1.0),
        sample_rate,
        subtype="PCM_16",
        format="WAV",
    )
    os.replace(tmp, p)
