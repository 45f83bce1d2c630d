"""Candidate search of the PyTorch rasterizer: which (pixel, triangle) pairs can matter.

Runs without autograd, in two passes that only enumerate pixels inside each triangle's bounding box
(clipped to the window, so triangles outside the window cost nothing):

1. *coverage*: every triangle against the pixel centres of its bounding box; pairs whose centre lies
   inside the triangle are kept;
2. *soft band* (only with a blur radius): the bounding box grown by the radius, for the triangles that
   have a contour edge in this frame (mesh boundary or occluding contour; with ``contour=None`` every
   triangle, which is pytorch3d's rule); pairs within the radius of a contour edge are kept. Interior edges
   need no band: the neighbouring triangle covers those pixels.

Each pixel then keeps its ``K`` nearest candidates. The selection packs (depth, face) into one int64 key
per pair and takes ``K`` successive per-pixel minima with ``scatter_reduce`` (no sort).

Memory is bounded whatever the geometry: when the bounding boxes hold more than ``MAX_PAIRS`` pairs
(large or crumpled triangles, e.g. an untrained animator's output), the faces are processed in chunks
and each chunk's candidates are merged into the running per-pixel top ``K`` (the top ``K`` of a union is
the top ``K`` of the parts' top ``K``), so the result is the same as in one pass.
"""

from __future__ import annotations

import torch

_EMPTY = torch.iinfo(torch.int64).max

MAX_PAIRS = 1 << 21
"""Most (pixel, triangle) pairs evaluated at once by :func:`find_candidates`."""


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


def _bbox_pair_counts(
    xs: torch.Tensor, ys: torch.Tensor, live: torch.Tensor, r: float, h: int, w: int
) -> torch.Tensor:
    """Number of pixel centres in each face's grown, clipped bounding box (0 where not ``live``)."""
    j0 = torch.ceil(xs.amin(-1) - r - 0.5).clamp_min(0)
    j1 = torch.floor(xs.amax(-1) + r - 0.5).clamp_max(w - 1)
    i0 = torch.ceil(ys.amin(-1) - r - 0.5).clamp_min(0)
    i1 = torch.floor(ys.amax(-1) + r - 0.5).clamp_max(h - 1)
    cnt = (j1 - j0 + 1).clamp_min(0).long() * (i1 - i0 + 1).clamp_min(0).long()
    return torch.where(live, cnt, torch.zeros_like(cnt))


def _face_chunks(
    xs: torch.Tensor, ys: torch.Tensor, live: torch.Tensor, r: float, h: int, w: int
) -> list[torch.Tensor]:
    """Split ``live`` into masks whose bounding boxes hold at most about ``MAX_PAIRS`` pairs each."""
    cnt = _bbox_pair_counts(xs, ys, live, r, h, w)
    total = int(cnt.sum())
    if total <= MAX_PAIRS:
        return [live]
    chunk = torch.div(torch.cumsum(cnt, 0) - cnt, MAX_PAIRS, rounding_mode="floor")
    return [live & (chunk == c) for c in torch.unique(chunk[live]).tolist()]


