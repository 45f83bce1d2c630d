"""wav2vec2 audio encoder with FaceFormer's modified forward (Fan et al., CVPR 2022, ``wav2vec.py``).

The module *is* a ``transformers.Wav2Vec2Model`` (base-960h architecture by default: 7-layer CNN,
12 post-LN transformer layers, d = 768), so its parameter names are those of the official
checkpoints: inside FaceFormer, under the attribute ``audio_encoder``, ``state_dict`` keys equal the
official ``audio_encoder.*`` keys. Differences from the Hugging Face forward, as in the official code:

1. optional per-utterance normalisation of the waveform (what ``Wav2Vec2Processor`` does in the
   official data loader: ``(x − mean) / sqrt(var + 1e-7)``);
2. the 50 Hz CNN features are brought to the motion rate *before* ``feature_projection``
   (:func:`~facial_animator.audio.frame_rate.adapt_frame_rate`);
3. SpecAugment time masking with the custom span sampler (``min_masks=2``) in training mode;
4. the positional convolution keeps the legacy weight-norm parameters ``weight_g`` / ``weight_v``
   (the official key names); checkpoints saved with torch's parametrized names
   (``parametrizations.weight.original0/1``) load too.

The CNN feature encoder is frozen. Weights come from a local directory or the local Hugging Face
cache (:meth:`Wav2Vec2AudioEncoder.from_local`, never a download) or are randomly initialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import Wav2Vec2Config, Wav2Vec2Model

from .frame_rate import FrameRateMode, adapt_frame_rate, audio_frames_per_motion_frame, conv_output_length
from .spec_augment import span_mask

__all__ = ["WAV2VEC2_BASE_960H", "Wav2Vec2AudioEncoder", "normalize_waveform"]

WAV2VEC2_BASE_960H = "facebook/wav2vec2-base-960h"


def normalize_waveform(audio: Tensor, eps: float = 1e-7) -> Tensor:
    """Per-utterance zero mean, unit variance: ``(x − mean) / sqrt(var + eps)`` over the last axis."""
    mean = audio.mean(dim=-1, keepdim=True)
    var = audio.var(dim=-1, keepdim=True, unbiased=False)
    return (audio - mean) / torch.sqrt(var + eps)


class LegacyWeightNormConv1d(nn.Module):
    """Conv1d with weight normalisation over dim 2, stored as ``weight_g`` / ``weight_v`` / ``bias``.

    ``weight = weight_v · weight_g / ‖weight_v‖`` with the norm over dims 0 and 1 (``dim=2`` weight
    norm, as wav2vec2's positional convolution). This keeps the key names of checkpoints written
    with torch 1.x; torch's parametrized names are mapped on load.
    """

    def __init__(self, conv: nn.Conv1d) -> None:
        super().__init__()
        param = getattr(conv, "parametrizations", None)
        if param is not None and "weight" in param:
            g, v = param.weight.original0, param.weight.original1
        else:  # plain conv: derive g from v
            v = conv.weight
            g = v.norm(dim=(0, 1), keepdim=True) if v.device.type != "meta" else torch.empty(
                1, 1, v.shape[2], device="meta")
        self.weight_g = nn.Parameter(g.detach().clone())
        self.weight_v = nn.Parameter(v.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None
        self.padding = conv.padding
        self.groups = conv.groups
        self.stride = conv.stride

    @property
    def weight(self) -> Tensor:
        return self.weight_v * (self.weight_g / self.weight_v.norm(dim=(0, 1), keepdim=True))

    def forward(self, x: Tensor) -> Tensor:
        return F.conv1d(
            x, self.weight, self.bias, stride=self.stride, padding=self.padding, groups=self.groups
        )

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any], strict: bool,
        missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        for new, old in (("parametrizations.weight.original0", "weight_g"),
                         ("parametrizations.weight.original1", "weight_v")):
            if prefix + new in state_dict and prefix + old not in state_dict:
                state_dict[prefix + old] = state_dict.pop(prefix + new)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class Wav2Vec2AudioEncoder(Wav2Vec2Model):
    """FaceFormer's wav2vec2 audio encoder: ``(B, S)`` 16 kHz audio → ``(B, T_a, 768)``.

    Args:
        config: a ``Wav2Vec2Config``, or a mapping of its fields (how a YAML preset sizes a
            random-init encoder, e.g. ``{hidden_size: 32, num_hidden_layers: 1, ...}``); the default
            (``Wav2Vec2Config()``) is the base-960h architecture.
        frame_rate_mode: ``"interpolate"`` (VOCASET: 50 Hz → ``fps``) or ``"pair"`` (BIWI: two
            50 Hz frames per 25 fps motion frame).
        fps: motion frame rate.
        normalize_input: normalise each waveform to zero mean and unit variance first.
        mask_min_masks: minimum number of SpecAugment spans per sequence (2, as the official code).
    """

    def __init__(
        self,
        config: Wav2Vec2Config | Mapping[str, Any] | None = None,
        *,
        frame_rate_mode: FrameRateMode = "interpolate",
        fps: float = 30.0,
        normalize_input: bool = True,
        mask_min_masks: int = 2,
    ) -> None:
        if isinstance(config, Mapping):
            config = Wav2Vec2Config(**config)
        super().__init__(config if config is not None else Wav2Vec2Config())
        pos = self.encoder.pos_conv_embed
        pos.conv = LegacyWeightNormConv1d(pos.conv)
        self.feature_extractor._freeze_parameters()
        self.frame_rate_mode: FrameRateMode = frame_rate_mode
        self.fps = float(fps)
        self.normalize_input = normalize_input
        self.mask_min_masks = mask_min_masks

    @property
    def output_dim(self) -> int:
        return int(self.config.hidden_size)

    @property
    def audio_frames_per_motion_frame(self) -> int:
        return audio_frames_per_motion_frame(self.frame_rate_mode)

    @classmethod
    def from_local(
        cls, name_or_path: str = WAV2VEC2_BASE_960H, **kwargs: Any
    ) -> Wav2Vec2AudioEncoder:
        """Load pretrained weights from a local directory or the local Hugging Face cache.

        Never downloads (``local_files_only=True``). The CTC head of ``*-960h`` checkpoints is
        dropped; ``masked_spec_embed`` is newly initialised when absent, as in the official code.
        """
        try:
            stock = Wav2Vec2Model.from_pretrained(name_or_path, local_files_only=True)
        except OSError as err:
            raise OSError(
                f"wav2vec2 weights {name_or_path!r} are not available locally (downloads are disabled). "
                f"Pass a local directory holding config.json and the weights, or place the model in the "
                f"Hugging Face cache beforehand; or build Wav2Vec2AudioEncoder() for random init. ({err})"
            ) from err
        encoder = cls(stock.config, **kwargs)
        encoder.load_state_dict(stock.state_dict(), strict=True)
        return encoder

    def num_frames(self, num_samples: int, frame_num: int | None = None) -> int:
        """Audio frames this encoder returns for ``num_samples`` samples (before any truncation)."""
        length = conv_output_length(num_samples)
        if self.frame_rate_mode == "interpolate":
            return int(frame_num) if frame_num is not None else int(length / 50 * self.fps)
        length -= length % 2
        return min(length, 2 * frame_num) if frame_num is not None else length

    def _spec_augment(self, hidden: Tensor) -> Tensor:
        cfg = self.config
        if not self.training or not getattr(cfg, "apply_spec_augment", True):
            return hidden
        batch, length, size = hidden.shape
        if cfg.mask_time_prob > 0:
            mask = span_mask(batch, length, cfg.mask_time_prob, cfg.mask_time_length,
                             self.mask_min_masks, device=hidden.device)
            hidden = torch.where(mask.unsqueeze(-1), self.masked_spec_embed.to(hidden.dtype), hidden)
        if cfg.mask_feature_prob > 0:
            fmask = span_mask(batch, size, cfg.mask_feature_prob, cfg.mask_feature_length,
                              cfg.mask_feature_min_masks, device=hidden.device)
            hidden = hidden.masked_fill(fmask.unsqueeze(1), 0.0)
        return hidden

    def forward(self, audio: Tensor, frame_num: int | None = None) -> Tensor:  # type: ignore[override]
        """``(B, S)`` waveform → ``(B, T_a, hidden)`` features at the motion rate (see class doc)."""
        if audio.dim() != 2:
            raise ValueError(f"audio must be (B, S), got shape {tuple(audio.shape)}")
        if audio.shape[1] < 400:
            raise ValueError(f"audio has {audio.shape[1]} samples; wav2vec2 needs at least 400 (25 ms)")
        x = normalize_waveform(audio) if self.normalize_input else audio
        features = self.feature_extractor(x).transpose(1, 2)
        features = adapt_frame_rate(features, self.frame_rate_mode, self.fps, frame_num)
        projected = self.feature_projection(features)
        if isinstance(projected, tuple):  # transformers >= 4.10 returns (hidden, normed features)
            projected = projected[0]
        projected = self._spec_augment(projected)
        out = self.encoder(projected)
        return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
