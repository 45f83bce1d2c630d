"""The fed-back motion tokens of FaceFormer-style decoders: scale, one causal pass, rollout training.

FaceFormer and the joint audio-text animator decode motion autoregressively: the offset predicted
for frame ``t − 1`` is mapped by ``vertice_map`` into the token of frame ``t``. This mixin holds
what both share about those tokens:

* ``motion_scale`` — the unit of the tokens: offsets are ``motion_scale · vertice_map_r(h)`` and
  are fed back as ``vertice_map(offset / motion_scale)`` (``1.0`` = the official models);
* :meth:`decode_inputs` — one causal pass over given fed-back offsets (teacher forcing feeds the
  ground truth, rollout training the model's own rollout);
* :meth:`decode_rollout_inputs` — *rollout training*: a no-grad cached autoregressive rollout
  supplies the inputs of one causal pass with gradients. Without dropout the pass equals the
  rollout (the decoder is causal and token 0 is the style alone, as in the autoregressive loop),
  so the loss is the autoregressive loss and training sees the inputs inference sees; the
  gradient does not flow back through the fed-back frames (the official loop's does, at O(T²)
  cost).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MotionFeedbackMixin"]


class MotionFeedbackMixin:
    """For an ``nn.Module`` with ``vertice_map``, ``vertice_map_r``, ``PPE``, ``_decode(tokens,
    memory)``, ``decode_cached(memory, style_emb, num_frames)`` and a float ``motion_scale``."""

    motion_scale: float
    vertice_map: nn.Linear
    vertice_map_r: nn.Linear
    PPE: nn.Module
    training: bool

    def _decode(self, tokens: Tensor, memory: Tensor) -> Tensor:  # pragma: no cover - provided
        raise NotImplementedError

    def decode_cached(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def decode_inputs(
        self, memory: Tensor, style_emb: Tensor, inputs: Tensor, *, style_only_first: bool = False
    ) -> Tensor:
        """One causal pass over fed-back offsets ``inputs`` ``(B, T, V·3)`` → offsets ``(B, T, V·3)``.

        Token ``t`` is ``vertice_map(inputs_t / motion_scale) + style``; with ``style_only_first``
        token 0 is the style alone, as in the autoregressive loop (teacher forcing feeds
        ``vertice_map(0)`` there, as the official FaceFormer code does).
        """
        emb = self.vertice_map(inputs / self.motion_scale)
        if style_only_first:
            emb = torch.cat([torch.zeros_like(emb[:, :1]), emb[:, 1:]], dim=1)
        tokens = self.PPE(emb + style_emb.unsqueeze(1))
        return self.motion_scale * self.vertice_map_r(self._decode(tokens, memory))

    def decode_rollout_inputs(self, memory: Tensor, style_emb: Tensor, num_frames: int) -> Tensor:
        """Rollout training: inputs from a no-grad cached rollout, then :meth:`decode_inputs`."""
        was_training = self.training
        with torch.no_grad():
            self.eval()  # type: ignore[attr-defined]
            try:
                rollout = self.decode_cached(memory.detach(), style_emb.detach(), num_frames)
            finally:
                self.train(was_training)  # type: ignore[attr-defined]
        inputs = torch.cat([torch.zeros_like(rollout[:, :1]), rollout[:, :-1]], dim=1)
        return self.decode_inputs(memory, style_emb, inputs, style_only_first=True)
