"""Candidate search of the PyTorch rasterizer: which (pixel, triangle) pairs can matter.

Runs without autograd. Each triangle enumerates only the pixels of its bounding box grown by the blur
radius and clipped to the window (triangles outside the window enumerate nothing), every pair is tested
against the triangle (inside, or within the blur radius), and each pixel keeps its ``K`` nearest
candidates. The nearest-first selection packs (depth, face) into one int64 key per pair and takes
``K`` successive per-pixel minima with ``scatter_reduce``, so no sort is needed.
"""

from __future__ import annotations

import torch

_EMPTY = torch.iinfo(torch.int64).max


def _ordered_float_key(depth: torch.Tensor) -> torch.Tensor:
    """Map float32 depth to int64 whose signed order equals the float order."""
    bits = depth.to(torch.float32).contiguous().view(torch.int32).to(torch.int64)
    return torch.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)


def _segment_dist2(px: torch.Tensor, py: torch.Tensor, ax, ay, bx, by) -> torch.Tensor:
    ex, ey = bx - ax, by - ay
    len2 = (ex * ex + ey * ey).clamp_min(1e-20)
    t = (((px - ax) * ex + (py - ay) * ey) / len2).clamp(0.0, 1.0)
    dx, dy = px - ax - t * ex, py - ay - t * ey
    return dx * dx + dy * dy


@torch.no_grad()
def find_candidates(
    screen: torch.Tensor,
    faces: torch.Tensor,
    image_size: tuple[int, int],
    blur_pixels: float,
    faces_per_pixel: int,
    cull_backfaces: bool,
    contour: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(N, H, W, K)`` packed face indices (``-1`` empty), nearest first.

    ``screen`` is ``(N, V, 3)``: window pixel coordinates and depth. ``faces`` is ``(F, 3)``. When
    ``contour`` (``(N, F, 3)`` bool per edge) is given, a pixel outside a triangle is a candidate only if the
    triangle edge nearest to it is a contour edge (pixels near interior edges belong to the neighbour).
    """
    n, _, _ = screen.shape
    f = faces.shape[0]
    h, w = image_size
    device = screen.device
    tri = screen.detach().float()[:, faces]  # (N, F, 3, 3)
    x0, y0, z0 = tri[..., 0, 0], tri[..., 0, 1], tri[..., 0, 2]
    x1, y1, z1 = tri[..., 1, 0], tri[..., 1, 1], tri[..., 1, 2]
    x2, y2, z2 = tri[..., 2, 0], tri[..., 2, 1], tri[..., 2, 2]
    area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)  # twice the signed area (y down)
    valid = (area2.abs() > 1e-10) & (z0 > 0) & (z1 > 0) & (z2 > 0)
    if cull_backfaces:
        # counter-clockwise for a viewer with y up is clockwise with y down: negative area2
        valid &= area2 < 0
    r = blur_pixels
    xs = tri[..., 0]
    ys = tri[..., 1]
    j0 = torch.ceil(xs.amin(-1) - r - 0.5).clamp_min(0)
    j1 = torch.floor(xs.amax(-1) + r - 0.5).clamp_max(w - 1)
    i0 = torch.ceil(ys.amin(-1) - r - 0.5).clamp_min(0)
    i1 = torch.floor(ys.amax(-1) + r - 0.5).clamp_max(h - 1)
    nx = (j1 - j0 + 1).clamp_min(0)
    ny = (i1 - i0 + 1).clamp_min(0)
    count = torch.where(valid, nx * ny, torch.zeros_like(nx)).reshape(-1).long()
    live = torch.nonzero(count, as_tuple=True)[0]  # packed face ids with at least one pixel
    out = torch.full((n * h * w, faces_per_pixel), -1, dtype=torch.int64, device=device)
    if live.numel() == 0:
        return out.view(n, h, w, faces_per_pixel)
    cnt = count[live]
    total = int(cnt.sum())
    pair_face = torch.repeat_interleave(live, cnt, output_size=total)
    start = torch.cumsum(cnt, 0) - cnt
    local = torch.arange(total, device=device) - torch.repeat_interleave(start, cnt, output_size=total)
    nxf = nx.reshape(-1)[pair_face].long()
    jj = j0.reshape(-1)[pair_face].long() + local % nxf
    ii = i0.reshape(-1)[pair_face].long() + torch.div(local, nxf, rounding_mode="floor")
    px = jj.float() + 0.5
    py = ii.float() + 0.5

    flat = tri.reshape(n * f, 9)[pair_face]  # (P, 9)
    ax, ay, az, bx, by, bz, cx, cy, cz = flat.unbind(-1)
    a2 = area2.reshape(-1)[pair_face]
    # edge functions, positive inside whatever the winding
    e0 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) / a2
    e1 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) / a2
    e2 = 1.0 - e0 - e1
    inside = (e0 >= 0) & (e1 >= 0) & (e2 >= 0)
    if r > 0:
        d2, nearest = torch.stack(
            [
                _segment_dist2(px, py, ax, ay, bx, by),
                _segment_dist2(px, py, bx, by, cx, cy),
                _segment_dist2(px, py, cx, cy, ax, ay),
            ],
            dim=-1,
        ).min(-1)
        near = d2 < r * r
        if contour is not None:
            near &= contour.reshape(n * f, 3)[pair_face, nearest]
        keep = inside | near
        b0, b1, b2 = e0.clamp(0, 1), e1.clamp(0, 1), e2.clamp(0, 1)
        s = (b0 + b1 + b2).clamp_min(1e-12)
        depth = (b0 * az + b1 * bz + b2 * cz) / s
    else:
        keep = inside
        depth = e0 * az + e1 * bz + e2 * cz
    sel = torch.nonzero(keep, as_tuple=True)[0]
    batch = torch.div(pair_face[sel], f, rounding_mode="floor")
    pix = (batch * h + ii[sel]) * w + jj[sel]
    key = (_ordered_float_key(depth[sel]) << 32) | pair_face[sel]
    best = torch.full((n * h * w,), _EMPTY, dtype=torch.int64, device=device)
    for k in range(faces_per_pixel):
        best.fill_(_EMPTY)
        best.scatter_reduce_(0, pix, key, reduce="amin", include_self=True)
        found = best != _EMPTY
        out[:, k] = torch.where(found, best & 0xFFFFFFFF, torch.full_like(best, -1))
        if k + 1 < faces_per_pixel:
            rest = key > best[pix]
            if not bool(rest.any()):
                break
            pix, key = pix[rest], key[rest]
    return out.view(n, h, w, faces_per_pixel)
