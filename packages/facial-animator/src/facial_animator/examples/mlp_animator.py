"""A minimal, non-autoregressive animator: log-mel features + style → per-frame vertex offsets.

This is the model built step by step in ``docs/adding-an-animator.md``. It is small enough to
train on a CPU in seconds and shows every part of the :class:`~facial_animator.base.Animator`
contract: class attributes, input validation, the frame-rate contract of the audio encoders, the
auxiliary-loss dictionary and registration.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..audio import LogMelAudioEncoder
from ..base import Animator, AnimatorInput, AnimatorOutput
from ..losses import vertex_mse
from ..registry import register_animator

__all__ = ["ExampleMLPAnimator"]


@register_animator("example_mlp")
class ExampleMLPAnimator(Animator):
    """Audio frames → MLP → offsets added to the template, one motion frame per audio frame.

    Args:
        num_vertices: vertices of the topology.
        num_styles: number of training subjects (style embeddings).
        fps: motion frame rate; audio features are interpolated from 50 Hz to it.
        hidden_dim: feature size.
        n_mels: mel channels of the audio encoder.
        output_scale: unit of the head's output in the vertices' unit: ``1e-3`` makes it emit
            millimetres for vertices in metres (the synthetic presets' recipe; see "Output scale"
            in docs/adding-an-animator.md); ``1`` emits the vertices' own unit.
    """

    name = "example_mlp"
    supports_style = True
    autoregressive = False
    requires_text = False

    def __init__(
        self,
        num_vertices: int,
        num_styles: int = 1,
        fps: float = 30.0,
        hidden_dim: int = 64,
        n_mels: int = 40,
        output_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not output_scale > 0:
            raise ValueError(f"output_scale must be > 0, got {output_scale!r}")
        self.output_scale = float(output_scale)
        self.num_vertices = int(num_vertices)
        self.num_styles = int(num_styles)
        self.fps = float(fps)
        self.audio_encoder = LogMelAudioEncoder(hidden_dim, n_mels, frame_rate_mode="interpolate", fps=fps)
        self.style_embedding = nn.Embedding(num_styles, hidden_dim)
        self.head = nn.Sequential(
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, self.num_vertices * 3)
        )
        nn.init.zeros_(self.head[-1].weight)  # start from the template, as FaceFormer does
        nn.init.zeros_(self.head[-1].bias)

    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        self.validate_input(batch)
        b = batch.batch_size
        frames = None if batch.target is None else batch.target.shape[1]
        features = self.audio_encoder(batch.audio, frame_num=frames)  # (B, T, hidden)
        features = features + self.style_embedding(batch.style).unsqueeze(1)
        offsets = self.output_scale * self.head(features).reshape(b, features.shape[1], self.num_vertices, 3)
        vertices = batch.template.unsqueeze(1) + offsets
        losses: dict[str, Tensor] = {}
        if batch.target is not None:
            losses["mse"] = vertex_mse(vertices, batch.target)
        return AnimatorOutput(vertices=vertices, losses=losses, target=batch.target)
