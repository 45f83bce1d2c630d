"""A non-autoregressive reference animator: audio features → temporal convolutions → vertex offsets.

The reference every published method is read against: the motionless template is the ceiling of
error, and this small regressor the floor a learned animator should reach on the same data. It
has no recurrence (no exposure bias), no attention and no quantisation, so a method that does not
beat it on a benchmark is limited by its training rather than by what the data allows.

Model (``(B, S)`` audio at 16 kHz → ``(B, T, V, 3)`` vertices at ``fps``):

* ``audio_encoder`` — the project's log-mel encoder (or wav2vec2), ``(B, T, d)`` at the motion
  rate (the encoders' frame-rate contract, :mod:`facial_animator.audio.frame_rate`);
* ``style_embedding`` ``nn.Embedding(num_styles, d)`` added to every frame;
* ``blocks`` — ``num_layers`` residual blocks ``h ← h + GELU(Conv1d(d, d, kernel_size)(h))``,
  same-length padding, so the receptive field is ``num_layers · (kernel_size − 1) + 1`` motion
  frames around each frame (both past and future: the model is not causal);
* ``output`` Linear(d → V·3), initialised to zero, so training starts from the template.

Loss: MSE over all vertex coordinates (``losses["mse"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch.nn.functional as F
from torch import Tensor, nn

from ..audio import build_audio_encoder
from ..audio.frame_rate import FrameRateMode
from ..base import Animator, AnimatorInput, AnimatorOutput
from ..registry import register_animator

__all__ = ["ConvRegressor"]


@register_animator("conv_regressor")
class ConvRegressor(Animator):
    """Audio → residual temporal convolutions → per-frame offsets (see the module docstring).

    Args:
        dataset: accepted for the harness's common construction contract; only ``"biwi"``
            changes anything (the BIWI frame-rate rule, 25 fps) when ``fps`` /
            ``frame_rate_mode`` are not given.
        num_vertices: vertices of the topology.
        num_styles: training subjects (style embeddings).
        fps: motion frame rate.
        feature_dim: width ``d`` of the audio features and of the convolutions.
        num_layers: residual convolution blocks.
        kernel_size: temporal kernel of each block (odd).
        audio_encoder, audio_encoder_kwargs, wav2vec2_path: as for FaceFormer.
        frame_rate_mode: ``"interpolate"`` (VOCASET rule) or ``"pair"`` (BIWI rule).
        dropout: dropout after each block.
    """

    name = "conv_regressor"
    supports_style = True
    autoregressive = False
    requires_text = False
    setup_args = ("dataset", "num_vertices", "num_styles", "fps")

    def __init__(
        self,
        dataset: str = "vocaset",
        *,
        num_vertices: int,
        num_styles: int = 1,
        fps: float | None = None,
        feature_dim: int = 64,
        num_layers: int = 3,
        kernel_size: int = 5,
        audio_encoder: Literal["logmel", "wav2vec2"] = "logmel",
        audio_encoder_kwargs: dict[str, Any] | None = None,
        wav2vec2_path: str | Path | None = None,
        frame_rate_mode: FrameRateMode | None = None,
        dropout: float = 0.0,
        output_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f"ConvRegressor: kernel_size must be a positive odd number, got {kernel_size}")
        if num_layers < 0:
            raise ValueError(f"ConvRegressor: num_layers must be >= 0, got {num_layers}")
        biwi = dataset.lower() == "biwi"
        self.num_vertices = int(num_vertices)
        self.num_styles = int(num_styles)
        self.fps = float(fps if fps is not None else (25.0 if biwi else 30.0))
        self.feature_dim = d = int(feature_dim)
        mode: FrameRateMode = frame_rate_mode or ("pair" if biwi else "interpolate")
        kwargs = dict(audio_encoder_kwargs or {})
        if audio_encoder == "logmel":
            kwargs.setdefault("output_dim", d)
        self.audio_encoder = build_audio_encoder(
            audio_encoder,
            frame_rate_mode=mode,
            fps=self.fps,
            wav2vec2_path=wav2vec2_path,
            encoder_kwargs=kwargs,
            owner="ConvRegressor",
        )
        self.audio_frames_per_motion_frame = self.audio_encoder.audio_frames_per_motion_frame
        self.input_map = nn.Linear(self.audio_encoder.output_dim * self.audio_frames_per_motion_frame, d)
        self.style_embedding = nn.Embedding(self.num_styles, d)
        self.blocks = nn.ModuleList(
            nn.Conv1d(d, d, kernel_size, padding=kernel_size // 2) for _ in range(num_layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.output_scale = float(output_scale)
        self.output = nn.Linear(d, self.num_vertices * 3)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def features(self, audio: Tensor, style: Tensor, frame_num: int | None = None) -> Tensor:
        """``(B, T, d)`` hidden features of the last block (before the output layer)."""
        feats = self.audio_encoder(audio, frame_num=frame_num)  # (B, T_a, C)
        k = self.audio_frames_per_motion_frame
        t = feats.shape[1] // k
        feats = feats[:, : t * k].reshape(feats.shape[0], t, -1)  # "pair": two audio frames per frame
        h = self.input_map(feats) + self.style_embedding(style.long()).unsqueeze(1)
        for block in self.blocks:
            h = h + self.dropout(F.gelu(block(h.transpose(1, 2)).transpose(1, 2)))
        return h

    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        self.validate_input(batch)
        b = batch.batch_size
        frames = None if batch.target is None else batch.target.shape[1]
        h = self.features(batch.audio, batch.style, frame_num=frames)
        t = h.shape[1]
        if t == 0:
            raise ValueError(f"audio of {batch.audio.shape[1]} samples yields no motion frame")
        target = batch.target
        if target is not None:
            t = min(t, target.shape[1])
            h, target = h[:, :t], target[:, :t]
        offsets = (self.output_scale * self.output(h)).reshape(b, t, self.num_vertices, 3)
        vertices = batch.template.unsqueeze(1) + offsets
        losses: dict[str, Tensor] = {}
        if target is not None:
            losses["mse"] = F.mse_loss(vertices, target)
        return AnimatorOutput(vertices=vertices, losses=losses, target=target)
