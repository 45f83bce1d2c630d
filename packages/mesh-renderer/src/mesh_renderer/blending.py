"""Soft coverage and front-to-back compositing of the ``K`` candidates of each pixel.

Coverage of candidate ``k`` (SoftRas, Liu et al. 2019, "Soft Rasterizer", eq. 1):
``p_k = sigmoid(-sign * d_k^2 / sigma)``, with ``d_k`` the distance from the pixel centre to the triangle's
*contour* edges in NDC units and ``sign`` = -1 inside, +1 outside. Only contour edges count: edges on the
mesh boundary (the mouth opening, the outline of a cropped region) and edges whose two faces face opposite
ways on screen (occluding contours). Edges shared by two faces of the same visible surface give no
partial coverage, so tiny triangles do not produce dark seams (a triangle without contour edges covers its
interior with ``p = 1`` and nothing outside). The coverage is continuous in the vertex positions except
where a candidate enters the blur band (a jump of ``sigmoid(-r^2 / sigma)``, 1e-4 with the defaults).

Compositing (the "over" operator, nearest first):
``C = sum_k p_k prod_{j<k} (1 - p_j) c_k + prod_k (1 - p_k) c_bg`` and ``alpha = 1 - prod_k (1 - p_k)``.
Gradients reach the vertices through ``p_k`` (contour positions) and through ``c_k`` (shading).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .fragments import Fragments

__all__ = [
    "BlendParams",
    "composite",
    "contour_coverage",
    "contour_edges",
    "edge_neighbours",
    "hard_coverage",
    "packed_composite",
    "packed_contour_coverage",
]


@dataclass(frozen=True)
class BlendParams:
    """``sigma``: softness of coverage in NDC-squared units (pytorch3d's default 1e-4); background colour."""

    sigma: float = 1e-4
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if not self.sigma > 0:
            raise ValueError(f"BlendParams.sigma must be > 0, got {self.sigma}")


_NEIGHBOUR_CACHE: dict[tuple, torch.Tensor] = {}


def edge_neighbours(faces: torch.Tensor) -> torch.Tensor:
    """``(F, 3)`` index of the face across edge ``e`` of each face (edge ``e`` joins corners e and e+1).

    ``-1`` marks a boundary edge, or an edge shared by more than two faces. Cached per topology.
    """
    f_np = faces.detach().cpu().numpy().astype(np.int64)
    key = (f_np.shape, hash(f_np.tobytes()))
    hit = _NEIGHBOUR_CACHE.get(key)
    if hit is None:
        nf = f_np.shape[0]
        a = f_np
        b = np.roll(f_np, -1, axis=1)
        lo, hi = np.minimum(a, b).reshape(-1), np.maximum(a, b).reshape(-1)
        edge_key = lo * (int(f_np.max(initial=0)) + 1) + hi
        order = np.argsort(edge_key, kind="stable")
        _, first, counts = np.unique(edge_key[order], return_index=True, return_counts=True)
        i = first[counts == 2]  # manifold edges: exactly two half-edges
        nb = np.full(3 * nf, -1, dtype=np.int64)
        nb[order[i]] = order[i + 1] // 3
        nb[order[i + 1]] = order[i] // 3
        hit = torch.from_numpy(nb.reshape(nf, 3))
        if len(_NEIGHBOUR_CACHE) > 8:
            _NEIGHBOUR_CACHE.clear()
        _NEIGHBOUR_CACHE[key] = hit
    return hit.to(faces.device)


@torch.no_grad()
def contour_edges(screen: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """``(N, F, 3)`` bool: edge ``e`` of face ``f`` is a boundary edge or joins front- and back-facing faces.

    Facing is the sign of the triangle's signed area on screen (counter-clockwise for the viewer = front).
    """
    faces = faces.to(device=screen.device, dtype=torch.int64)
    n, f = screen.shape[0], faces.shape[0]
    nb = edge_neighbours(faces)  # (F, 3)
    tri = screen.detach()[:, faces]  # (N, F, 3, 3)
    d1 = tri[..., 1, :2] - tri[..., 0, :2]
    d2 = tri[..., 2, :2] - tri[..., 0, :2]
    facing = (d1[..., 0] * d2[..., 1] - d1[..., 1] * d2[..., 0]) < 0  # (N, F)
    nb_facing = facing[:, nb.clamp_min(0).reshape(-1)].reshape(n, f, 3)
    return (nb < 0).unsqueeze(0) | (nb_facing != facing.unsqueeze(-1))


def _seg_dist2(px, py, ax, ay, bx, by):
    ex, ey = bx - ax, by - ay
    len2 = (ex * ex + ey * ey).clamp_min(1e-20)
    t = (((px - ax) * ex + (py - ay) * ey) / len2).clamp(0.0, 1.0)
    dx, dy = px - ax - t * ex, py - ay - t * ey
    return dx * dx + dy * dy


def hard_coverage(fragments: Fragments) -> torch.Tensor:
    """``(N, H, W, K)`` coverage 1 for covering candidates (``dists <= 0``), 0 otherwise (no gradient)."""
    return (fragments.mask & (fragments.dists <= 0)).to(fragments.dists.dtype)


def packed_contour_coverage(
    fragments: Fragments,
    screen: torch.Tensor,
    faces: torch.Tensor,
    sigma: float,
    pixels_per_ndc: float,
) -> torch.Tensor:
    """``(M,)`` soft coverage of the non-empty candidates (order of ``fragments.packed_entries``)."""
    n, h, w, k = fragments.pix_to_face.shape
    v = screen.shape[1]
    faces = faces.to(device=screen.device, dtype=torch.int64)
    f = faces.shape[0]
    packed = fragments.packed_entries(faces, v)
    is_contour = packed.contour
    if is_contour is None:
        flat = fragments.pix_to_face.reshape(-1)[packed.index]
        is_contour = contour_edges(screen, faces).reshape(n * f, 3)[flat]
    if packed.edge_dist2 is not None:
        e = packed.edge_dist2 * (1.0 / sigma)
    else:
        idx = packed.index
        tri = screen.reshape(n * v, 3).index_select(0, packed.vertex_rows.reshape(-1)).view(-1, 3, 3)
        pixel = torch.div(idx, k, rounding_mode="floor")
        col = (pixel % w).to(screen.dtype) + 0.5
        row = (torch.div(pixel, w, rounding_mode="floor") % h).to(screen.dtype) + 0.5
        xs, ys = tri[..., 0], tri[..., 1]
        e = torch.stack(
            [
                _seg_dist2(col, row, xs[:, i], ys[:, i], xs[:, (i + 1) % 3], ys[:, (i + 1) % 3])
                for i in range(3)
            ],
            dim=-1,
        ) * (1.0 / (pixels_per_ndc**2 * sigma))  # (M, 3) squared edge distances over sigma
    d_c = torch.where(is_contour, e, torch.full_like(e, 80.0)).amin(-1).clamp_max(80.0)
    inside = packed.dists <= 0
    p = torch.sigmoid(torch.where(inside, d_c, -d_c))
    drop = _shadowed_outside_candidates(packed.index, packed.vertex_rows, inside, d_c.detach(), k)
    return p if drop is None else torch.where(drop, torch.zeros_like(p), p)


@torch.no_grad()
def _shadowed_outside_candidates(
    index: torch.Tensor, vertex_rows: torch.Tensor, inside: torch.Tensor, dist: torch.Tensor, k: int
) -> torch.Tensor | None:
    """``(M,)`` bool: outside candidates that share a vertex with a nearer outside candidate of the pixel.

    Outside a mesh boundary, neighbouring triangles are one surface: only the nearest of them gives the
    pixel its partial coverage (otherwise coverage doubles near boundary vertices). Candidates of other
    surfaces (the other lip across the mouth opening) still add up. Ties go to the lower slot.
    """
    out = torch.nonzero(~inside, as_tuple=True)[0]
    if out.numel() < 2:
        return None
    pixel = torch.div(index.index_select(0, out), k, rounding_mode="floor")
    multi_pixel = torch.bincount(pixel) > 1
    keep = torch.nonzero(multi_pixel.index_select(0, pixel), as_tuple=True)[0]
    if keep.numel() == 0:
        return None
    out, pixel = out.index_select(0, keep), pixel.index_select(0, keep)
    rank = (torch.cumsum(multi_pixel, 0) - 1).index_select(0, pixel)  # dense rank of the pixel
    slot = index.index_select(0, out) % k
    table = torch.full((int(multi_pixel.sum()), k), -1, dtype=torch.int64, device=index.device)
    table[rank, slot] = out
    valid = table >= 0
    safe = table.clamp_min(0)
    rows = vertex_rows[safe]  # (S, K, 3)
    d = dist[safe]  # (S, K)
    share = torch.zeros(rows.shape[0], k, k, dtype=torch.bool, device=index.device)  # share a vertex
    for a in range(k):
        for b in range(a + 1, k):
            hit = (rows[:, a].unsqueeze(-1) == rows[:, b].unsqueeze(-2)).flatten(1).any(-1)
            share[:, a, b] = hit
            share[:, b, a] = hit
    slots = torch.arange(k, device=index.device)
    nearer = (d.unsqueeze(1) < d.unsqueeze(2)) | (
        (d.unsqueeze(1) == d.unsqueeze(2)) & (slots.view(1, 1, k) < slots.view(1, k, 1))
    )  # [s, a, b]: b is nearer than a
    pair_ok = valid.unsqueeze(1) & valid.unsqueeze(2) & ~torch.eye(k, dtype=torch.bool, device=index.device)
    shadowed = (share & nearer & pair_ok).any(-1) & valid  # (S, K)
    drop = torch.zeros(index.numel(), dtype=torch.bool, device=index.device)
    drop[table[shadowed]] = True
    return drop


def contour_coverage(
    fragments: Fragments,
    screen: torch.Tensor,
    faces: torch.Tensor,
    sigma: float,
    pixels_per_ndc: float,
) -> torch.Tensor:
    """``(N, H, W, K)`` soft coverage ``p_k`` of each candidate (module docstring), differentiable."""
    n, h, w, k = fragments.pix_to_face.shape
    p = packed_contour_coverage(fragments, screen, faces, sigma, pixels_per_ndc)
    idx = fragments.packed_entries(faces, screen.shape[1]).index
    return screen.new_zeros(n * h * w * k).index_put((idx,), p).view(n, h, w, k)


def packed_composite(
    colors: torch.Tensor,
    coverage: torch.Tensor,
    index: torch.Tensor,
    shape: tuple[int, int, int, int],
    background: tuple[float, ...] | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`composite` for ``(M, C)`` colours and ``(M,)`` coverage of the entries at ``index``."""
    n, h, w, k = shape
    dense = coverage.new_zeros(n * h * w * k).index_put((index,), coverage).view(n * h * w, k)
    one_minus = 1.0 - dense
    transmit = torch.cumprod(torch.cat([torch.ones_like(one_minus[:, :1]), one_minus], dim=-1), dim=-1)
    weights = (dense * transmit[:, :-1]).reshape(-1).index_select(0, index)  # (M,)
    rest = transmit[:, -1]  # (N*H*W,)
    bg = torch.as_tensor(background, dtype=colors.dtype, device=colors.device)
    pixel = torch.div(index, k, rounding_mode="floor")
    rgb = (rest.unsqueeze(-1) * bg).index_add(0, pixel, weights.unsqueeze(-1) * colors)
    return rgb.view(n, h, w, -1), (1.0 - rest).view(n, h, w)


def composite(
    colors: torch.Tensor, coverage: torch.Tensor, background: tuple[float, ...] | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Front-to-back "over" compositing: ``(N, H, W, K, C)`` colours -> ``(N, H, W, C)`` and alpha."""
    one_minus = 1.0 - coverage
    transmit = torch.cumprod(torch.cat([torch.ones_like(one_minus[..., :1]), one_minus], dim=-1), dim=-1)
    weights = coverage * transmit[..., :-1]  # (N, H, W, K)
    rest = transmit[..., -1]  # (N, H, W)
    bg = torch.as_tensor(background, dtype=colors.dtype, device=colors.device)
    rgb = (weights.unsqueeze(-1) * colors).sum(-2) + rest.unsqueeze(-1) * bg
    return rgb, 1.0 - rest
