"""What a lip reader expects as input, and the checks / conversions at its boundary.

The auto-avsr readers take mouth video at 25 fps, 88×88, one grey channel, normalised as
``(x − 0.421) / 0.165`` with ``x`` in [0, 1] (``methods.md`` §2.9), and 16 kHz mono waveform,
layer-normalised over the whole utterance. :meth:`InputSpec.check_video` rejects anything else;
:meth:`InputSpec.convert_video` converts when the caller asks for it: RGB → grey (ITU-R BT.601
luma weights), centre crop or bilinear resize to the crop size, linear resampling in time to the
spec's fps (differentiable), and normalisation of [0, 1] pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch.nn import functional as F

AUDIO_LAYER_NORM_EPS = 1e-8
"""Variance floor of the audio layer norm: auto_avsr's ``AudioTransform`` uses ``eps=1e-8``."""

LEGACY_AUDIO_NORM_EPS = 1e-5
"""The floor of checkpoints whose ``input_spec`` has no ``audio_norm_eps`` (``torch.nn.LayerNorm``'s
default, used by this package before the floor was recorded): such a reader keeps reading its audio as it
was trained. :meth:`InputSpec.to_dict` leaves the key out for this value, so those files stay byte-equal."""

PixelRange = Literal["normalized", "unit"]


