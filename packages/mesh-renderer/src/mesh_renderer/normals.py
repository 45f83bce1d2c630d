"""Vertex normals recomputed from (differentiable) vertex positions."""

from __future__ import annotations

import torch

__all__ = ["face_normals", "vertex_normals"]


def face_normals(vertices: torch.Tensor, faces: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """``(..., F, 3)`` face normals ``(v1 - v0) x (v2 - v0)`` of ``(..., V, 3)`` vertices."""
    faces = faces.to(device=vertices.device, dtype=torch.int64)
    # index_select, not advanced indexing: its backward (index_add) sums the gradients of a vertex
    # shared by several faces in a fixed order; advanced indexing back-propagates through an
    # accumulating index_put whose summation order varies between runs with several CPU threads
    v0 = vertices.index_select(-2, faces[:, 0])
    v1 = vertices.index_select(-2, faces[:, 1])
    v2 = vertices.index_select(-2, faces[:, 2])
    n = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)
    return torch.nn.functional.normalize(n, dim=-1, eps=1e-12) if normalize else n


def vertex_normals(vertices: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """``(..., V, 3)`` unit vertex normals: the area-weighted sum of incident face normals.

    The unnormalised cross product ``(v1 - v0) x (v2 - v0)`` has length twice the face area, so summing it
    over the faces around a vertex weights each face by its area (the weighting pytorch3d's ``Meshes`` uses).
    Counter-clockwise faces (seen from the viewer) give normals towards the viewer.
    """
    faces = faces.to(device=vertices.device, dtype=torch.int64)
    fn = face_normals(vertices, faces, normalize=False)  # (..., F, 3)
    lead = vertices.shape[:-2]
    v = vertices.shape[-2]
    fn_flat = fn.reshape(-1, faces.shape[0], 3)
    acc = fn_flat.new_zeros(fn_flat.shape[0], v, 3)
    for corner in range(3):
        acc = acc.index_add(1, faces[:, corner], fn_flat)
    return torch.nn.functional.normalize(acc, dim=-1, eps=1e-12).reshape(*lead, v, 3)
