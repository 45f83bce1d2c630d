"""CodeTalker stage 1: the motion VQ-autoencoder (``VQAutoEncoder``; Xing et al., CVPR 2023).

Encoder, on offsets x − template (B, T, V·3):
``vertice_mapping`` (Linear + LeakyReLU 0.2) → ``squasher`` (Conv1d k5 replicate-padded + LeakyReLU +
InstanceNorm1d) → ``encoder_linear_embedding`` → ``encoder_pos_embedding`` (+Dropout 0.1) →
``encoder_transformer`` → [BIWI: ``encoder_linear_embedding_post``] → reshape (B, T·H, C).

Quantiser: :class:`~facial_animator.codetalker.quantizer.VectorQuantizer` (β = 0.25).

Decoder, on codes (B, C, T·H): reshape (B, T, H·C) → [BIWI: ``decoder_linear_embedding_pre``] →
``expander`` (Conv1d k5 replicate + LeakyReLU + InstanceNorm1d) → ``decoder_linear_embedding`` →
``decoder_pos_embedding`` → ``decoder_transformer`` → ``vertice_map_reverse`` (bias-free on BIWI).

Stage-1 training loss (official ``calc_vq_loss``): ``L1(x̂, x) + 1.0 · L_quant``; the official recipe
uses AdamW (lr 1e-4, weight decay 0.01), and StepLR(20, 0.5) on VOCASET only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import VQConfig
from .layers import LinearEmbedding, PositionalEncoding, VQTransformer
from .quantizer import QuantizerOutput, VectorQuantizer

__all__ = ["VQAutoEncoder", "VQOutput", "stage1_loss"]


def _conv_block(dim: int, neg_slope: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(dim, dim, 5, stride=1, padding=2, padding_mode="replicate"),
        nn.LeakyReLU(neg_slope),
        nn.InstanceNorm1d(dim, affine=False, track_running_stats=False),
    )


def _transformer(cfg: VQConfig) -> VQTransformer:
    return VQTransformer(
        cfg.hidden_size,
        cfg.num_hidden_layers,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        cfg.attention_scale,
        cfg.gelu_approximate,
    )


class VQEncoder(nn.Module):
    """Stage-1 encoder: offsets (B, T, V·3) → features (B, T, H·C)."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        dim = cfg.hidden_size
        self.vertice_mapping = nn.Sequential(nn.Linear(cfg.in_dim, dim), nn.LeakyReLU(cfg.neg_slope))
        self.squasher = nn.Sequential(_conv_block(dim, cfg.neg_slope))
        self.encoder_transformer = _transformer(cfg)
        self.encoder_pos_embedding = PositionalEncoding(
            dim, cfg.dropout, cfg.max_len, cfg.positional_encoding
        )
        self.encoder_linear_embedding = LinearEmbedding(dim, dim)
        if cfg.bottleneck_linears:
            self.encoder_linear_embedding_post = LinearEmbedding(dim, cfg.code_width)

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:
        h = self.vertice_mapping(offsets)
        h = self.squasher(h.transpose(1, 2)).transpose(1, 2)
        h = self.encoder_linear_embedding(h)
        h = self.encoder_pos_embedding(h)
        h = self.encoder_transformer(h)
        if hasattr(self, "encoder_linear_embedding_post"):
            h = self.encoder_linear_embedding_post(h)
        return h


