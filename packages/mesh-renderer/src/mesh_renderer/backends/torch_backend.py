"""Pure-PyTorch rasterizer (CPU and CUDA), differentiable with respect to vertex positions.

Two stages:

1. :func:`~mesh_renderer.backends._binning.find_candidates` (no autograd) picks, per pixel, the ``K``
   nearest triangles that cover the pixel centre or lie within the blur radius of it.
2. For those candidates only, barycentric coordinates, depth and the signed distance from the pixel centre
   to the triangle are recomputed from the vertex tensor with autograd on. Gradients therefore reach the
   vertices through ``bary_coords`` and ``zbuf`` (interior shading) and through ``dists`` (coverage at
   silhouettes and occlusion boundaries, turned into soft coverage by the blending functions).
"""

from __future__ import annotations

import torch

from ..blending import contour_edges
from ..fragments import Fragments, PackedFragments, RasterSettings
from ._binning import _rows, find_candidates

__all__ = ["TorchRasterizer", "rasterize_screen"]


def _check_inputs(screen: torch.Tensor, faces: torch.Tensor) -> None:
    if screen.ndim != 3 or screen.shape[-1] != 3:
        raise ValueError(f"screen vertices must have shape (N, V, 3), got {tuple(screen.shape)}")
    if faces.ndim != 2 or faces.shape[-1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {tuple(faces.shape)}")
    if faces.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"faces must be an integer tensor, got {faces.dtype}")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= screen.shape[1]):
        raise ValueError(
            f"faces index vertices outside [0, {screen.shape[1]}): "
            f"min {int(faces.min())}, max {int(faces.max())}"
        )


def _seg_dist2(px, py, ax, ay, bx, by):
    ex, ey = bx - ax, by - ay
    len2 = (ex * ex + ey * ey).clamp_min(1e-20)
    t = (((px - ax) * ex + (py - ay) * ey) / len2).clamp(0.0, 1.0)
    dx, dy = px - ax - t * ex, py - ay - t * ey
    return dx * dx + dy * dy


def rasterize_screen(
    screen: torch.Tensor,
    faces: torch.Tensor,
    settings: RasterSettings,
    perspective: bool = False,
) -> Fragments:
    """Rasterize ``(N, V, 3)`` window-pixel vertices (x right, y down, depth) sharing ``(F, 3)`` faces."""
    _check_inputs(screen, faces)
    faces = faces.to(device=screen.device, dtype=torch.int64)
    n, v, _ = screen.shape
    f = faces.shape[0]
    h, w = settings.image_size
    k = settings.faces_per_pixel
    blur_px = settings.blur_radius_pixels
    contour = contour_edges(screen, faces) if blur_px > 0 and settings.contour_only else None
    p2f = find_candidates(screen, faces, (h, w), blur_px, k, settings.cull_backfaces, contour)

    flat_p2f = p2f.reshape(-1)
    idx = torch.nonzero(flat_p2f >= 0, as_tuple=True)[0]
    packed = flat_p2f.index_select(0, idx)
    batch = torch.div(packed, f, rounding_mode="floor")
    face = packed - batch * f
    vid = _rows(faces, face) + (batch * v).unsqueeze(-1)  # (M, 3) rows of the packed vertex table
    tri = screen.reshape(n * v, 3).index_select(0, vid.reshape(-1)).view(-1, 3, 3)  # differentiable
    pixel = torch.div(idx, k, rounding_mode="floor")
    col = (pixel % w).to(screen.dtype) + 0.5
    row = (torch.div(pixel, w, rounding_mode="floor") % h).to(screen.dtype) + 0.5

    # unbind, not nine indexing ops: each index's backward would zero-fill a whole (M, 3, 3) gradient
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = (corner.unbind(-1) for corner in tri.unbind(1))
    area2 = (bx - ax) * (cy - ay) - (cx - ax) * (by - ay)
    w0 = ((cx - bx) * (row - by) - (cy - by) * (col - bx)) / area2
    w1 = ((ax - cx) * (row - cy) - (ay - cy) * (col - cx)) / area2
    w2 = 1.0 - w0 - w1
    bary = torch.stack([w0, w1, w2], dim=-1)
    inside = (bary >= 0).all(dim=-1)
    edge_d2 = torch.stack(
        [
            _seg_dist2(col, row, ax, ay, bx, by),
            _seg_dist2(col, row, bx, by, cx, cy),
            _seg_dist2(col, row, cx, cy, ax, ay),
        ],
        dim=-1,
    )  # (M, 3) squared pixel distances to the edges (corner e to e + 1)
    d2 = edge_d2.amin(-1)
    scale2 = settings.pixels_per_ndc**2
    dist = torch.where(inside, -d2, d2) / scale2

    zs = torch.stack([az, bz, cz], dim=-1)
    if perspective and settings.perspective_correct:
        bz_ = bary / zs
        bary = bz_ / bz_.sum(-1, keepdim=True)
    if settings.blur_radius > 0:
        clipped = bary.clamp(0.0, 1.0)
        bary = torch.where(
            inside.unsqueeze(-1), bary, clipped / clipped.sum(-1, keepdim=True).clamp_min(1e-12)
        )
    depth = (bary * zs).sum(-1)

    edge_flags = None if contour is None else contour.reshape(n * f, 3).index_select(0, packed)
    return Fragments(
        pix_to_face=p2f,
        packed=PackedFragments(
            index=idx,
            vertex_rows=vid,
            bary_coords=bary,
            dists=dist,
            contour=edge_flags,
            edge_dist2=edge_d2 / scale2,
        ),
        packed_depth=depth,
    )


class TorchRasterizer:
    """Default backend: pure PyTorch, any device, differentiable (see module docstring)."""

    name = "torch"

    def __init__(self, settings: RasterSettings | None = None) -> None:
        self.settings = settings or RasterSettings()

    def __call__(self, screen: torch.Tensor, faces: torch.Tensor, perspective: bool = False) -> Fragments:
        return rasterize_screen(screen, faces, self.settings, perspective)
