"""The candidate search of :mod:`._binning` as compiled loops (numba), for CPU tensors.

:func:`._binning.find_candidates` builds the search's *jobs* (a packed face, whether it is a soft-band
job, and its clipped pixel box) and applies the overdraw budget; this module runs the jobs: for every
pixel centre of a job's box it evaluates the pair exactly as the vectorised evaluation does (the same
float32 operations in the same order: edge functions over the doubled area, the depth as the corner
depths weighted by the barycentric coordinates, for band pairs the clamped and renormalised ones and the
squared distance to the contour edges) and inserts the pair's key, ``(ordered depth bits << 32) | face``,
into the pixel's ``K`` smallest. Keys are unique per pixel, so the result does not depend on the order in
which pairs arrive, and the table equals the vectorised search's.

The loops run on the calling thread. Numba's parallel loops were tried and left out: with its default
OpenMP threading layer beside torch's, two identical trainings in one process differed in their last
bits (its ``workqueue`` layer did not, but cannot be entered from two threads at once).

The vectorised search pays a pass over memory for each elementwise operation of each of its hundreds of
thousands of pairs; these loops keep a pair in registers.
Compilation (a few seconds) happens once per machine: numba caches the machine code beside this module
or in its user cache folder.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

__all__ = ["run_jobs"]

_EMPTY = np.iinfo(np.int64).max


@numba.njit(cache=True, inline="always")
def _depth_key(depth: np.float32) -> np.int64:
    bits = np.int64(np.float32(depth).view(np.int32))
    return bits if bits >= 0 else bits ^ 0x7FFFFFFF


@numba.njit(cache=True, inline="always")
def _segment_dist2(px, py, ax, ay, bx, by):
    ex = bx - ax
    ey = by - ay
    len2 = max(ex * ex + ey * ey, np.float32(1e-20))
    t = min(max(((px - ax) * ex + (py - ay) * ey) / len2, np.float32(0.0)), np.float32(1.0))
    dx = px - ax - t * ex
    dy = py - ay - t * ey
    return dx * dx + dy * dy


@numba.njit(cache=True, inline="always")
def _insert(top, row, key, k):
    if key >= top[row, k - 1]:
        return
    slot = k - 1
    while slot > 0 and top[row, slot - 1] > key:
        top[row, slot] = top[row, slot - 1]
        slot -= 1
    top[row, slot] = key


@numba.njit(cache=True)
def _search(xs, ys, zs, area2, contour, has_contour, ids, band, i0, j0, ny, nx, starts, f, h, w, k, r):
    n = starts.shape[0] - 1
    top = np.full((n * h * w, k), _EMPTY, dtype=np.int64)
    r2 = np.float32(r * r)  # as the vectorised search compares with the float32 of r * r
    inf = np.float32(np.inf)
    half = np.float32(0.5)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for image in range(n):
        for job in range(starts[image], starts[image + 1]):
            q = ids[job]
            ax, bx, cx = xs[q, 0], xs[q, 1], xs[q, 2]
            ay, by, cy = ys[q, 0], ys[q, 1], ys[q, 2]
            za, zb, zc = zs[q, 0], zs[q, 1], zs[q, 2]
            a2 = area2[q]
            soft = band[job]
            e_0 = has_contour and not contour[q, 0]
            e_1 = has_contour and not contour[q, 1]
            e_2 = has_contour and not contour[q, 2]
            for i in range(i0[job], i0[job] + ny[job]):
                py = np.float32(i) + half
                row = (image * h + i) * w
                for j in range(j0[job], j0[job] + nx[job]):
                    px = np.float32(j) + half
                    e0 = ((cx - bx) * (py - by) - (cy - by) * (px - bx)) / a2
                    e1 = ((ax - cx) * (py - cy) - (ay - cy) * (px - cx)) / a2
                    e2 = one - e0 - e1
                    inside = e0 >= zero and e1 >= zero and e2 >= zero
                    if not soft:
                        if inside:
                            depth = e0 * za + e1 * zb + e2 * zc
                            _insert(top, row + j, (_depth_key(depth) << 32) | q, k)
                        continue
                    if inside:  # inside pairs come from the coverage job
                        continue
                    d0 = inf if e_0 else _segment_dist2(px, py, ax, ay, bx, by)
                    d1 = inf if e_1 else _segment_dist2(px, py, bx, by, cx, cy)
                    d2 = inf if e_2 else _segment_dist2(px, py, cx, cy, ax, ay)
                    if min(min(d0, d1), d2) < r2:
                        b0 = min(max(e0, zero), one)
                        b1 = min(max(e1, zero), one)
                        b2 = min(max(e2, zero), one)
                        depth = (b0 * za + b1 * zb + b2 * zc) / max(b0 + b1 + b2, np.float32(1e-12))
                        _insert(top, row + j, (_depth_key(depth) << 32) | q, k)
    return top


def run_jobs(
    xs: torch.Tensor,
    ys: torch.Tensor,
    zs: torch.Tensor,
    area2: torch.Tensor,
    contour: torch.Tensor | None,
    jobs: tuple[torch.Tensor, ...],
    n: int,
    f: int,
    size: tuple[int, int],
    k: int,
    r: float,
) -> torch.Tensor:
    """``(N*H*W, K)`` int64 table of each pixel's ``K`` smallest keys (ascending, int64 max where empty).

    ``xs``, ``ys``, ``zs``: ``(N*F, 3)`` float32 corner coordinates, ``area2``: ``(N*F,)`` doubled signed
    areas, ``contour``: ``(N*F, 3)`` bool contour-edge flags or ``None`` (every edge counts), ``jobs``:
    ``(ids, band, i0, j0, ny, nx)`` of :func:`._binning.find_candidates`. Runs on the calling thread."""
    ids, band, i0, j0, ny, nx = jobs
    h, w = size
    image = torch.div(ids, f, rounding_mode="floor")
    order = torch.argsort(image, stable=True)
    starts = torch.zeros(n + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.bincount(image, minlength=n), 0)
    ids, band, i0, j0, ny, nx = (t.index_select(0, order) for t in (ids, band, i0, j0, ny, nx))
    flags = contour.reshape(-1, 3) if contour is not None else torch.zeros((1, 3), dtype=torch.bool)
    top = _search(
        *(t.detach().contiguous().numpy() for t in (xs, ys, zs, area2, flags)),
        contour is not None,
        *(t.contiguous().numpy() for t in (ids, band, i0, j0, ny, nx, starts)),
        f,
        h,
        w,
        k,
        float(r),
    )
    return torch.from_numpy(top)