def _top_k_pairs(
    pix: torch.Tensor, key: torch.Tensor, num_pixels: int, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep, for every pixel, its ``k`` smallest keys (keys are unique per pixel: they hold the face)."""
    best = torch.empty((num_pixels,), dtype=torch.int64, device=pix.device)
    kept_pix, kept_key = [], []
    for _ in range(k):
        if pix.numel() == 0:
            break
        best.fill_(_EMPTY)
        best.scatter_reduce_(0, pix, key, reduce="amin", include_self=True)
        chosen = key == best.index_select(0, pix)
        kept_pix.append(pix[chosen])
        kept_key.append(key[chosen])
        pix, key = pix[~chosen], key[~chosen]
    if not kept_pix:
        return pix, key
    return torch.cat(kept_pix), torch.cat(kept_key)


def _enumerate_pairs(
    xs: torch.Tensor, ys: torch.Tensor, live: torch.Tensor, r: float, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(packed face, row, col) for every pixel centre in the grown, clipped bounding box of ``live`` faces.

    ``xs``/``ys`` are ``(N*F, 3)`` corner coordinates; ``live`` a bool ``(N*F,)`` mask.
    """
    ids = torch.nonzero(live, as_tuple=True)[0]
    x, y = xs.index_select(0, ids), ys.index_select(0, ids)
    j0 = torch.ceil(x.amin(-1) - r - 0.5).clamp_min(0)
    j1 = torch.floor(x.amax(-1) + r - 0.5).clamp_max(w - 1)
    i0 = torch.ceil(y.amin(-1) - r - 0.5).clamp_min(0)
    i1 = torch.floor(y.amax(-1) + r - 0.5).clamp_max(h - 1)
    nx = (j1 - j0 + 1).clamp_min(0).long()
    ny = (i1 - i0 + 1).clamp_min(0).long()
    cnt = nx * ny
    nz = torch.nonzero(cnt > 0, as_tuple=True)[0]
    cnt = cnt.index_select(0, nz)
    total = int(cnt.sum()) if cnt.numel() else 0
    if total == 0:
        empty = torch.empty(0, dtype=torch.int64, device=xs.device)
        return empty, empty, empty
    start = torch.cumsum(cnt, 0) - cnt
    # one gather per pair for all per-face values: (face id, start, width, first row, first column)
    table = torch.stack(
        [
            ids.index_select(0, nz),
            start,
            nx.index_select(0, nz),
            i0.long().index_select(0, nz),
            j0.long().index_select(0, nz),
        ],
        dim=-1,
    )
    owner = torch.repeat_interleave(torch.arange(nz.numel(), device=xs.device), cnt, output_size=total)
    face, first, width, row0, col0 = table.index_select(0, owner).unbind(-1)
    local = torch.arange(total, device=xs.device) - first
    row = torch.div(local, width, rounding_mode="floor")
    col = local - row * width
    return face, row0 + row, col0 + col


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

    ``screen`` is ``(N, V, 3)``: window pixel coordinates and depth. ``faces`` is ``(F, 3)``. ``contour``
    (``(N, F, 3)`` bool per edge, edge ``e`` joining corners ``e`` and ``e + 1``) restricts the soft band to
    the distance from contour edges; ``None`` measures it from every edge.
    """
    n = screen.shape[0]
    f = faces.shape[0]
    h, w = image_size
    device = screen.device
    tri = screen.detach().float()[:, faces].reshape(n * f, 3, 3)
    xs, ys, zs = tri[..., 0], tri[..., 1], tri[..., 2]
    area2 = (xs[:, 1] - xs[:, 0]) * (ys[:, 2] - ys[:, 0]) - (xs[:, 2] - xs[:, 0]) * (ys[:, 1] - ys[:, 0])
    valid = (area2.abs() > 1e-10) & (zs > 0).all(-1)
    if cull_backfaces:
        # counter-clockwise for a viewer with y up is clockwise with y down: negative area2
        valid &= area2 < 0
    r = float(blur_pixels)

    table = torch.cat([xs, ys, zs, area2.unsqueeze(-1)], dim=-1)  # (N*F, 10): one gather per pair

    def evaluate(pair_face, ii, jj, band: bool):
        px = jj.float() + 0.5
        py = ii.float() + 0.5
        rows = table.index_select(0, pair_face)
        ax, bx, cx, ay, by, cy = rows[:, :6].unbind(-1)
        z = rows[:, 6:9]
        a2 = rows[:, 9]
        e0 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) / a2
        e1 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) / a2
        e2 = 1.0 - e0 - e1
        inside = (e0 >= 0) & (e1 >= 0) & (e2 >= 0)
        if band:
            d2 = torch.stack(
                [
                    _segment_dist2(px, py, ax, ay, bx, by),
                    _segment_dist2(px, py, bx, by, cx, cy),
                    _segment_dist2(px, py, cx, cy, ax, ay),
                ],
                dim=-1,
            )
            if contour is not None:
                flags = contour.reshape(n * f, 3).index_select(0, pair_face)
                d2 = torch.where(flags, d2, torch.full_like(d2, float("inf")))
            near = d2.amin(-1) < r * r
            keep = near & ~inside  # inside pairs come from the coverage pass
            b = torch.stack([e0, e1, e2], -1).clamp(0.0, 1.0)
            depth = (b * z).sum(-1) / b.sum(-1).clamp_min(1e-12)
        else:
            keep = inside
            depth = e0 * z[:, 0] + e1 * z[:, 1] + e2 * z[:, 2]
        sel = torch.nonzero(keep, as_tuple=True)[0]
        face_sel = pair_face.index_select(0, sel)
        batch = torch.div(face_sel, f, rounding_mode="floor")
        pix = (batch * h + ii.index_select(0, sel)) * w + jj.index_select(0, sel)
        key = (_ordered_float_key(depth.index_select(0, sel)) << 32) | face_sel
        return pix, key

    passes = [(valid, 0.0, False)]
    if r > 0:
        band_faces = valid if contour is None else valid & contour.reshape(n * f, 3).any(-1)
        passes.append((band_faces, r, True))
    chunked = [
        (mask, grow, band) for live, grow, band in passes for mask in _face_chunks(xs, ys, live, grow, h, w)
    ]
    if len(chunked) == len(passes):  # everything fits in one evaluation per pass
        found = [evaluate(*_enumerate_pairs(xs, ys, m, g, h, w), band=b) for m, g, b in chunked]
        pix, key = torch.cat([p for p, _ in found]), torch.cat([k for _, k in found])
    else:
        pix = key = torch.empty(0, dtype=torch.int64, device=device)
        for mask, grow, band in chunked:
            cpix, ckey = evaluate(*_enumerate_pairs(xs, ys, mask, grow, h, w), band=band)
            pix, key = _top_k_pairs(
                torch.cat([pix, cpix]), torch.cat([key, ckey]), n * h * w, faces_per_pixel
            )

    out = torch.full((n * h * w, faces_per_pixel), -1, dtype=torch.int64, device=device)
    best = torch.empty((n * h * w,), dtype=torch.int64, device=device)
    for k in range(faces_per_pixel):
        if pix.numel() == 0:
            break
        best.fill_(_EMPTY)
        best.scatter_reduce_(0, pix, key, reduce="amin", include_self=True)
        found = best != _EMPTY
        out[:, k] = torch.where(found, best & 0xFFFFFFFF, torch.full_like(best, -1))
        if k + 1 < faces_per_pixel:
            rest = torch.nonzero(key > best.index_select(0, pix), as_tuple=True)[0]
            pix, key = pix.index_select(0, rest), key.index_select(0, rest)
    return out.view(n, h, w, faces_per_pixel)
