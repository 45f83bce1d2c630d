"""Audio encoders: ``(B, S)`` 16 kHz audio → ``(B, T_a, C)`` features at the motion rate."""

from .factory import build_audio_encoder
from .frame_rate import AUDIO_FEATURE_RATE, FrameRateMode, adapt_frame_rate, conv_output_length
from .logmel import LogMelAudioEncoder, log_mel_spectrogram, mel_filterbank
from .spec_augment import span_mask
from .wav2vec2 import WAV2VEC2_BASE_960H, LegacyWeightNormConv1d, Wav2Vec2AudioEncoder, normalize_waveform

__all__ = [
    "AUDIO_FEATURE_RATE",
    "WAV2VEC2_BASE_960H",
    "FrameRateMode",
    "LegacyWeightNormConv1d",
    "LogMelAudioEncoder",
    "Wav2Vec2AudioEncoder",
    "adapt_frame_rate",
    "build_audio_encoder",
    "conv_output_length",
    "log_mel_spectrogram",
    "mel_filterbank",
    "normalize_waveform",
    "span_mask",
]
