"""CodeTalker stage 2: speech-driven prediction of codebook features (Xing et al., CVPR 2023).

Faithful to the official ``models/stage2.py`` (Doubiiu/CodeTalker @ 1b7cb95):

* ``audio_encoder`` — wav2vec2 base-960h with FaceFormer's modified forward (or the log-mel encoder
  for small CPU runs); ``audio_feature_map`` Linear(768 → d).
* ``vertice_map`` Linear(V·3 → d) on displacements; ``PPE`` periodic positional encoding (period
  30 / 25); ``transformer_decoder`` = ``num_layers`` × post-LN ``nn.TransformerDecoderLayer(d = 1024,
  4 heads, FFN 2048, dropout 0.1, ReLU, batch-first)`` — 6 layers on VOCASET, 12 on BIWI — with the
  ALiBi-style periodic causal bias as ``tgt_mask`` and the hard alignment mask as ``memory_mask``.
* ``feat_map`` Linear(d → H·C, **no bias, weight initialised to 0**); ``learnable_style_emb``
  ``nn.Embedding(n_subjects, d)`` added to every input token.
* ``autoencoder`` — the frozen stage-1 :class:`~facial_animator.codetalker.VQAutoEncoder`, kept in
  eval mode (the official loop calls ``model.autoencoder.eval()`` every epoch).

Training (always teacher forcing, as released): inputs ``[template, GT_1 … GT_{T−1}] − template`` →
``vertice_map`` + style → PPE → decoder → ``feat_map`` → reshape (B, T·H, C) → frozen quantiser →
frozen decoder → + template. Loss ``motion_weight · MSE(vertices, GT) + reg_weight · MSE(features
before quantisation, sg[stage-1 codes of GT])`` with both weights 1.0. Recipe: Adam, lr 1e-4, 100
epochs, batch 1.

Inference (autoregressive): step 0 feeds ``PPE(style)``; every step quantises the predicted feature
prefix and decodes it with the (non-causal) VQ decoder, then feeds back ``vertice_map(last decoded
offset) + style``; at step 0 the single-frame code sequence is duplicated to length 2 before decoding
and frame 0 is kept. The output is ``decode(quantise(all features)) + template``.
``predict(..., use_cache=False)`` is that official loop (the stage-2 decoder re-run over the prefix).
The default cached loop gives the same result faster: the stage-2 decoder is causal, so it runs one
position per step with cached keys/values; each feature token is quantised once; the VQ decoder
still re-runs over the whole prefix (it is bidirectional and instance-normalised over time), but
only the last frame goes through its output layer.
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
from ..checkpoint_io import meta_load_assign
from ..models.cached_decoding import CachedDecoder
from ..registry import register_animator
from .checkpoints import load_stage1_state, read_state_dict
from .config import VQConfig
from .vqvae import VQAutoEncoder

__all__ = ["CODETALKER_PRESETS", "CodeTalker", "CodeTalkerPreset"]


@dataclass(frozen=True)
class CodeTalkerPreset:
    """Per-dataset settings of the official stage-2 runs (``config/<dataset>/stage2.yaml``)."""

    num_vertices: int
    num_layers: int
    period: int
    fps: float
    num_styles: int
    frame_rate_mode: FrameRateMode
    vq: VQConfig


CODETALKER_PRESETS: dict[str, CodeTalkerPreset] = {
    "vocaset": CodeTalkerPreset(5023, 6, 30, 30.0, 8, "interpolate", VQConfig.vocaset()),
    "biwi": CodeTalkerPreset(23370, 12, 25, 25.0, 6, "pair", VQConfig.biwi()),
}


@register_animator("codetalker")
class CodeTalker(Animator):
    """CodeTalker stage-2 animator (see the module docstring).

    Args:
        dataset: ``"vocaset"`` or ``"biwi"``: the preset for every argument left at ``None``.
        num_vertices, num_layers, period, fps, num_styles, frame_rate_mode: override the preset.
        vq_config: stage-1 configuration (default: the preset's; required when ``num_vertices`` is
            overridden, since ``vq_config.in_dim`` must equal ``3 · num_vertices``).
        vqvae_path: an official-layout stage-1 checkpoint (``{"state_dict": ...}``) to load into
            ``autoencoder`` now; otherwise load one later with :meth:`load_stage1`.
        feature_dim, n_head, ffn_dim, dropout: decoder width (1024), heads (4; the bias is built for
            this many heads), FFN width (default ``2 · feature_dim`` = 2048) and dropout (0.1).
        audio_encoder, audio_encoder_kwargs, wav2vec2_path: as for FaceFormer.
        motion_weight, reg_weight: loss weights (1.0, 1.0).
        max_seq_len: length of the ``PPE.pe`` buffer (official 600; no cap on sequence length).
    """

    name = "codetalker"
    supports_style = True
    autoregressive = True
    requires_text = False
    setup_args = ("dataset", "num_vertices", "num_styles", "fps")

    def __init__(
        self,
        dataset: str = "vocaset",
        *,
        num_vertices: int | None = None,
        num_layers: int | None = None,
        period: int | None = None,
        fps: float | None = None,
        num_styles: int | None = None,
        frame_rate_mode: FrameRateMode | None = None,
        vq_config: VQConfig | None = None,
        vqvae_path: str | Path | None = None,
        feature_dim: int = 1024,
        n_head: int = 4,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
        audio_encoder: Literal["wav2vec2", "logmel"] = "wav2vec2",
        audio_encoder_kwargs: dict[str, Any] | None = None,
        wav2vec2_path: str | None = None,
        motion_weight: float = 1.0,
        reg_weight: float = 1.0,
        max_seq_len: int = 600,
    ) -> None:
        super().__init__()
        key = dataset.lower()
        if key not in CODETALKER_PRESETS:
            raise ValueError(
                f"CodeTalker: unknown dataset preset {dataset!r}; use one of {sorted(CODETALKER_PRESETS)}"
            )
        preset = CODETALKER_PRESETS[key]
        self.dataset = key
        self.num_vertices = int(num_vertices if num_vertices is not None else preset.num_vertices)
        self.num_layers = int(num_layers if num_layers is not None else preset.num_layers)
        self.period = int(period if period is not None else preset.period)
        self.fps = float(fps if fps is not None else preset.fps)
        self.num_styles = int(num_styles if num_styles is not None else preset.num_styles)
        self.frame_rate_mode: FrameRateMode = frame_rate_mode or preset.frame_rate_mode
        if vq_config is None:
            if num_vertices is not None and num_vertices != preset.num_vertices:
                raise ValueError(
                    f"CodeTalker: num_vertices={num_vertices} differs from the {key} preset; pass a "
                    f"vq_config with in_dim={3 * self.num_vertices}"
                )
            vq_config = preset.vq
        if vq_config.in_dim != 3 * self.num_vertices:
            raise ValueError(
                f"CodeTalker: vq_config.in_dim={vq_config.in_dim} but num_vertices={self.num_vertices} "
                f"needs {3 * self.num_vertices}"
            )
        self.vq_config = vq_config
        self.feature_dim = d = int(feature_dim)
        self.n_head = n_head
        self.motion_weight = motion_weight
        self.reg_weight = reg_weight
        v3 = 3 * self.num_vertices

        encoder = build_audio_encoder(
            audio_encoder,
            frame_rate_mode=self.frame_rate_mode,
            fps=self.fps,
            wav2vec2_path=wav2vec2_path,
            encoder_kwargs=audio_encoder_kwargs,
            owner="CodeTalker",
        )
        self.audio_encoder = encoder
        self.audio_frames_per_motion_frame = encoder.audio_frames_per_motion_frame
        self.audio_feature_map = nn.Linear(encoder.output_dim, d)
        self.vertice_map = nn.Linear(v3, d)
        self.PPE = PeriodicPositionalEncoding(d, period=self.period, max_seq_len=max_seq_len, dropout=dropout)
        layer = nn.TransformerDecoderLayer(
            d_model=d, nhead=n_head, dim_feedforward=ffn_dim or 2 * d, dropout=dropout, batch_first=True
        )
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=self.num_layers)
        self.feat_map = nn.Linear(d, vq_config.code_width, bias=False)
        self.learnable_style_emb = nn.Embedding(self.num_styles, d)
        nn.init.constant_(self.feat_map.weight, 0.0)
        self.autoencoder = VQAutoEncoder(vq_config)
        self.autoencoder.requires_grad_(False)
        self.autoencoder.eval()
        if vqvae_path is not None:
            self.load_stage1(vqvae_path)

    # ------------------------------------------------------------------ module state
    def train(self, mode: bool = True) -> CodeTalker:
        """Set training mode; the frozen stage-1 ``autoencoder`` always stays in eval mode."""
        super().train(mode)
        self.autoencoder.eval()
        return self

    def stage2_state_dict(self) -> dict[str, Tensor]:
        """The ``state_dict`` as the official stage-2 file stores it: every ``autoencoder`` key removed."""
        return {k: v for k, v in self.state_dict().items() if "autoencoder" not in k}

    # ------------------------------------------------------------------ pieces
    def style_embedding(self, style: Tensor) -> Tensor:
        """``learnable_style_emb[style]`` → ``(B, d)`` (the official code indexes by argmax(one_hot))."""
        return self.learnable_style_emb(style.long())

    def encode_audio(self, audio: Tensor, frame_num: int | None = None) -> Tensor:
        """``(B, S)`` audio → ``(B, T_a, d)`` decoder memory."""
        return self.audio_feature_map(self.audio_encoder(audio, frame_num=frame_num))

    def frames_for_memory(self, memory_len: int) -> int:
        """Motion frames covered by ``memory_len`` audio frames (T_a, or T_a // 2 in ``pair`` mode)."""
        return memory_len // self.audio_frames_per_motion_frame

    def _decode(self, tokens: Tensor, memory: Tensor) -> Tensor:
        b, t = tokens.shape[:2]
        bias = periodic_causal_bias(self.n_head, t, self.period, device=tokens.device, dtype=tokens.dtype)
        mem_mask = alignment_mask(
            t, memory.shape[1], self.audio_frames_per_motion_frame, device=tokens.device
        )
        return self.transformer_decoder(tokens, memory, tgt_mask=bias.repeat(b, 1, 1), memory_mask=mem_mask)

    def _to_code_tokens(self, hidden: Tensor) -> Tensor:
        """``feat_map`` output reshaped to (B, T·H, C)."""
        feats = self.feat_map(hidden)
        return feats.reshape(feats.shape[0], -1, self.vq_config.zquant_dim)

    def _decode_step(self, quant: Tensor) -> Tensor:
        """Step-time VQ decode (B, C, T·H) → (B, T, V·3); a 1-frame input is duplicated, frame 0 kept."""
        if quant.shape[2] == self.vq_config.face_quan_num:
            return self.autoencoder.decode(torch.cat([quant, quant], dim=-1))[:, :1]
        return self.autoencoder.decode(quant)

    # ------------------------------------------------------------------ decoding paths
    def decode_teacher_forced(
        self, memory: Tensor, style_emb: Tensor, template: Tensor, target: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Teacher forcing → (offsets (B, T, V·3), pre-quantisation features (B, T·H, C))."""
        tpl = template.unsqueeze(1)
        inputs = torch.cat([tpl, target[:, :-1]], dim=1) - tpl
        tokens = self.PPE(self.vertice_map(inputs) + style_emb.unsqueeze(1))
        feats = self._to_code_tokens(self._decode(tokens, memory))
        quant = self.autoencoder.quantize(feats).quantized
        return self.autoencoder.decode(quant), feats

    def decode_full_prefix(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """Official inference loop (stage-2 decoder re-run over the whole prefix) → offsets (B, T, V·3)."""
        style = style_emb.unsqueeze(1)
        emb = style
        feats = style.new_zeros(0)
        for i in range(num_frames):
            feats = self._to_code_tokens(self._decode(self.PPE(emb), memory))
            quant = self.autoencoder.quantize(feats).quantized
            decoded = self._decode_step(quant)
            if i != num_frames - 1:
                emb = torch.cat([emb, self.vertice_map(decoded[:, -1:]) + style], dim=1)
        return self.autoencoder.decode(self.autoencoder.quantize(feats).quantized)

    def decode_cached(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """Equivalent faster loop (see the module docstring) → offsets (B, T, V·3)."""
        decoder = CachedDecoder(
            self.transformer_decoder,
            memory,
            period=self.period,
            audio_frames_per_motion_frame=self.audio_frames_per_motion_frame,
            bias_heads=self.n_head,
        )
        style = style_emb.unsqueeze(1)
        token = style
        codes: list[Tensor] = []
        for i in range(num_frames):
            hidden = decoder.step(token + self.PPE.encoding(1, offset=i))
            codes.append(self.autoencoder.quantize(self._to_code_tokens(hidden)).quantized)
            if i != num_frames - 1:
                quant = torch.cat(codes, dim=-1)
                # step 0: the duplicated single frame, frame 0 kept (as the official loop)
                last = self._decode_step(quant) if i == 0 else self.autoencoder.decode_last(quant)
                token = self.vertice_map(last) + style
        return self.autoencoder.decode(torch.cat(codes, dim=-1))

    # ------------------------------------------------------------------ Animator API
    def forward(self, batch: AnimatorInput) -> AnimatorOutput:
        """Teacher-forced pass with a target (training / validation); autoregressive without one."""
        self.validate_input(batch)
        b = batch.batch_size
        template = batch.template.reshape(b, -1)
        style_emb = self.style_embedding(batch.style)
        target = batch.target.reshape(b, batch.target.shape[1], -1) if batch.target is not None else None
        memory = self.encode_audio(batch.audio, frame_num=None if target is None else target.shape[1])
        num_frames = self.frames_for_memory(memory.shape[1])
        if num_frames == 0:
            raise ValueError(f"audio of {batch.audio.shape[1]} samples yields no motion frame")
        losses: dict[str, Tensor] = {}
        target_v = None
        if target is None:
            offsets = self.decode_cached(memory, style_emb, num_frames)
        else:
            # BIWI rule: audio shorter than the motion → the ground truth is cut to T_a // 2 frames
            num_frames = min(num_frames, target.shape[1])
            target = target[:, :num_frames]
            offsets, feats = self.decode_teacher_forced(memory, style_emb, template, target)
            with torch.no_grad():
                gt_codes = self.autoencoder.encode(target - template.unsqueeze(1)).quantized.permute(0, 2, 1)
            pred = offsets + template.unsqueeze(1)
            losses["mse"] = self.motion_weight * F.mse_loss(pred, target)
            losses["feature_reg"] = self.reg_weight * F.mse_loss(feats, gt_codes)
            target_v = target.reshape(b, num_frames, self.num_vertices, 3)
        vertices = (offsets + template.unsqueeze(1)).reshape(b, num_frames, self.num_vertices, 3)
        return AnimatorOutput(vertices=vertices, losses=losses, target=target_v)

    @torch.no_grad()
    def predict(
        self,
        audio: Tensor,
        template: Tensor,
        style: Tensor | int,
        *,
        use_cache: bool = True,
        style2: Tensor | int | None = None,
        style_weight: float | None = None,
        **kwargs: Any,
    ) -> Tensor:
        """Autoregressive inference → ``(B, T, V, 3)``; ``use_cache=False`` runs the official loop.

        Style interpolation (official ``one_hot2`` / ``weight_of_one_hot``): with ``style2`` and
        ``style_weight`` = w the style vector is ``w · emb[style] + (1 − w) · emb[style2]``.
        """
        if (style2 is None) != (style_weight is None):
            raise ValueError("CodeTalker.predict: pass both style2 and style_weight, or neither")
        batch = self.make_input(audio, template, style, **kwargs)
        self.validate_input(batch)
        was_training = self.training
        self.eval()
        try:
            b = batch.batch_size
            memory = self.encode_audio(batch.audio)
            num_frames = self.frames_for_memory(memory.shape[1])
            if num_frames == 0:
                raise ValueError(f"audio of {batch.audio.shape[1]} samples yields no motion frame")
            style_emb = self.style_embedding(batch.style)
            if style2 is not None and style_weight is not None:
                other = torch.as_tensor(style2, device=batch.style.device).expand_as(batch.style)
                if ((other < 0) | (other >= self.num_styles)).any():
                    raise ValueError(f"style2 {other.tolist()} is outside [0, {self.num_styles})")
                style_emb = style_weight * style_emb + (1.0 - style_weight) * self.style_embedding(other)
            decode = self.decode_cached if use_cache else self.decode_full_prefix
            offsets = decode(memory, style_emb, num_frames)
            pred = offsets + batch.template.reshape(b, 1, -1)
            return pred.reshape(b, num_frames, self.num_vertices, 3)
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ checkpoints
    def load_stage1(self, path: str | Path) -> None:
        """Load an official stage-1 file (``{"state_dict": ...}``) into ``autoencoder`` (strict)."""
        load_stage1_state(self.autoencoder, read_state_dict(path), source=str(path))

    def load_official_checkpoints(self, stage1_path: str | Path, stage2_path: str | Path) -> list[str]:
        """Load the official two-file layout: stage 1 into ``autoencoder``, then stage 2.

        Returns the keys the stage-2 file lacked (only ``autoencoder.*`` keys, which stage 1 filled).
        Raises ``ValueError`` naming the file for shape mismatches, unexpected keys, or missing keys
        outside ``autoencoder.*``. A model built on the ``meta`` device takes the checkpoints' tensors
        (``assign=True``); ``CheckpointError`` if some of its tensors are in neither file.
        """
        self.load_stage1(stage1_path)
        state = read_state_dict(stage2_path)
        own = self.state_dict()
        mismatched = [
            f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
            for k, v in state.items()
            if k in own and k != "PPE.pe" and tuple(v.shape) != tuple(own[k].shape)
        ]
        if mismatched:
            hint = ""
            if any(m.startswith("learnable_style_emb") for m in mismatched):
                hint = (
                    " (learnable_style_emb: build the model with num_styles = the checkpoint's subject count)"
                )
            raise ValueError(
                f"{stage2_path}: shape mismatch for {len(mismatched)} keys{hint}: "
                + "; ".join(mismatched[:10])
            )
        assign = meta_load_assign(self, set(state), str(stage2_path))  # meta-device model: take the tensors
        result = self.load_state_dict(state, strict=False, assign=assign)
        missing = list(result.missing_keys)
        other_missing = [k for k in missing if not k.startswith("autoencoder.")]
        if other_missing or result.unexpected_keys:
            raise ValueError(
                f"{stage2_path}: not a CodeTalker {self.dataset} stage-2 checkpoint: missing keys outside "
                f"autoencoder.* {other_missing[:10]} (total {len(other_missing)}), unexpected keys "
                f"{list(result.unexpected_keys)[:10]} (total {len(result.unexpected_keys)})"
            )
        return missing
