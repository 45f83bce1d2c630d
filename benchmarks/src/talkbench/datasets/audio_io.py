"""Audio reading: any soundfile-readable file (or an in-memory array) → mono ``float32`` at 16 kHz.

Channels are averaged to mono and the rate is converted once, here, with
``scipy.signal.resample_poly`` (polyphase FIR, the up/down factors reduced by their gcd); encoders
downstream never resample. Undecodable, empty or non-finite audio raises an error naming the file.

Audio that is not what it claims is refused too (:class:`AudioError` naming the file): silent audio
(peak below :data:`SILENCE_PEAK`), channels that cancel to silence when mixed to mono (one channel
the negative of the other), and floating-point samples outside [-1, 1] (integer PCM values stored
as float, or an un-normalised signal). Clipped audio (more than :data:`CLIPPED_FRACTION` of the
samples at full scale) is loaded with an :class:`AudioWarning` naming the file.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .sample import AUDIO_RATE

__all__ = [
    "CLIPPED_FRACTION",
    "SILENCE_PEAK",
    "AudioError",
    "AudioWarning",
    "load_audio",
    "to_mono_16k",
    "write_wav",
]

#: peak amplitude (full scale = 1) below which audio counts as silent (-80 dBFS)
SILENCE_PEAK = 1e-4
#: fraction of samples at full scale (|x| >= 0.999) above which audio counts as clipped
CLIPPED_FRACTION = 0.001
#: how far float samples may exceed 1 before they count as out of range
_FLOAT_RANGE_TOLERANCE = 1e-3


class AudioError(ValueError):
    """Audio that cannot be used: undecodable, empty, NaN/Inf, silent, cancelling or out of range."""


class AudioWarning(UserWarning):
    """Audio that loads but is suspect (clipped); the message names the file."""


def _check_level(arr: np.ndarray, mono: np.ndarray, is_float: bool, source: str) -> None:
    peak = float(np.max(np.abs(arr)))
    if is_float and peak > 1.0 + _FLOAT_RANGE_TOLERANCE:
        raise AudioError(
            f"{source}: floating-point samples reach |x| = {peak:.4g}, outside [-1, 1]; the file is "
            "integer PCM stored as float or an un-normalised signal (rescale it to [-1, 1])"
        )
    if peak < SILENCE_PEAK:
        raise AudioError(f"{source}: the audio is silent (peak {peak:.3g}, below {SILENCE_PEAK:g})")
    mono_peak = float(np.max(np.abs(mono)))
    if mono_peak < SILENCE_PEAK:
        raise AudioError(
            f"{source}: the channels cancel when mixed to mono (channel peak {peak:.3g}, mono peak "
            f"{mono_peak:.3g}); one channel is the inverse of another: fix its polarity or keep one"
        )
    clipped = int(np.count_nonzero(np.abs(mono) >= 0.999))
    if clipped > CLIPPED_FRACTION * mono.size:
        warnings.warn(
            f"{source}: {clipped} of {mono.size} samples ({100 * clipped / mono.size:.2f} %) are at "
            "full scale; the recording is clipped",
            AudioWarning,
            stacklevel=3,
        )


def to_mono_16k(audio: np.ndarray, sample_rate: int, source: str = "<array>") -> np.ndarray:
    """Mix ``(S,)`` or ``(S, C)`` audio to mono and resample it to :data:`AUDIO_RATE`.

    Integer PCM arrays are scaled to [-1, 1) by their type's range. ``source`` names the data in errors.
    """
    arr = np.asarray(audio)
    if sample_rate <= 0:
        raise AudioError(f"{source}: invalid sample rate {sample_rate}")
    is_float = not np.issubdtype(arr.dtype, np.integer)
    if not is_float:
        info = np.iinfo(arr.dtype)
        arr = arr.astype(np.float64) / float(max(abs(info.min), info.max))
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 2:
        mono = arr.mean(axis=1)
    elif arr.ndim == 1:
        mono = arr
    else:
        raise AudioError(f"{source}: expected a 1-D or (samples, channels) waveform, got shape {arr.shape}")
    if mono.size == 0:
        raise AudioError(f"{source}: the audio is empty")
    if not np.all(np.isfinite(arr)):
        raise AudioError(f"{source}: the audio contains NaN or Inf samples")
    _check_level(arr, mono, is_float, source)
    arr = mono
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
