"""Incremental (KV-cached) evaluation of a post-LN ``nn.TransformerDecoder`` with FaceFormer's masks.

:class:`CachedDecoder` reads the parameters of an existing ``nn.TransformerDecoder`` (batch-first,
post-LN ``nn.TransformerDecoderLayer`` s) and evaluates one new target position at a time,
keeping the self-attention keys and values of earlier positions. Because FaceFormer's self-attention
mask is causal (the periodic ALiBi bias of :func:`~facial_animator.blocks.periodic_causal_bias`) and
its cross-attention mask lets motion frame ``i`` see only audio frames ``k·i … k·i+k−1``, position
``i`` of a full-prefix pass depends only on positions ``≤ i``; the cached step computes exactly that
position. Dropout is not applied (inference only).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks.masks import alibi_slopes

__all__ = ["CachedDecoder"]


def _split_heads(x: Tensor, n_head: int) -> Tensor:
    b, t, d = x.shape
    return x.view(b, t, n_head, d // n_head).transpose(1, 2)  # (B, h, t, dh)


class CachedDecoder:
    """Step-by-step evaluation of ``decoder`` for memory ``memory`` ``(B, T_a, d)``.

    Args:
        decoder: the ``nn.TransformerDecoder`` (no final norm, post-LN layers, batch-first).
        memory: encoder output (audio features) ``(B, T_a, d)``.
        period: period of the ALiBi-style self-attention bias.
        audio_frames_per_motion_frame: ``k`` of the alignment mask.
        bias_heads: number of heads the bias is built for (FaceFormer: 4).
    """

    def __init__(
        self, decoder: nn.TransformerDecoder, memory: Tensor, *, period: int,
        audio_frames_per_motion_frame: int, bias_heads: int = 4,
    ) -> None:
        if decoder.norm is not None:
            raise ValueError("CachedDecoder supports decoders without a final norm (as FaceFormer)")
        self.layers: list[nn.TransformerDecoderLayer] = list(decoder.layers)  # type: ignore[arg-type]
        for layer in self.layers:
            if layer.norm_first:
                raise ValueError("CachedDecoder supports post-LN layers only (norm_first=False)")
        self.n_head = self.layers[0].self_attn.num_heads
        if self.n_head != bias_heads:
            raise ValueError(f"decoder has {self.n_head} heads but the bias is built for {bias_heads}")
        self.period = period
        self.k = audio_frames_per_motion_frame
        self.memory_len = memory.shape[1]
        dev, dt = memory.device, memory.dtype
        self.slopes = torch.tensor(alibi_slopes(bias_heads), device=dev, dtype=dt).view(1, -1, 1, 1)
        self.cache_k: list[list[Tensor]] = [[] for _ in self.layers]
        self.cache_v: list[list[Tensor]] = [[] for _ in self.layers]
        self.mem_k: list[Tensor] = []
        self.mem_v: list[Tensor] = []
        for layer in self.layers:
            attn = layer.multihead_attn
            d = attn.embed_dim
            w, bias = attn.in_proj_weight, attn.in_proj_bias
            k = F.linear(memory, w[d : 2 * d], None if bias is None else bias[d : 2 * d])
            v = F.linear(memory, w[2 * d :], None if bias is None else bias[2 * d :])
            self.mem_k.append(_split_heads(k, self.n_head))
            self.mem_v.append(_split_heads(v, self.n_head))
        self.step_index = 0

    def step(self, x: Tensor) -> Tensor:
        """Decoder output ``(B, 1, d)`` for the next target position, whose input is ``x`` ``(B, 1, d)``."""
        i = self.step_index
        lo, hi = self.k * i, self.k * i + self.k
        if hi > self.memory_len:
            raise ValueError(
                f"motion frame {i} needs audio frames {lo}..{hi - 1} but the memory has {self.memory_len}"
            )
        # ALiBi-style periodic bias for query i over keys 0..i: -m_h * floor((i - j) / p)
        j = torch.arange(i + 1, device=x.device)
        steps = torch.div(i - j, self.period, rounding_mode="floor").to(x.dtype)
        bias = -self.slopes * steps.view(1, 1, 1, -1)  # (1, h, 1, i+1)
        for n, layer in enumerate(self.layers):
            sa = layer.self_attn
            d = sa.embed_dim
            qkv = F.linear(x, sa.in_proj_weight, sa.in_proj_bias)
            q, k, v = (_split_heads(t, self.n_head) for t in qkv.split(d, dim=-1))
            self.cache_k[n].append(k)
            self.cache_v[n].append(v)
            keys = torch.cat(self.cache_k[n], dim=2)
            values = torch.cat(self.cache_v[n], dim=2)
            att = self._attend(q, keys, values, bias)
            x = layer.norm1(x + sa.out_proj(att))

            ca = layer.multihead_attn
            qc = F.linear(x, ca.in_proj_weight[:d], None if ca.in_proj_bias is None else ca.in_proj_bias[:d])
            att = self._attend(_split_heads(qc, self.n_head), self.mem_k[n][:, :, lo:hi],
                               self.mem_v[n][:, :, lo:hi], None)
            x = layer.norm2(x + ca.out_proj(att))
            x = layer.norm3(x + layer.linear2(layer.activation(layer.linear1(x))))
        self.step_index += 1
        return x

    @staticmethod
    def _attend(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | None) -> Tensor:
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        if bias is not None:
            scores = scores + bias
        out = torch.matmul(torch.softmax(scores, dim=-1), v)  # (B, h, 1, dh)
        b, h, t, dh = out.shape
        return out.transpose(1, 2).reshape(b, t, h * dh)