@dataclass(frozen=True)
class InputSpec:
    """Input contract of a lip reader (lesson 16 of ``conventions.md``)."""

    fps: float = 25.0
    crop: int = 88
    channels: int = 1
    mean: float = 0.421
    std: float = 0.165
    sample_rate: int = 16000
    audio_layer_norm: bool = True
    text_case: str = "upper"
    #: variance floor of the audio layer norm (:meth:`prepare_audio`); official readers: 1e-8
    audio_norm_eps: float = AUDIO_LAYER_NORM_EPS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["audio_norm_eps"] == LEGACY_AUDIO_NORM_EPS:
            del data["audio_norm_eps"]  # the layout written before the key existed
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        """Inverse of :meth:`to_dict`; a dict without ``audio_norm_eps`` is a reader normalised with
        :data:`LEGACY_AUDIO_NORM_EPS`."""
        return cls(**{"audio_norm_eps": LEGACY_AUDIO_NORM_EPS, **data})

    @property
    def samples_per_frame(self) -> int:
        spf = self.sample_rate / self.fps
        if abs(spf - round(spf)) > 1e-6:
            raise ValueError(f"sample_rate {self.sample_rate} is not a whole multiple of fps {self.fps}")
        return round(spf)

    # ------------------------------------------------------------------ video
    def check_video(self, video: torch.Tensor, fps: float | None = None, name: str = "video") -> None:
        """Raise ``ValueError`` unless ``video`` is (B, T, channels, crop, crop), finite, at ``self.fps``."""
        if fps is not None and not math.isclose(fps, self.fps, rel_tol=0, abs_tol=1e-6):
            raise ValueError(
                f"{name} is at {fps} fps but the lip reader expects {self.fps} fps; resample it, or "
                "pass convert=True to resample linearly in time"
            )
        if video.dim() != 5:
            raise ValueError(f"{name} must be (B, T, C, H, W), got shape {tuple(video.shape)}")
        _, t, c, h, w = video.shape
        if c != self.channels or h != self.crop or w != self.crop:
            raise ValueError(
                f"{name} frames are {c}×{h}×{w} (C×H×W) but the lip reader expects "
                f"{self.channels}×{self.crop}×{self.crop}; pass convert=True to convert "
                "(grey conversion, centre crop / resize)"
            )
        if t == 0:
            raise ValueError(f"{name} has no frames")
        if not video.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {video.dtype}")
        if video.device.type != "meta" and not bool(torch.isfinite(video).all()):
            raise ValueError(f"{name} contains NaN or Inf values")

    def normalize(self, frames01: torch.Tensor) -> torch.Tensor:
        """``(x − mean) / std`` for pixels in [0, 1]."""
        return (frames01 - self.mean) / self.std

    def convert_video(
        self, video: torch.Tensor, fps: float | None = None, pixel_range: PixelRange = "normalized"
    ) -> torch.Tensor:
        """Convert (B, T, C, H, W) video to the spec (differentiable).

        ``pixel_range="unit"`` means the input pixels are in [0, 1] and get normalised;
        ``"normalized"`` means they are already normalised. RGB input (C = 3) is converted to grey
        only from ``"unit"`` pixels (the luma weights apply to intensities, not to normalised values).
        """
        if video.dim() != 5:
            raise ValueError(f"video must be (B, T, C, H, W), got shape {tuple(video.shape)}")
        if pixel_range not in ("normalized", "unit"):
            raise ValueError(f"pixel_range must be 'normalized' or 'unit', got {pixel_range!r}")
        video = video.float()
        b, t, c, h, w = video.shape
        if c != self.channels:
            if c == 3 and self.channels == 1:
                if pixel_range != "unit":
                    raise ValueError("RGB → grey conversion needs pixel_range='unit' ([0, 1] pixels)")
                weights = video.new_tensor([0.299, 0.587, 0.114]).view(1, 1, 3, 1, 1)
                video = (video * weights).sum(dim=2, keepdim=True)
            else:
                raise ValueError(f"cannot convert {c}-channel video to {self.channels} channels")
        if (h, w) != (self.crop, self.crop):
            if h >= self.crop and w >= self.crop:
                top, left = (h - self.crop) // 2, (w - self.crop) // 2
                video = video[..., top : top + self.crop, left : left + self.crop]
            else:
                flat = video.reshape(b * t, self.channels, h, w)
                flat = F.interpolate(flat, size=(self.crop, self.crop), mode="bilinear", align_corners=False)
                video = flat.view(b, t, self.channels, self.crop, self.crop)
        if fps is not None and not math.isclose(fps, self.fps, rel_tol=0, abs_tol=1e-6):
            video = resample_time(video, fps, self.fps)
        if pixel_range == "unit":
            video = self.normalize(video)
        return video

    # ------------------------------------------------------------------ audio
    def check_audio(self, audio: torch.Tensor, sample_rate: int | None = None, name: str = "audio") -> None:
        """Raise unless ``audio`` is a finite (B, S) or (B, S, 1) waveform at ``self.sample_rate``."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(
                f"{name} is at {sample_rate} Hz but the lip reader expects {self.sample_rate} Hz; "
                "resample it once when loading (e.g. scipy.signal.resample_poly)"
            )
        if audio.dim() == 3 and audio.size(-1) == 1:
            audio = audio[..., 0]
        if audio.dim() != 2:
            raise ValueError(f"{name} must be a mono waveform (B, S), got shape {tuple(audio.shape)}")
        if not audio.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {audio.dtype}")
        if audio.device.type != "meta" and not bool(torch.isfinite(audio).all()):
            raise ValueError(f"{name} contains NaN or Inf values")

    def prepare_audio(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Layer-normalise each waveform over its valid samples (zero mean, unit variance), as the
        official audio transform does; padded samples stay zero.

        ``(x - mean) / sqrt(var + audio_norm_eps)`` with the population variance: auto_avsr's
        ``AudioTransform`` applies ``layer_norm(x, x.shape, eps=1e-8)`` (``datamodule/transforms.py``),
        the default :data:`AUDIO_LAYER_NORM_EPS`.
        """
        if audio.dim() == 3:
            audio = audio[..., 0]
        if not self.audio_layer_norm:
            return audio
        if lengths is None:
            return F.layer_norm(audio, audio.shape[1:], eps=self.audio_norm_eps)
        mask = torch.arange(audio.size(1), device=audio.device)[None] < lengths[:, None]
        n = lengths.clamp(min=1).to(audio.dtype)[:, None]
        mean = (audio * mask).sum(1, keepdim=True) / n
        var = (((audio - mean) * mask) ** 2).sum(1, keepdim=True) / n
        return ((audio - mean) / torch.sqrt(var + self.audio_norm_eps)) * mask


def resample_time(video: torch.Tensor, src_fps: float, dst_fps: float) -> torch.Tensor:
    """Linear interpolation in time of (B, T, C, H, W) from ``src_fps`` to ``dst_fps``.

    Output frame k samples time k / dst_fps; the number of output frames is
    ``floor((T − 1)·dst/src) + 1`` so that no frame lies after the last input frame.
    """
    if src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"fps must be positive, got {src_fps} → {dst_fps}")
    t = video.size(1)
    n_out = math.floor((t - 1) * dst_fps / src_fps + 1e-9) + 1
    pos = torch.arange(n_out, device=video.device, dtype=torch.float64) * (src_fps / dst_fps)
    lo = pos.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    frac = (pos - lo.double()).to(video.dtype).view(1, -1, 1, 1, 1)
    return video[:, lo] * (1 - frac) + video[:, hi] * frac
