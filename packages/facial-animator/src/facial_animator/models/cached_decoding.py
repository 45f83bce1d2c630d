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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..blocks.masks import alibi_slopes

__all__ = ["CachedDecoder"]


def _split_heads(x: Tensor, n_head: int) -> Tensor:
    b, t, d = x.shape
    return x.view(b, t, n_head, d // n_head).transpose(1, 2)  # (B, h, t, dh)


def _one_position_heads(x: Tensor, n_head: int) -> Tensor:
    """:func:`_split_heads` of one position ``(B, 1, d)``: the same memory seen as ``(B, h, 1, dh)``."""
    return x.view(x.shape[0], n_head, 1, x.shape[2] // n_head)


def _one_position_merge(x: Tensor) -> Tensor:
    """``(B, h, 1, dh)`` → ``(B, 1, h·dh)``: heads side by side (a view of one position)."""
    return x.reshape(x.shape[0], 1, x.shape[1] * x.shape[3])


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
        self,
        decoder: nn.TransformerDecoder,
        memory: Tensor,
        *,
        period: int,
        audio_frames_per_motion_frame: int,
        bias_heads: int = 4,
        max_len: int | None = None,
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
        #: each layer's cross-attention query projection (weight, bias): the first third of in_proj
        self.cross_query: list[tuple[Tensor, Tensor | None]] = []
        for layer in self.layers:
            attn = layer.multihead_attn
            d = attn.embed_dim
            w, bias = attn.in_proj_weight, attn.in_proj_bias
            self.cross_query.append((w[:d], None if bias is None else bias[:d]))
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

    @property
    def bias_table(self) -> Tensor:
        """``(h, capacity)``: entry ``[h, n]`` is the self-attention bias at distance ``n``."""
        return self._table

    @bias_table.setter
    def bias_table(self, table: Tensor) -> None:
        self._table = table
        # (1, h, 1, capacity), distances capacity-1 … 0: query i's bias over keys 0..i is its last i+1
        self.bias_reversed = table.flip(-1).view(1, table.shape[0], 1, table.shape[1]).contiguous()

    def _grow(self) -> None:
        self.capacity *= 2
        self.bias_table = self._bias_table(self.capacity)
        for store in (self.keys, self.values):
            for n, old in enumerate(store):
                new = old.new_empty(old.shape[0], old.shape[1], self.capacity, old.shape[3])
                new[:, :, : self.step_index] = old[:, :, : self.step_index]
                store[n] = new

    def step(self, x: Tensor) -> Tensor:
        """Decoder output ``(B, 1, d)`` for the next target position, whose input is ``x`` ``(B, 1, d)``.

        The layers' modules are bypassed for their functional forms (``F.linear``, ``F.layer_norm``,
        ``F.scaled_dot_product_attention``) with the same parameters: a step is some twenty tiny
        operations, and the modules' call overhead was a third of an autoregressive rollout's time."""
        i = self.step_index
        lo, hi = self.k * i, self.k * i + self.k
        if hi > self.memory_len:
            raise ValueError(
                f"motion frame {i} needs audio frames {lo}..{hi - 1} but the memory has {self.memory_len}"
            )
        if i >= self.capacity:
            self._grow()
        # ALiBi-style periodic bias of query i over keys j = 0..i: -m_h * floor((i - j) / p)
        bias = self.bias_reversed[..., self.capacity - 1 - i :]
        for n, layer in enumerate(self.layers):
            sa = layer.self_attn
            d = sa.embed_dim
            qkv = F.linear(x, sa.in_proj_weight, sa.in_proj_bias)
            q, k, v = (_one_position_heads(t, self.n_head) for t in qkv.split(d, dim=-1))
            self.keys[n][:, :, i : i + 1] = k
            self.values[n][:, :, i : i + 1] = v
            att = F.scaled_dot_product_attention(
                q, self.keys[n][:, :, : i + 1], self.values[n][:, :, : i + 1], bias
            )
            out = F.linear(_one_position_merge(att), sa.out_proj.weight, sa.out_proj.bias)
            x = self._norm(x + out, layer.norm1)

            ca = layer.multihead_attn
            qc = F.linear(x, *self.cross_query[n])
            att = F.scaled_dot_product_attention(
                _one_position_heads(qc, self.n_head), self.mem_k[n][:, :, lo:hi], self.mem_v[n][:, :, lo:hi]
            )
            out = F.linear(_one_position_merge(att), ca.out_proj.weight, ca.out_proj.bias)
            x = self._norm(x + out, layer.norm2)
            hidden = layer.activation(F.linear(x, layer.linear1.weight, layer.linear1.bias))
            x = self._norm(x + F.linear(hidden, layer.linear2.weight, layer.linear2.bias), layer.norm3)
        self.step_index += 1
        return x

    @staticmethod
    def _norm(x: Tensor, norm: nn.LayerNorm) -> Tensor:
        return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)
