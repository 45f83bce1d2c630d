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
        audio_frames_per_motion_frame: int, bias_heads: int = 4, max_len: int | None = None,
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
        self.capacity = max_len if max_len is not None else max(1, self.memory_len // self.k)
        self.batch = memory.shape[0]
        self.slopes = torch.tensor(alibi_slopes(bias_heads), device=memory.device, dtype=memory.dtype)
        self.bias_table = self._bias_table(self.capacity)
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []
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
            self.keys.append(memory.new_empty(self.batch, self.n_head, self.capacity, d // self.n_head))
            self.values.append(memory.new_empty(self.batch, self.n_head, self.capacity, d // self.n_head))
        self.step_index = 0

    def _bias_table(self, length: int) -> Tensor:
        # entry [h, n] = -m_h * floor(n / p): the bias at distance n = i - j
        distance = torch.arange(length, device=self.slopes.device)
        steps = torch.div(distance, self.period, rounding_mode="floor").to(self.slopes.dtype)
        return -self.slopes.view(-1, 1) * steps.view(1, -1)

    def _grow(self) -> None:
        self.capacity *= 2
        self.bias_table = self._bias_table(self.capacity)
        for store in (self.keys, self.values):
            for n, old in enumerate(store):
                new = old.new_empty(old.shape[0], old.shape[1], self.capacity, old.shape[3])
                new[:, :, : self.step_index] = old[:, :, : self.step_index]
                store[n] = new

    def step(self, x: Tensor) -> Tensor:
        """Decoder output ``(B, 1, d)`` for the next target position, whose input is ``x`` ``(B, 1, d)``."""
        i = self.step_index
        lo, hi = self.k * i, self.k * i + self.k
        if hi > self.memory_len:
            raise ValueError(
                f"motion frame {i} needs audio frames {lo}..{hi - 1} but the memory has {self.memory_len}"
            )
        if i >= self.capacity:
            self._grow()
        # ALiBi-style periodic bias of query i over keys j = 0..i: -m_h * floor((i - j) / p)
        bias = self.bias_table[:, : i + 1].flip(-1).view(1, self.n_head, 1, i + 1)
        for n, layer in enumerate(self.layers):
            sa = layer.self_attn
            d = sa.embed_dim
            qkv = F.linear(x, sa.in_proj_weight, sa.in_proj_bias)
            q, k, v = (_split_heads(t, self.n_head) for t in qkv.split(d, dim=-1))
            self.keys[n][:, :, i : i + 1] = k
            self.values[n][:, :, i : i + 1] = v
            att = self._attend(q, self.keys[n][:, :, : i + 1], self.values[n][:, :, : i + 1], bias)
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
