"""Vector quantiser of CodeTalker stage 1 (taming-transformers style, van den Oord et al. 2017).

For inputs z (B, N, C) and codebook e (K, C): index ``k* = argmin_k ‖z − e_k‖²`` (computed as
``‖z‖² + ‖e_k‖² − 2 z·e_k`` like the official code), ``z_q = e_{k*}``, loss
``β · mean((sg[z_q] − z)²) + mean((z_q − sg[z])²)`` with β = 0.25 on the commitment term, and the
straight-through estimator ``z + sg[z_q − z]``. No EMA updates and no dead-code restarts.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

__all__ = ["QuantizerOutput", "VectorQuantizer"]


class QuantizerOutput(NamedTuple):
    """``quantized`` is channels-first (B, C, N) as in the official code; ``indices`` is (B, N)."""

    quantized: torch.Tensor
    loss: torch.Tensor
    perplexity: torch.Tensor
    indices: torch.Tensor


class VectorQuantizer(nn.Module):
    """Codebook ``embedding`` (n_embed, dim), initialised U(−1/n_embed, 1/n_embed)."""

    def __init__(self, n_embed: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.n_embed = n_embed
        self.dim = dim
        self.beta = beta
        self.embedding = nn.Embedding(n_embed, dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / n_embed, 1.0 / n_embed)

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Codebook indices (B, N) of the nearest entries to ``z`` (B, N, C)."""
        if z.shape[-1] != self.dim:
            raise ValueError(
                f"quantiser expects {self.dim} channels in the last axis, got shape {tuple(z.shape)}"
            )
        flat = z.reshape(-1, self.dim)
        weight = self.embedding.weight
        dist = flat.pow(2).sum(1, keepdim=True) + weight.pow(2).sum(1) - 2.0 * flat @ weight.t()
        return dist.argmin(dim=1).view(z.shape[:-1])

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors (…, C) of integer ``indices``."""
        return self.embedding(indices)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        """Quantise ``z`` (B, N, C)."""
        indices = self.nearest(z)
        z_q = self.lookup(indices)
        loss = self.beta * torch.mean((z_q.detach() - z) ** 2) + torch.mean((z_q - z.detach()) ** 2)
        z_q = z + (z_q - z).detach()
        usage = torch.bincount(indices.reshape(-1), minlength=self.n_embed).to(z.dtype) / indices.numel()
        perplexity = torch.exp(-torch.sum(usage * torch.log(usage + 1e-10)))
        return QuantizerOutput(z_q.permute(0, 2, 1).contiguous(), loss, perplexity, indices)
