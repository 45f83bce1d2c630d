"""Rig-parameter tracks of one utterance: speech (coarticulated visemes), mood expression, blinks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..sample import Segment
from .coarticulation import HEAD_DOMINANCE, HEAD_TARGETS, TRACK_CHANNELS, CoarticulationStyle, speech_tracks
from .rig import EXPRESSION_CHANNELS, SPEECH_CHANNELS

__all__ = ["MOOD_EXPRESSIONS", "SpeakerStyle", "blink_track", "expression_tracks", "utterance_params"]

#: mood → values of EXPRESSION_CHANNELS (smile, frown, brow_raise, brow_lower, brow_inner_up, blink, eye_wide)
MOOD_EXPRESSIONS: dict[str, tuple[float, ...]] = {
    "neutral": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "happy": (0.7, 0.0, 0.3, 0.0, 0.0, 0.0, 0.1),
    "sad": (0.0, 0.5, 0.0, 0.0, 0.9, 0.25, 0.0),
    "angry": (0.0, 0.25, 0.0, 1.0, 0.0, 0.2, 0.0),
    "surprised": (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
}


@dataclass(frozen=True)
class SpeakerStyle:
    """Speaking style: coarticulation, expressivity (scales the mood) and blink rate (per second)."""

    coarticulation: CoarticulationStyle
    expressivity: float = 1.0
    blink_rate: float = 0.3


def expression_tracks(
    mood: str,
    times: np.ndarray,
    speech_start: float,
    speech_end: float,
    intensity: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Expression-channel values ``(T, 7)``: the mood's pose, eased in from the start of speech
    over 0.35 s, held with a slow ±8 % drift, eased half-way out over 0.3 s after speech ends."""
    target = np.asarray(MOOD_EXPRESSIONS[mood]) * intensity
    t = np.asarray(times, dtype=np.float64)
    rise = np.clip((t - (speech_start - 0.1)) / 0.35, 0.0, 1.0)
    fall = 1.0 - 0.5 * np.clip((t - speech_end) / 0.3, 0.0, 1.0)
    env = rise * rise * (3 - 2 * rise) * fall
    phase = rng.uniform(0, 2 * np.pi)
    drift = 1.0 + 0.08 * np.sin(2 * np.pi * rng.uniform(0.3, 0.8) * t + phase)
    return (env * drift)[:, None] * target[None, :]


def blink_track(times: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Eyelid closure in [0, 1]: blinks at Poisson times (≥ 1 s apart), each closing in 0.1 s and
    opening in 0.15 s (raised-cosine shape)."""
    t = np.asarray(times, dtype=np.float64)
    out = np.zeros_like(t)
    if len(t) == 0:
        return out
    onset = rng.exponential(1.0 / rate) * rng.uniform(0.2, 1.0)
    while onset < t[-1]:
        close, open_ = 0.1, 0.15
        rel = t - onset
        up = (rel >= 0) & (rel < close)
        down = (rel >= close) & (rel < close + open_)
        out[up] = np.maximum(out[up], 0.5 - 0.5 * np.cos(np.pi * rel[up] / close))
        out[down] = np.maximum(out[down], 0.5 + 0.5 * np.cos(np.pi * (rel[down] - close) / open_))
        onset += max(1.0, rng.exponential(1.0 / rate))
    return out


def utterance_params(
    phones: list[Segment],
    mood: str,
    num_frames: int,
    fps: float,
    style: SpeakerStyle,
    rng: np.random.Generator,
    tongue: bool = False,
) -> np.ndarray:
    """All rig channels at frame times ``i / fps``: ``(num_frames, len(CHANNELS))`` for
    ``synth-face-v1``, or with ``tongue`` the ``(num_frames, 14)`` channels of ``synth-head-v2``
    (:data:`.head_rig.HEAD_CHANNELS`: the speech channels, ``tongue_tip``, the expression channels).
    The expression channels get the same values, from the same random draws, either way. The head's
    speech uses :data:`.coarticulation.HEAD_TARGETS` / ``HEAD_DOMINANCE`` and leaves ``lip_close`` out
    of the speaker's gains: a speaker may round or open more or less, but closes for every bilabial."""
    times = np.arange(num_frames) / fps
    n_speech = len(TRACK_CHANNELS) if tongue else len(SPEECH_CHANNELS)
    params = np.zeros((num_frames, n_speech + len(EXPRESSION_CHANNELS)), dtype=np.float64)
    if tongue:
        gains = list(style.coarticulation.gains)
        gains[SPEECH_CHANNELS.index("lip_close")] = 1.0
        coart = dataclasses.replace(style.coarticulation, gains=tuple(gains))
        params[:, :n_speech] = speech_tracks(
            phones, times, coart, targets=HEAD_TARGETS, dominance=HEAD_DOMINANCE
        )
    else:
        params[:, :n_speech] = speech_tracks(phones, times, style.coarticulation)[:, :n_speech]
    start, end = phones[0][1], phones[-1][2]
    intensity = style.expressivity * rng.uniform(0.75, 1.0)
    expr = expression_tracks(mood, times, start, end, intensity, rng)
    ex0 = n_speech
    params[:, ex0:] = expr
    b = ex0 + EXPRESSION_CHANNELS.index("blink")
    params[:, b] = np.maximum(params[:, b], blink_track(times, style.blink_rate, rng))
    return np.clip(params, 0.0, 1.3).astype(np.float32)
