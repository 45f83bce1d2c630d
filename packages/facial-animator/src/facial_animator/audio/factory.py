"""One constructor for the audio encoders that the animators share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .frame_rate import FrameRateMode
from .logmel import LogMelAudioEncoder
from .wav2vec2 import Wav2Vec2AudioEncoder

__all__ = ["build_audio_encoder"]


def build_audio_encoder(
    kind: str,
    *,
    frame_rate_mode: FrameRateMode,
    fps: float,
    wav2vec2_path: str | Path | None = None,
    encoder_kwargs: dict[str, Any] | None = None,
    owner: str = "animator",
) -> Wav2Vec2AudioEncoder | LogMelAudioEncoder:
    """``kind`` ``"wav2vec2"`` (random init, or local weights from ``wav2vec2_path``) or ``"logmel"``.

    ``frame_rate_mode`` and ``fps`` always come from the animator; ``encoder_kwargs`` go to the
    encoder's constructor (a ``config`` entry is ignored when weights are loaded from a path).
    """
    kwargs = dict(encoder_kwargs or {})
    kwargs.update(frame_rate_mode=frame_rate_mode, fps=fps)
    if kind == "wav2vec2":
        if wav2vec2_path is not None:
            kwargs.pop("config", None)
            return Wav2Vec2AudioEncoder.from_local(wav2vec2_path, **kwargs)
        return Wav2Vec2AudioEncoder(**kwargs)
    if kind == "logmel":
        return LogMelAudioEncoder(**kwargs)
    raise ValueError(f"{owner}: audio_encoder must be 'wav2vec2' or 'logmel', got {kind!r}")
