"""Frame-wise vertex losses: MSE, lip-vertex MSE (``L_rlv``) and velocity MSE.

All take predicted and ground-truth vertices of the same shape, ``(B, T, V, 3)`` (or the flat
``(B, T, V·3)`` layout where no vertex indexing is involved), in the dataset's native units.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["check_pair", "lip_vertex_mse", "velocity_mse", "vertex_mse"]


def check_pair(pred: Tensor, target: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless ``pred`` and ``target`` are same-shaped ``(B, T, ...)`` tensors."""
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape"
        )
    if pred.dim() < 3:
        raise ValueError(f"{name}: expected (B, T, V, 3) or (B, T, D) tensors, got {tuple(pred.shape)}")


def vertex_mse(pred: Tensor, target: Tensor) -> Tensor:
    """FaceFormer's geometry loss ``L_mse = mean_{b,t,v,c} (x̂ − x)²`` (``nn.MSELoss()``, mean reduction)."""
    check_pair(pred, target, "vertex_mse")
    return F.mse_loss(pred, target)


def lip_vertex_mse(pred: Tensor, target: Tensor, lip_indices: Sequence[int] | Tensor) -> Tensor:
    """``L_rlv`` of the AV-guidance paper: MSE over lip vertices only.

    ``L_rlv = mean_{b,t,i,c} (x̂[b,t,idx_i,c] − x[b,t,idx_i,c])²`` over the given vertex indices,
    duplicates included (the official VOCASET list repeats four ids), i.e. ``nn.MSELoss()`` on
    ``pred[:, :, idx]`` vs ``gt[:, :, idx]`` (methods.md §1.2). Inputs ``(B, T, V, 3)``.
    """
    check_pair(pred, target, "lip_vertex_mse")
    if pred.dim() != 4:
        raise ValueError(f"lip_vertex_mse: expected (B, T, V, 3) vertices, got {tuple(pred.shape)}")
    idx = torch.as_tensor(lip_indices, dtype=torch.long, device=pred.device)
    if idx.dim() != 1 or idx.numel() == 0:
        raise ValueError("lip_vertex_mse: lip_indices must be a non-empty 1-D list of vertex ids")
    num_vertices = pred.shape[2]
    if int(idx.min()) < 0 or int(idx.max()) >= num_vertices:
        raise ValueError(
            f"lip_vertex_mse: lip_indices span [{int(idx.min())}, {int(idx.max())}] but the mesh has "
            f"{num_vertices} vertices; use the index list of this topology"
        )
    return F.mse_loss(pred[:, :, idx], target[:, :, idx])


def velocity_mse(pred: Tensor, target: Tensor) -> Tensor:
    """``mean (Δx̂_t − Δx_t)²`` with ``Δx_t = x_t − x_{t−1}`` (SelfTalk-style velocity loss); 0 if T < 2."""
    check_pair(pred, target, "velocity_mse")
    if pred.shape[1] < 2:
        return pred.sum() * 0.0
    return F.mse_loss(pred[:, 1:] - pred[:, :-1], target[:, 1:] - target[:, :-1])
