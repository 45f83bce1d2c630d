"""``GRUAnimator``: 50 Hz log-mel features at the motion rate → a bidirectional GRU → vertex offsets.

It follows the :class:`facial_animator.Animator` contract and nothing more: construction from an
:class:`facial_animator.AnimatorSetup` (the default :meth:`~facial_animator.Animator.from_setup`
passes ``num_vertices``, ``num_styles`` and ``fps``), a forward that returns absolute vertices and
the reconstruction loss under :data:`facial_animator.RECONSTRUCTION_LOSS`.
"""

from __future__ import annotations

from torch import Tensor, nn

from facial_animator import RECONSTRUCTION_LOSS, Animator, AnimatorInput, AnimatorOutput
from facial_animator.audio import LogMelAudioEncoder
from facial_animator.losses import vertex_mse

__all__ = ["GRUAnimator"]


class GRUAnimator(Animator):
    """Log-mel audio features + a style embedding → bidirectional GRU → per-frame vertex offsets.

    Args:
        num_vertices: vertices of the topology (from the data).
        num_styles: training subjects (from the data).
        fps: motion frame rate (from the data).
        hidden_dim: GRU state size per direction.
        n_mels: mel channels of the audio encoder.
        output_scale: the head emits offsets in this unit of the vertices' (default ``1e-3``:
            millimetres for vertices in metres). Adam moves every weight by about its learning rate
            per step, so a head emitting metres moves the mesh by centimetres on its first steps and
            never settles on the millimetre motion of speech (docs/adding-an-animator.md, "Output
            scale"; the conformance kit checks it).
    """

    name = "gru"
    supports_style = True
    autoregressive = False
    requires_text = False

    def __init__(
        self,
        num_vertices: int,
        num_styles: int = 1,
        fps: float = 30.0,
        hidden_dim: int = 32,
        n_mels: int = 40,
        output_scale: float = 1e-3,
    ) -> None:
        super().__init__()
        if not output_scale > 0:
            raise ValueError(f"output_scale must be > 0, got {output_scale!r}")
        self.output_scale = float(output_scale)
        self.num_vertices, self.num_styles, self.fps = int(num_vertices), int(num_styles), float(fps)
        self.audio_encoder = LogMelAudioEncoder(hidden_dim, n_mels, frame_rate_mode="interpolate", fps=fps)
        self.style_embedding = nn.Embedding(self.num_styles, hidden_dim)
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * hidden_dim, self.num_vertices * 3)
        nn.init.zeros_(self.head.weight)  # start from the template
        nn.init.zeros_(self.head.bias)

    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        self.validate_input(batch)
        frames = None if batch.target is None else batch.target.shape[1]
        x = self.audio_encoder(batch.audio, frame_num=frames) + self.style_embedding(batch.style)[:, None]
        h, _ = self.gru(x)
        offsets = self.output_scale * self.head(h).reshape(batch.batch_size, h.shape[1], self.num_vertices, 3)
        vertices = batch.template[:, None] + offsets
        losses: dict[str, Tensor] = {}
        if batch.target is not None:
            losses[RECONSTRUCTION_LOSS] = vertex_mse(vertices, batch.target)
        return AnimatorOutput(vertices=vertices, losses=losses, target=batch.target)