class VQDecoder(nn.Module):
    """Stage-1 decoder: features (B, T, H·C) → offsets (B, T, V·3)."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        dim = cfg.hidden_size
        self.expander = nn.ModuleList([_conv_block(dim, cfg.neg_slope)])
        self.decoder_transformer = _transformer(cfg)
        self.decoder_pos_embedding = PositionalEncoding(
            dim, cfg.dropout, cfg.max_len, cfg.positional_encoding
        )
        self.decoder_linear_embedding = LinearEmbedding(dim, dim)
        if cfg.bottleneck_linears:
            self.decoder_linear_embedding_pre = LinearEmbedding(cfg.code_width, dim)
        self.vertice_map_reverse = nn.Linear(dim, cfg.in_dim, bias=cfg.output_bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.vertice_map_reverse(self.hidden(features))

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        """Transformer output (B, T, hidden) before ``vertice_map_reverse``."""
        h = features
        if hasattr(self, "decoder_linear_embedding_pre"):
            h = self.decoder_linear_embedding_pre(h)
        h = h.transpose(1, 2)
        for block in self.expander:
            h = block(h)
        h = self.decoder_linear_embedding(h.transpose(1, 2))
        h = self.decoder_pos_embedding(h)
        return self.decoder_transformer(h)


class VQOutput(NamedTuple):
    """Reconstruction (layout of the input vertices), quantisation loss, perplexity, code ids (B, T·H)."""

    vertices: torch.Tensor
    quant_loss: torch.Tensor
    perplexity: torch.Tensor
    indices: torch.Tensor


class VQAutoEncoder(nn.Module):
    """CodeTalker's discrete motion prior; ``state_dict`` keys equal the official ``*_stage1.pth.tar``.

    Official key counts: 147 (VOCASET) / 150 (BIWI); parameters 131.7 M / 246.5 M.
    """

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = VQEncoder(cfg)
        self.decoder = VQDecoder(cfg)
        self.quantize = VectorQuantizer(cfg.n_embed, cfg.zquant_dim, cfg.beta)

    # -- shape helpers -------------------------------------------------------------------------
    def _check_offsets(self, offsets: torch.Tensor) -> None:
        if offsets.dim() != 3 or offsets.shape[-1] != self.cfg.in_dim:
            raise ValueError(
                f"VQAutoEncoder expects flat offsets (B, T, {self.cfg.in_dim}), "
                f"got shape {tuple(offsets.shape)}"
            )
        if offsets.shape[1] < 1:
            raise ValueError("VQAutoEncoder needs at least one frame")

    def features(self, offsets: torch.Tensor) -> torch.Tensor:
        """Pre-quantisation encoder features (B, T·H, C) of flat offsets (B, T, V·3)."""
        self._check_offsets(offsets)
        h = self.encoder(offsets / self.cfg.motion_scale)
        return h.reshape(h.shape[0], -1, self.cfg.zquant_dim)

    def encode(self, offsets: torch.Tensor) -> QuantizerOutput:
        """Quantised codes of flat offsets: ``quantized`` (B, C, T·H), loss, perplexity, indices (B, T·H)."""
        return self.quantize(self.features(offsets))

    def _codes_to_features(self, quant: torch.Tensor) -> torch.Tensor:
        b, c, n = quant.shape
        h_codes = self.cfg.face_quan_num
        if c != self.cfg.zquant_dim or n % h_codes:
            raise ValueError(
                f"decode expects (B, {self.cfg.zquant_dim}, T*{h_codes}) codes, "
                f"got shape {tuple(quant.shape)}"
            )
        return quant.permute(0, 2, 1).reshape(b, n // h_codes, self.cfg.code_width)

    def decode(self, quant: torch.Tensor) -> torch.Tensor:
        """Flat offsets (B, T, V·3) from channels-first codes (B, C, T·H)."""
        return self.cfg.motion_scale * self.decoder(self._codes_to_features(quant))

    def decode_last(self, quant: torch.Tensor) -> torch.Tensor:
        """Flat offsets (B, 1, V·3) of the last frame of ``decode(quant)``.

        Equal to ``decode(quant)[:, -1:]``: the output layer is per frame, so only the last frame's
        hidden state goes through it (the decoder transformer still sees the whole sequence).
        """
        hidden = self.decoder.hidden(self._codes_to_features(quant))
        return self.cfg.motion_scale * self.decoder.vertice_map_reverse(hidden[:, -1:])

    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Flat offsets (B, T, V·3) from code ids (B, T·H)."""
        return self.decode(self.quantize.lookup(indices).permute(0, 2, 1))

    def forward(self, vertices: torch.Tensor, template: torch.Tensor) -> VQOutput:
        """Reconstruct ``vertices`` (B, T, V, 3) given ``template`` (B, V, 3).

        Flat (B, T, V·3) / (B, V·3) inputs are accepted too and give flat output.
        """
        structured = vertices.dim() == 4
        if structured:
            if template.dim() != 3 or template.shape[1:] != vertices.shape[2:]:
                raise ValueError(
                    f"template shape {tuple(template.shape)} does not match vertices {tuple(vertices.shape)}"
                )
            flat = vertices.reshape(*vertices.shape[:2], -1)
            flat_template = template.reshape(template.shape[0], -1)
        else:
            flat, flat_template = vertices, template
            if template.dim() != 2 or template.shape[-1] != flat.shape[-1]:
                raise ValueError(
                    f"template shape {tuple(template.shape)} does not match vertices {tuple(vertices.shape)}"
                )
        offsets = flat - flat_template.unsqueeze(1)
        q = self.encode(offsets)
        recon = self.decode(q.quantized) + flat_template.unsqueeze(1)
        if structured:
            recon = recon.reshape(vertices.shape)
        return VQOutput(recon, q.loss, q.perplexity, q.indices)


def stage1_loss(
    output: VQOutput, target: torch.Tensor, quant_weight: float = 1.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Official stage-1 objective ``mean|x̂ − x| + quant_weight · L_quant``.

    Source: CodeTalker ``metrics/loss.py:calc_vq_loss`` (``nn.L1Loss`` + weighted quantisation loss).
    """
    rec = F.l1_loss(output.vertices, target)
    total = rec + quant_weight * output.quant_loss
    return total, {"rec_loss": rec.detach(), "quant_loss": output.quant_loss.detach()}
