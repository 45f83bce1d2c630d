"""FaceFormer (Fan et al., "FaceFormer: Speech-Driven 3D Facial Animation with Transformers", CVPR 2022).

Faithful to the official code (EvelynFan/FaceFormer @ dfaea81, ``faceformer.py``):

* ``audio_encoder`` — wav2vec2 base-960h with the modified forward (frame-rate handling at the CNN
  feature level, CNN frozen, SpecAugment); a log-mel encoder can replace it for small CPU runs.
* ``audio_feature_map`` Linear(768 → d); ``vertice_map`` Linear(V·3 → d) on displacements;
  ``PPE`` periodic positional encoding (period p); one post-LN ``nn.TransformerDecoderLayer``
  (d, 4 heads, FFN 2d, dropout 0.1, ReLU, batch-first) under ``transformer_decoder``; ALiBi-style
  periodic causal bias as ``tgt_mask``; hard alignment mask as ``memory_mask``; ``vertice_map_r``
  Linear(d → V·3) initialised to zero; ``obj_vector`` Linear(n_subjects → d, no bias) on the
  one-hot style, added to every input token.
* Training: autoregressive by default (as the released ``main.py``: at every step the decoder and
  ``vertice_map_r`` run over the whole prefix, gradients through the recurrence), teacher forcing
  with ``teacher_forcing=True``. Loss: MSE over all elements.
* Inference: a KV-cached autoregressive loop (:class:`~.cached_decoding.CachedDecoder`) that
  equals the official full-prefix recomputation (``predict(..., use_cache=False)``), with no
  600-frame cap: the positional encoding and the bias are built for any length.

The ``state_dict`` keys and shapes equal those of the official ``vocaset.pth`` / ``biwi.pth``
(237 tensors), so they load with ``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..audio import build_audio_encoder
from ..audio.frame_rate import FrameRateMode
from ..base import Animator, AnimatorInput, AnimatorOutput
from ..blocks import PeriodicPositionalEncoding, alignment_mask, periodic_causal_bias
from ..checkpoint_io import CheckpointError, torch_load_file
from ..losses import PhoneticContextAwareLoss
from ..registry import register_animator
from .cached_decoding import CachedDecoder
from .motion_feedback import MotionFeedbackMixin

__all__ = ["FACEFORMER_PRESETS", "FaceFormer", "FaceFormerPreset"]


@dataclass(frozen=True)
class FaceFormerPreset:
    """Per-dataset hyper-parameters of the official runs."""

    num_vertices: int
    feature_dim: int
    period: int
    fps: float
    num_styles: int
    frame_rate_mode: FrameRateMode


FACEFORMER_PRESETS: dict[str, FaceFormerPreset] = {
    "vocaset": FaceFormerPreset(5023, 64, 30, 30.0, 8, "interpolate"),
    "biwi": FaceFormerPreset(23370, 128, 25, 25.0, 6, "pair"),
}

AudioEncoderName = Literal["wav2vec2", "logmel"]


@register_animator("faceformer")
class FaceFormer(MotionFeedbackMixin, Animator):
    """FaceFormer animator (see the module docstring).

    Args:
        dataset: ``"vocaset"`` or ``"biwi"``: the preset for every argument left at ``None``.
        num_vertices, feature_dim, period, fps, num_styles, frame_rate_mode: override the preset
            (``frame_rate_mode``: ``"interpolate"`` = VOCASET rule, ``"pair"`` = BIWI rule).
        audio_encoder: ``"wav2vec2"`` (base-960h architecture) or ``"logmel"``.
        audio_encoder_kwargs: extra arguments of the encoder (e.g. ``{"output_dim": 32}`` for log-mel,
            ``{"config": Wav2Vec2Config(...)}`` for wav2vec2).
        wav2vec2_path: local directory or cached model id of pretrained wav2vec2 weights (never
            downloaded); ``None`` = random init.
        teacher_forcing: train with teacher forcing instead of the official autoregressive loop.
        rollout_training: train on the model's own rollout (takes precedence over
            ``teacher_forcing``): a no-grad cached autoregressive rollout gives the fed-back inputs
            and one teacher-forced pass on those inputs gives the prediction. Without dropout its
            output equals the autoregressive rollout (the decoder is causal), so the loss is the
            one the official loop computes and training sees the inputs inference sees (no
            exposure bias); the gradient does not flow back through the fed-back frames. Costs one
            cached rollout plus one teacher-forced pass instead of the official loop's O(T²) work.
        reconstruction_loss: ``"mse"`` (official) or ``"phonetic_context"`` (Kim & Kim 2025: the
            MSE replaced by :class:`~facial_animator.losses.PhoneticContextAwareLoss`, window
            ``phonetic_window``, temperature ``phonetic_temperature``). The loss is reported under
            that name in ``AnimatorOutput.losses``.
        n_head, max_seq_len, dropout: decoder heads (the bias is built for 4), PPE buffer length
            (600 as the official; only the buffer size depends on it) and dropout.
        motion_scale: unit of the decoder's motion tokens, in the dataset's units: offsets are
            ``motion_scale · vertice_map_r(h)`` and are fed back as ``vertice_map(offset /
            motion_scale)``. ``1.0`` is the official model. Models trained from scratch on
            metre-scale motion (millimetre displacements) use ``1e-3``, so that the zero-initialised
            output layer and the input map work on values of order one (no parameter is added:
            the state_dict is unchanged).
    """

    name = "faceformer"
    supports_style = True
    autoregressive = True
    requires_text = False
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
        audio_encoder: AudioEncoderName = "wav2vec2",
        audio_encoder_kwargs: dict[str, Any] | None = None,
        wav2vec2_path: str | None = None,
        teacher_forcing: bool = False,
        rollout_training: bool = False,
        reconstruction_loss: Literal["mse", "phonetic_context"] = "mse",
        phonetic_window: int = 5,
        phonetic_temperature: float = 1.0,
        n_head: int = 4,
        max_seq_len: int = 600,
        dropout: float = 0.1,
        motion_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not motion_scale > 0:
            raise ValueError(f"FaceFormer: motion_scale must be > 0, got {motion_scale}")
        self.motion_scale = float(motion_scale)
        key = dataset.lower()
        if key not in FACEFORMER_PRESETS:
            raise ValueError(
                f"FaceFormer: unknown dataset preset {dataset!r}; use one of {sorted(FACEFORMER_PRESETS)}"
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
        self.rollout_training = rollout_training
        if reconstruction_loss not in ("mse", "phonetic_context"):
            raise ValueError(
                "FaceFormer: reconstruction_loss must be 'mse' or 'phonetic_context', "
                f"got {reconstruction_loss!r}"
            )
        self.reconstruction_loss = reconstruction_loss
        self.phonetic_loss = PhoneticContextAwareLoss(phonetic_window, temperature=phonetic_temperature)
        self.n_head = n_head
        v3 = self.num_vertices * 3

        encoder = build_audio_encoder(
            audio_encoder,
            frame_rate_mode=self.frame_rate_mode,
            fps=self.fps,
            wav2vec2_path=wav2vec2_path,
            encoder_kwargs=audio_encoder_kwargs,
            owner="FaceFormer",
        )
        self.audio_encoder = encoder
        self.audio_frames_per_motion_frame = encoder.audio_frames_per_motion_frame

        self.audio_feature_map = nn.Linear(encoder.output_dim, d)
        self.vertice_map = nn.Linear(v3, d)
        self.PPE = PeriodicPositionalEncoding(d, period=self.period, max_seq_len=max_seq_len, dropout=dropout)
        layer = nn.TransformerDecoderLayer(
            d_model=d, nhead=n_head, dim_feedforward=2 * d, dropout=dropout, batch_first=True
        )
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=1)
        self.vertice_map_r = nn.Linear(d, v3)
        self.obj_vector = nn.Linear(self.num_styles, d, bias=False)
        nn.init.constant_(self.vertice_map_r.weight, 0.0)
        nn.init.constant_(self.vertice_map_r.bias, 0.0)

    # ------------------------------------------------------------------ pieces
    def style_embedding(self, style: Tensor) -> Tensor:
        """``obj_vector(one_hot(style))`` → ``(B, d)``."""
        one_hot = F.one_hot(style.long(), self.num_styles).to(self.obj_vector.weight.dtype)
        return self.obj_vector(one_hot)

    def encode_audio(self, audio: Tensor, frame_num: int | None = None) -> Tensor:
        """``(B, S)`` audio → ``(B, T_a, d)`` decoder memory (``audio_feature_map`` of the encoder)."""
        return self.audio_feature_map(self.audio_encoder(audio, frame_num=frame_num))

    def frames_for_memory(self, memory_len: int) -> int:
        """Motion frames covered by ``memory_len`` audio frames (T_a, or T_a // 2 in ``pair`` mode)."""
        return memory_len // self.audio_frames_per_motion_frame

    def _masks(self, length: int, memory_len: int, batch: int, device: torch.device) -> tuple[Tensor, Tensor]:
        bias = periodic_causal_bias(self.n_head, length, self.period, device=device)
        tgt_mask = bias.repeat(batch, 1, 1)  # (B·h, T, T), batch-major as nn.MultiheadAttention expects
        mem_mask = alignment_mask(length, memory_len, self.audio_frames_per_motion_frame, device=device)
        return tgt_mask, mem_mask

    def _decode(self, tokens: Tensor, memory: Tensor) -> Tensor:
        tgt_mask, mem_mask = self._masks(tokens.shape[1], memory.shape[1], tokens.shape[0], tokens.device)
        return self.transformer_decoder(tokens, memory, tgt_mask=tgt_mask, memory_mask=mem_mask)

    # ------------------------------------------------------------------ decoding paths
    def decode_teacher_forced(
        self, memory: Tensor, style_emb: Tensor, template: Tensor, target: Tensor
    ) -> Tensor:
        """Teacher forcing: inputs ``[template, GT_1 … GT_{T−1}] − template`` → offsets ``(B, T, V·3)``."""
        tpl = template.unsqueeze(1)
        return self.decode_inputs(memory, style_emb, torch.cat([tpl, target[:, :-1]], dim=1) - tpl)

    def decode_full_prefix(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """Official autoregressive loop: every step re-runs the decoder and ``vertice_map_r`` over the prefix.

        Returns offsets ``(B, T, V·3)``. Used for training (gradients through the recurrence) and
        as the reference for the cached loop.
        """
        style = style_emb.unsqueeze(1)
        emb = style
        out = style.new_zeros(0)
        for _ in range(num_frames):
            out = self.vertice_map_r(self._decode(self.PPE(emb), memory))
            emb = torch.cat([emb, self.vertice_map(out[:, -1:]) + style], dim=1)
        return self.motion_scale * out

    def decode_cached(
        self, memory: Tensor, style_emb: Tensor, num_frames: int, *, fold_output_map: bool = True
    ) -> Tensor:
        """KV-cached autoregressive loop (inference; no dropout) → offsets ``(B, T, V·3)``.

        The fed-back token is ``vertice_map(vertice_map_r(h)) + style``. With ``fold_output_map``
        the two maps are folded into one ``d × d`` affine map (``W_m·W_r``, ``W_m·b_r + b_m``), so a
        step costs O(d²) instead of O(d·V), and ``vertice_map_r`` runs once over all frames at the
        end. This equals the unfolded computation up to float rounding.
        """
        decoder = CachedDecoder(self.transformer_decoder, memory, period=self.period,
                                audio_frames_per_motion_frame=self.audio_frames_per_motion_frame,
                                bias_heads=self.n_head, max_len=num_frames)
        style = style_emb.unsqueeze(1)
        encodings = self.PPE.encoding(num_frames)
        token = style
        hidden = []
        if fold_output_map:
            weight = self.vertice_map.weight @ self.vertice_map_r.weight
            bias = self.vertice_map.weight @ self.vertice_map_r.bias + self.vertice_map.bias
        for i in range(num_frames):
            h = decoder.step(token + encodings[:, i : i + 1])
            if fold_output_map:
                hidden.append(h)
                token = F.linear(h, weight, bias) + style
            else:
                offset = self.vertice_map_r(h)
                hidden.append(offset)
                token = self.vertice_map(offset) + style
        stacked = torch.cat(hidden, dim=1)
        return self.motion_scale * (self.vertice_map_r(stacked) if fold_output_map else stacked)

    # ------------------------------------------------------------------ Animator API
    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        self.validate_input(batch)
        b = batch.batch_size
        template = batch.template.reshape(b, -1)
        style_emb = self.style_embedding(batch.style)
        target = batch.target.reshape(b, batch.target.shape[1], -1) if batch.target is not None else None
        memory = self.encode_audio(batch.audio, frame_num=None if target is None else target.shape[1])
        num_frames = self.frames_for_memory(memory.shape[1])
        if num_frames == 0:
            raise ValueError(f"audio of {batch.audio.shape[1]} samples yields no motion frame")
        if target is not None:
            # BIWI rule: audio shorter than the motion → the ground truth is cut to T_a // 2 frames
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
        vertices = pred.reshape(b, num_frames, self.num_vertices, 3)
        losses: dict[str, Tensor] = {}
        target_v = None
        if target is not None:
            if self.reconstruction_loss == "mse":
                losses["mse"] = F.mse_loss(pred, target)
            else:
                losses["phonetic_context"] = self.phonetic_loss(pred, target)
            target_v = target.reshape(b, num_frames, self.num_vertices, 3)
        return AnimatorOutput(vertices=vertices, losses=losses, target=target_v)

    @torch.no_grad()
    def predict(self, audio: Tensor, template: Tensor, style: Tensor | int, *, use_cache: bool = True,
                **kwargs: Any) -> Tensor:
        """Autoregressive inference → ``(B, T, V, 3)``; ``use_cache=False`` runs the official O(T²) loop."""
        batch = self.make_input(audio, template, style, **kwargs)
        self.validate_input(batch)
        was_training = self.training
        self.eval()
        try:
            b = batch.batch_size
            memory = self.encode_audio(batch.audio)
            num_frames = self.frames_for_memory(memory.shape[1])
            style_emb = self.style_embedding(batch.style)
            decode = self.decode_cached if use_cache else self.decode_full_prefix
            offsets = decode(memory, style_emb, num_frames)
            pred = offsets + batch.template.reshape(b, 1, -1)
            return pred.reshape(b, num_frames, self.num_vertices, 3)
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ checkpoints
    def load_official_checkpoint(self, path: str | Path, *, strict: bool = True) -> None:
        """Load an official ``vocaset.pth`` / ``biwi.pth`` (a plain state_dict) with ``weights_only=True``.

        A ``PPE.pe`` buffer of another length is accepted (it only depends on ``max_seq_len``).
        Raises ``ValueError`` naming the file and the missing / unexpected / mis-shaped keys. A
        model built on the ``meta`` device takes the checkpoint's tensors (``assign=True``), which
        avoids initialising weights that are overwritten anyway.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"FaceFormer checkpoint not found: {path}")
        state = torch_load_file(path, f"a FaceFormer {self.dataset} state_dict (dict of tensors)")
        if not isinstance(state, dict):
            raise CheckpointError(
                f"{path}: expected a state_dict (dict of tensors), got {type(state).__name__}"
            )
        if "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        own = self.state_dict()
        mismatched = [
            f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
            for k, v in state.items()
            if k in own and k != "PPE.pe" and tuple(v.shape) != tuple(own[k].shape)
        ]
        if mismatched:
            hint = ""
            if any(m.startswith("obj_vector.weight") for m in mismatched):
                hint = (
                    " (obj_vector: build the model with num_styles = the checkpoint's number of "
                    "training subjects)"
                )
            raise ValueError(
                f"{path}: shape mismatch for {len(mismatched)} keys{hint}: " + "; ".join(mismatched[:10])
            )
        on_meta = any(t.device.type == "meta" for t in own.values())
        result = self.load_state_dict(state, strict=False, assign=on_meta)
        if strict and (result.missing_keys or result.unexpected_keys):
            raise ValueError(
                f"{path}: not a FaceFormer {self.dataset} checkpoint: "
                f"missing keys {result.missing_keys[:10]} "
                f"(total {len(result.missing_keys)}), unexpected keys {result.unexpected_keys[:10]} "
                f"(total {len(result.unexpected_keys)})"
            )
