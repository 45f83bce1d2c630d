"""AV lip-reading guidance (Interspeech 2024): the expert reads differentiable renders of predictions.

``L_av = λctc·L_ctc + λce·L_ce`` of the expert (``lipread_expert``, joint CTC/attention loss,
mtlalpha-free weighting through :meth:`LipReadingLoss.weighted`) on the mouth video rendered from
the animator's predicted vertices (``mesh_renderer.render_mouth_video``: soft rasterization and
Lambert shading with normals recomputed from the predicted vertices, so image → vertex gradients
exist — unlike the released code, which detaches normals and alpha, methods.md §1.6), resampled
from the motion rate (30 fps) to the expert's 25 fps by differentiable linear interpolation, with
the audio cut / padded to 640 samples per video frame.

With ``guidance.av_gradient_smoothing = λ > 0`` the gradient that reaches the predicted vertices is
``(I + λL)⁻¹ ∂L_av/∂V`` (uniform mesh Laplacian ``L``; Nicolet et al. 2021, "Large Steps in Inverse
Rendering of Geometry"): the rasterizer's edge gradients are sparse and of alternating sign on
neighbouring vertices, and an animator trained on them tears the mouth surface; the preconditioned
gradient is a smooth, still-descending field. The loss value is unchanged.

The total stage-2 loss is assembled in :mod:`talkbench.training.animator`:
``L = λmse·Lmse + λav·L_av + λrlv·Lrlv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lipread_expert import CharTokenizer, LipReader
from mesh_renderer import LaplacianPreconditioner

from .config import GuidanceConfig, RenderConfig
from .renders import render_mouth

__all__ = ["AVGuidance", "AVTerms"]


@dataclass
class AVTerms:
    """The weighted AV loss ``λctc·Lctc + λce·Lce`` and its parts (for logging)."""

    loss: torch.Tensor
    ctc: float
    att: float
    accuracy: float


class AVGuidance:
    """Renderer + expert as one differentiable loss of predicted vertices.

    Args:
        expert: audio-visual (or video) :class:`LipReader` whose ``input_spec`` matches ``render``.
        tokenizer: its tokenizer.
        faces: ``(F, 3)`` faces of the topology; ``lip_indices``: vertex ids of the lips (mouth locator).
        render / guidance: the config sections.
        albedo: ``(V, 3)`` per-vertex colour of the topology (``Sample.albedo``), or ``None``.
    """

    def __init__(
        self,
        expert: LipReader,
        tokenizer: CharTokenizer,
        faces: torch.Tensor,
        lip_indices: np.ndarray | torch.Tensor,
        render: RenderConfig,
        guidance: GuidanceConfig,
        albedo: np.ndarray | None = None,
    ) -> None:
        self.expert = expert
        self.albedo = None if albedo is None else torch.as_tensor(np.asarray(albedo, dtype=np.float32))
        self.tokenizer = tokenizer
        self.faces = torch.as_tensor(faces, dtype=torch.long)
        self.lip_indices = torch.as_tensor(np.array(lip_indices), dtype=torch.long)
        self.render = render
        self.guidance = guidance
        self.preconditioner: LaplacianPreconditioner | None = None

    def mouth_video(self, vertices: torch.Tensor, fps: float) -> torch.Tensor:
        """``(B, T, V, 3)`` → ``(B, T25, 1, S, S)`` normalised mouth renders (differentiable; with
        ``guidance.av_gradient_smoothing > 0`` the vertex gradient is Laplacian-preconditioned)."""
        strength = self.guidance.av_gradient_smoothing
        if strength > 0:
            # built for the prediction's vertex count; it checks the faces against it
            if self.preconditioner is None or self.preconditioner.num_vertices != vertices.shape[-2]:
                self.preconditioner = LaplacianPreconditioner(self.faces, vertices.shape[-2], strength)
            vertices = self.preconditioner(vertices)
        albedo = None if self.albedo is None else self.albedo.to(vertices.device)
        faces = self.faces.to(vertices.device)
        return render_mouth(vertices, faces, self.lip_indices, fps, self.render, albedo)

    def __call__(
        self, vertices: torch.Tensor, fps: float, audio: torch.Tensor, transcripts: list[str]
    ) -> AVTerms:
        """AV loss of predicted ``vertices`` ``(B, T, V, 3)`` at ``fps`` with 16 kHz ``audio`` ``(B, S)``."""
        video = self.mouth_video(vertices, fps)
        b, t = video.shape[:2]
        targets, _ = self.tokenizer.batch_encode(transcripts)
        lengths = torch.full((b,), t, dtype=torch.long, device=video.device)
        kwargs = {}
        if self.expert.uses_audio:
            kwargs = {
                "audio": audio,
                "audio_lengths": torch.full((b,), audio.shape[1], dtype=torch.long, device=video.device),
            }
        out = self.expert(
            targets.to(video.device),
            video=video,
            video_lengths=lengths,
            fps=self.render.reader_fps,
            convert=True,
            **kwargs,
        )
        loss = out.weighted(self.guidance.lambda_ctc, self.guidance.lambda_ce)
        return AVTerms(
            loss=loss, ctc=float(out.ctc.detach()), att=float(out.att.detach()), accuracy=float(out.accuracy)
        )
