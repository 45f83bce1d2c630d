"""Candidate search of the PyTorch rasterizer: which (pixel, triangle) pairs can matter.

Runs without autograd. Two kinds of *jobs* enumerate the pixel centres inside a triangle's bounding box
(clipped to the window, so triangles outside the window cost nothing):

1. *coverage*: every triangle against the pixel centres of its bounding box; pairs whose centre lies
   inside the triangle are kept;
2. *soft band* (only with a blur radius): the bounding box grown by the radius, for the triangles that
   have a contour edge in this frame (mesh boundary or occluding contour; with ``contour=None`` every
   triangle, which is pytorch3d's rule); pairs within the radius of a contour edge are kept. Interior edges
   need no band: the neighbouring triangle covers those pixels.

A large box (at least :data:`SPAN_MIN_SIDE` pixels on both sides) is enumerated row by row, each row
only over the columns that the triangle (grown by the job's radius) can reach there: a superset of the
pairs the job keeps, without the box's empty corners.

Each pixel then keeps its ``K`` nearest candidates. The selection packs (depth, face) into one int64 key
per pair (unique per pixel) and takes ``K`` successive per-pixel minima with ``scatter_reduce`` (no sort).

Cost is bounded whatever the geometry (an untrained animator's crumpled or far-off meshes included):

- vertices must be finite (``ValueError`` otherwise); triangles wholly outside the window, behind the
  camera or degenerate enumerate nothing;
- when the bounding boxes hold more than ``MAX_PAIRS`` (pixel, triangle) pairs, the jobs are processed in
  chunks of at most ``MAX_PAIRS`` pairs (plus one window: a single box never exceeds the window), nearest
  first (by the triangle's smallest corner depth, image by image), and merged into a per-pixel table of
  the ``K`` best keys, touching only the images of the chunk. Memory is ``O(N H W K + F + MAX_PAIRS)``;
- *depth culling*: a triangle's depth at any pixel is at least its smallest corner depth, so once a pixel
  (or a whole ``TILE`` x ``TILE`` tile) holds ``K`` candidates nearer than that, the triangle cannot enter
  its top ``K`` and its pairs there are skipped before they are evaluated. Front-to-back order makes this
  prune nearly everything behind the first layers of a crumpled mesh.

The top ``K`` of a union is the top ``K`` of the parts' top ``K`` and culled pairs can never be selected,
so the chunked search returns exactly what a single pass returns.

*Overdraw budget* (time): depth culling cannot prune a pixel that holds fewer than ``K`` candidates, so a
crumpled mesh whose large triangles all cross the window could still enumerate ``F x H x W`` pairs. Each
image enumerates at most ``OVERDRAW_BUDGET x H x W`` pairs (plus one window): its jobs are taken nearest
first (by the triangle's smallest corner depth) until the budget is spent, and the farther ones are
dropped, with a :class:`RenderBudgetWarning` naming the images. A real mesh stays far below the budget (a
FLAME or BIWI head, and the synthetic face, enumerate under 10 pairs per pixel), so its render is exact;
the rule is per image, so an image renders the same in any batch.
"""

from __future__ import annotations

import warnings

import torch

_EMPTY = torch.iinfo(torch.int64).max

MAX_PAIRS = 1 << 21
"""Budget: most (pixel, triangle) pairs enumerated and evaluated at once by :func:`find_candidates`.

Above it the search is chunked (see the module docstring); a chunk evaluates at most ``MAX_PAIRS`` plus
one window of pairs, whatever the geometry."""

OVERDRAW_BUDGET = 64
"""Most (pixel, triangle) pairs an image enumerates, per pixel of the window (see the module docstring)."""


class RenderBudgetWarning(RuntimeWarning):
    """An image's triangles exceeded :data:`OVERDRAW_BUDGET`; its farthest triangles were not rasterized."""


TILE = 8
"""Side in pixels of the tiles of the depth-culling test of the chunked search."""

# relative margin under the smallest corner depth: the interpolated depth of a pair is a convex combination
# of the corner depths, computed in float32 to within a few ulps (2**-20 relative) of that combination
_DEPTH_MARGIN = 1.0 - 2.0**-16


def _rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table.index_select(0, index)`` for a 2-D table; on the CPU through ``embedding``, whose row
    copy is several times faster than ``index_select``'s for narrow rows (3-10 columns)."""
    if table.device.type == "cpu" and table.dim() == 2 and table.dtype != torch.bool:
        return torch.nn.functional.embedding(index, table)
    return table.index_select(0, index)


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


def _bbox(
    xs: torch.Tensor, ys: torch.Tensor, r: float | torch.Tensor, h: int, w: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """First row, first column, row count and column count (int64) of the grown, clipped pixel boxes."""
    j0 = torch.ceil(xs.amin(-1) - r - 0.5).clamp(0, w)
    j1 = torch.floor(xs.amax(-1) + r - 0.5).clamp(-1, w - 1)
    i0 = torch.ceil(ys.amin(-1) - r - 0.5).clamp(0, h)
    i1 = torch.floor(ys.amax(-1) + r - 0.5).clamp(-1, h - 1)
    nx = (j1 - j0 + 1).clamp_min(0).long()
    ny = (i1 - i0 + 1).clamp_min(0).long()
    return i0.long(), j0.long(), ny, nx


def _bbox_pair_counts(
    xs: torch.Tensor, ys: torch.Tensor, live: torch.Tensor, r: float, h: int, w: int
) -> torch.Tensor:
    """Number of pixel centres in each face's grown, clipped bounding box (0 where not ``live``)."""
    _, _, ny, nx = _bbox(xs, ys, r, h, w)
    cnt = ny * nx
    return torch.where(live, cnt, torch.zeros_like(cnt))


def _enumerate_rects(
    row0: torch.Tensor, col0: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rectangle index, row, col) of every cell of the given rectangles (empty ones have no cells)."""
    device = row0.device
    cnt = rows * cols
    nz = torch.nonzero(cnt > 0, as_tuple=True)[0]
    cnt = cnt.index_select(0, nz)
    total = int(cnt.sum()) if cnt.numel() else 0
    if total == 0:
        empty = torch.empty(0, dtype=torch.int64, device=device)
        return empty, empty, empty
    start = torch.cumsum(cnt, 0) - cnt
    # one gather per cell for all per-rectangle values: (rectangle, start, width, first row, first column)
    table = torch.stack(
        [nz, start, cols.index_select(0, nz), row0.index_select(0, nz), col0.index_select(0, nz)], dim=-1
    )
    owner = torch.repeat_interleave(torch.arange(nz.numel(), device=device), cnt, output_size=total)
    rect, first, width, r0, c0 = _rows(table, owner).unbind(-1)
    local = torch.arange(total, device=device) - first
    row = torch.div(local, width, rounding_mode="floor")
    return rect, r0 + row, c0 + local - row * width


SPAN_MIN_SIDE = 4
"""Triangles whose (grown, clipped) box spans at least this many rows and columns enumerate their pixels
row by row (see :func:`_enumerate_spans`); smaller boxes are enumerated whole."""

_SPAN_MARGIN = 1e-2
"""Pixels by which a row's span is widened on each side beyond the exact slice of the triangle: far more
than the float32 rounding of the coordinates of a window of a few thousand pixels, so no pixel centre the
evaluation would keep is left out."""


def _row_spans(
    xs: torch.Tensor, ys: torch.Tensor, y: torch.Tensor, grow: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_lo, x_hi)`` of the pixel centres of row ``y`` (pixel-centre ordinate) that lie within ``grow``
    pixels of each triangle (corners ``xs``, ``ys``: ``(M, 3)``), widened by :data:`_SPAN_MARGIN`.

    The triangle's part inside the strip ``|Y - y| <= grow + margin`` is a convex polygon whose corners are
    triangle corners or crossings of its edges with the strip's lines, so its x extent is that of the edges
    clipped to the strip; every point within ``grow`` of the triangle on row ``y`` lies within ``grow`` of
    that extent. An empty slice gives ``x_lo > x_hi``."""
    g = grow + _SPAN_MARGIN
    lo_y, hi_y = (y - g).unsqueeze(-1), (y + g).unsqueeze(-1)  # (M, 1)
    ax, ay = xs, ys
    bx, by = xs.roll(-1, dims=-1), ys.roll(-1, dims=-1)  # edge e joins corners e and e + 1
    dy = by - ay
    flat = dy.abs() < 1e-12
    safe = torch.where(flat, torch.ones_like(dy), dy)
    t0 = ((lo_y - ay) / safe).clamp(0.0, 1.0)
    t1 = ((hi_y - ay) / safe).clamp(0.0, 1.0)
    t0 = torch.where(flat, torch.zeros_like(t0), t0)
    t1 = torch.where(flat, torch.ones_like(t1), t1)
    x0, x1 = ax + t0 * (bx - ax), ax + t1 * (bx - ax)
    crosses = (torch.maximum(ay, by) >= lo_y) & (torch.minimum(ay, by) <= hi_y)
    inf = torch.full_like(x0, float("inf"))
    x_lo = torch.where(crosses, torch.minimum(x0, x1), inf).amin(-1)
    x_hi = torch.where(crosses, torch.maximum(x0, x1), -inf).amax(-1)
    return x_lo - g, x_hi + g


def _enumerate_spans(
    faces: torch.Tensor,
    row0: torch.Tensor,
    col0: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    grow: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(rectangle index, row, col) of the cells of the rectangles that lie within ``grow`` pixels of their
    triangle (``faces``: packed face of each rectangle, rows of ``xs``, ``ys``): a superset of the pairs
    the evaluation keeps. Rectangles of at least :data:`SPAN_MIN_SIDE` rows and columns are enumerated
    row by row, leaving out the corners of the box that the triangle never reaches (about half the box of
    a large triangle); smaller ones whole, where the per-row work would cost more than it saves."""
    big = (rows >= SPAN_MIN_SIDE) & (cols >= SPAN_MIN_SIDE)
    small = torch.nonzero(~big, as_tuple=True)[0]
    large = torch.nonzero(big, as_tuple=True)[0]
    rect_s, row_s, col_s = _enumerate_rects(*(t.index_select(0, small) for t in (row0, col0, rows, cols)))
    if large.numel() == 0:
        return small.index_select(0, rect_s), row_s, col_s
    r0, c0, nr, nc = (t.index_select(0, large) for t in (row0, col0, rows, cols))
    rect, row, _ = _enumerate_rects(r0, c0, nr, torch.ones_like(nc))
    face = faces.index_select(0, large).index_select(0, rect)
    x_lo, x_hi = _row_spans(
        _rows(xs, face),
        _rows(ys, face),
        row.to(xs.dtype) + 0.5,
        grow.index_select(0, large).index_select(0, rect),
    )
    left, ncols = c0.index_select(0, rect), nc.index_select(0, rect)
    first = torch.ceil(x_lo - 0.5).clamp(-1, 1 << 30).long().clamp_min(left)
    last = torch.floor(x_hi - 0.5).clamp(-1, 1 << 30).long().clamp_max(left + ncols - 1)
    width = (last - first + 1).clamp_min(0)
    span, row_l, col_l = _enumerate_rects(row, first, torch.ones_like(width), width)
    rect_l = large.index_select(0, rect.index_select(0, span))
    return (
        torch.cat([small.index_select(0, rect_s), rect_l]),
        torch.cat([row_s, row_l]),
        torch.cat([col_s, col_l]),
    )


def _enumerate_pairs(
    ids: torch.Tensor,
    row0: torch.Tensor,
    col0: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    grow: torch.Tensor,
    xs: torch.Tensor,
    ys: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(packed face, row, col) of the pixel centres of the rectangles within ``grow`` of each face ``ids``."""
    rect, row, col = _enumerate_spans(ids, row0, col0, rows, cols, grow, xs, ys)
    return ids.index_select(0, rect), row, col


def _select_top_k(table: torch.Tensor, pix: torch.Tensor, key: torch.Tensor) -> None:
    """Fill ``table`` ``(P, K)`` with each pixel's ``K`` smallest keys (ascending, ``_EMPTY`` padded)."""
    p, k = table.shape
    table.fill_(_EMPTY)
    best = torch.empty((p,), dtype=torch.int64, device=table.device)
    for slot in range(k):
        if pix.numel() == 0:
            break
        best.fill_(_EMPTY)
        best.scatter_reduce_(0, pix, key, reduce="amin", include_self=True)
        table[:, slot] = best
        if slot + 1 < k:
            rest = torch.nonzero(key > best.index_select(0, pix), as_tuple=True)[0]
            pix, key = pix.index_select(0, rest), key.index_select(0, rest)


def _merge_top_k(table: torch.Tensor, pix: torch.Tensor, key: torch.Tensor) -> None:
    """Merge candidates (``pix`` local to ``table``'s rows) into the per-pixel top ``K`` in ``table``."""
    held = torch.nonzero(table.reshape(-1) != _EMPTY, as_tuple=True)[0]
    k = table.shape[1]
    held_pix = torch.div(held, k, rounding_mode="floor")
    held_key = table.reshape(-1).index_select(0, held)
    _select_top_k(table, torch.cat([held_pix, pix]), torch.cat([held_key, key]))


def _check_finite(screen: torch.Tensor) -> None:
    bad = ~torch.isfinite(screen).all(-1)
    if bool(bad.any()):
        frame, vertex = (int(i) for i in torch.nonzero(bad)[0])
        raise ValueError(
            f"cannot rasterize: {int(bad.sum())} projected vertices are NaN or infinite (first: image "
            f"{frame}, vertex {vertex}); the mesh holds non-finite positions (e.g. a diverged model's "
            "output): check the vertices before rendering them"
        )


SEARCHES: tuple[str, ...] = ("auto", "torch", "compiled")
"""How :func:`find_candidates` evaluates its jobs: ``"torch"``, vectorised tensor operations (any device);
``"compiled"``, the loops of :mod:`._binning_numba` (CPU tensors, needs numba); ``"auto"``, the compiled
loops for CPU tensors when numba is installed, else the tensor operations. Both give the same table."""


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@torch.no_grad()
def find_candidates(
    screen: torch.Tensor,
    faces: torch.Tensor,
    image_size: tuple[int, int],
    blur_pixels: float,
    faces_per_pixel: int,
    cull_backfaces: bool,
    contour: torch.Tensor | None = None,
    search: str = "auto",
) -> torch.Tensor:
    """``(N, H, W, K)`` packed face indices (``-1`` empty), nearest first.

    ``screen`` is ``(N, V, 3)``: window pixel coordinates and depth (finite; ``ValueError`` otherwise).
    ``faces`` is ``(F, 3)``. ``contour`` (``(N, F, 3)`` bool per edge, edge ``e`` joining corners ``e`` and
    ``e + 1``) restricts the soft band to the distance from contour edges; ``None`` measures it from every
    edge. ``search``: one of :data:`SEARCHES`.
    """
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(map(repr, SEARCHES))}, got {search!r}")
    compiled = search == "compiled" or (
        search == "auto" and screen.device.type == "cpu" and _numba_available()
    )
    if compiled and screen.device.type != "cpu":
        raise ValueError(f"search='compiled' runs on CPU tensors; these are on {screen.device}")
    _check_finite(screen)
    n = screen.shape[0]
    f = faces.shape[0]
    h, w = image_size
    k = faces_per_pixel
    device = screen.device
    # corner coordinates as three contiguous (N*F, 3) tables: row gathers from a strided view of the
    # (N*F, 3, 3) corners cost ten times more
    tri = screen.detach().float()[:, faces].reshape(n * f, 3, 3)
    xs, ys, zs = (tri[..., i].contiguous() for i in range(3))
    area2 = (xs[:, 1] - xs[:, 0]) * (ys[:, 2] - ys[:, 0]) - (xs[:, 2] - xs[:, 0]) * (ys[:, 1] - ys[:, 0])
    valid = (area2.abs() > 1e-10) & torch.isfinite(area2) & (zs > 0).all(-1)
    if cull_backfaces:
        # counter-clockwise for a viewer with y up is clockwise with y down: negative area2
        valid &= area2 < 0
    r = float(blur_pixels)

    table = torch.cat([xs, ys, zs, area2.unsqueeze(-1)], dim=-1)  # (N*F, 10): one gather per pair

    def evaluate(pair_face, ii, jj, band: bool):
        px = jj.float() + 0.5
        py = ii.float() + 0.5
        rows = _rows(table, pair_face)
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
            keep = near & ~inside  # inside pairs come from the coverage job
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

    # jobs: (packed face, grow radius, band?)
    job_face = [torch.nonzero(valid, as_tuple=True)[0]]
    job_band = [torch.zeros_like(job_face[0], dtype=torch.bool)]
    if r > 0:
        band_faces = valid if contour is None else valid & contour.reshape(n * f, 3).any(-1)
        job_face.append(torch.nonzero(band_faces, as_tuple=True)[0])
        job_band.append(torch.ones_like(job_face[1], dtype=torch.bool))
    ids, band = torch.cat(job_face), torch.cat(job_band)
    grow = band.float() * r
    i0, j0, ny, nx = _bbox(_rows(xs, ids), _rows(ys, ids), grow, h, w)
    cnt = ny * nx
    keep = torch.nonzero(cnt > 0, as_tuple=True)[0]
    ids, band, i0, j0, ny, nx, cnt = (t.index_select(0, keep) for t in (ids, band, i0, j0, ny, nx, cnt))
    ids, band, i0, j0, ny, nx, cnt = _within_budget(ids, band, i0, j0, ny, nx, cnt, zs, f, n, h * w)

    if compiled:
        from ._binning_numba import run_jobs

        top = run_jobs(xs, ys, zs, area2, contour, (ids, band, i0, j0, ny, nx), n, f, (h, w), k, r)
        face = top & 0xFFFFFFFF
        return torch.where(top != _EMPTY, face, torch.full_like(face, -1)).view(n, h, w, k)

    top = torch.full((n * h * w, k), _EMPTY, dtype=torch.int64, device=device)
    total = int(cnt.sum()) if cnt.numel() else 0
    if total <= MAX_PAIRS:  # everything in one evaluation per job kind
        found = []
        for kind in (False, True):
            sel = torch.nonzero(band == kind, as_tuple=True)[0]
            if sel.numel():
                grow = torch.full((sel.numel(),), r if kind else 0.0, dtype=xs.dtype, device=device)
                boxes = (t.index_select(0, sel) for t in (ids, i0, j0, ny, nx))
                pairs = _enumerate_pairs(*boxes, grow, xs, ys)
                found.append(evaluate(*pairs, band=kind))
        if found:
            _select_top_k(top, torch.cat([p for p, _ in found]), torch.cat([q for _, q in found]))
    else:
        _chunked_search(top, evaluate, ids, band, i0, j0, ny, nx, cnt, zs, f, (h, w), (xs, ys, r))

    face = top & 0xFFFFFFFF
    out = torch.where(top != _EMPTY, face, torch.full_like(face, -1))
    return out.view(n, h, w, k)


def _nearest_first_by_image(zmin: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Job order: by image, and within an image by the smallest corner depth (both sorts stable)."""
    order = torch.argsort(zmin, stable=True)
    return order.index_select(0, torch.argsort(image.index_select(0, order), stable=True))


def _within_budget(ids, band, i0, j0, ny, nx, cnt, zs, f, n, pixels):
    """The jobs each image keeps under :data:`OVERDRAW_BUDGET`: nearest first, up to the first job that
    starts beyond the budget (all of them when the image's boxes hold fewer pairs)."""
    image = torch.div(ids, f, rounding_mode="floor")
    totals = torch.zeros(n, dtype=cnt.dtype, device=cnt.device).index_add_(0, image, cnt)
    budget = OVERDRAW_BUDGET * pixels
    over = totals > budget
    if not bool(over.any()):
        return ids, band, i0, j0, ny, nx, cnt
    order = _nearest_first_by_image(zs.index_select(0, ids).amin(-1), image)
    img_sorted, cnt_sorted = image.index_select(0, order), cnt.index_select(0, order)
    cum = torch.cumsum(cnt_sorted, 0)
    first = torch.cumsum(torch.bincount(img_sorted, minlength=n), 0) - torch.bincount(img_sorted, minlength=n)
    before = torch.cat([cum.new_zeros(1), cum])[first].index_select(0, img_sorted)  # pairs of earlier images
    start_in_image = cum - cnt_sorted - before
    kept = order[start_in_image < budget]
    kept = torch.sort(kept).values  # the original job order (the search's result does not depend on it)
    frames = torch.nonzero(over, as_tuple=True)[0].tolist()
    warnings.warn(
        f"image(s) {frames[:8]}{' ...' if len(frames) > 8 else ''}: the triangles' boxes hold "
        f"{int(totals.max())} (pixel, triangle) pairs, over the budget of {budget} "
        f"({OVERDRAW_BUDGET} per pixel); the farthest triangles were not rasterized (a crumpled or "
        "far-off mesh?)",
        RenderBudgetWarning,
        stacklevel=4,
    )
    return tuple(t.index_select(0, kept) for t in (ids, band, i0, j0, ny, nx, cnt))


def _chunked_search(top, evaluate, ids, band, i0, j0, ny, nx, cnt, zs, f, size, corners) -> None:
    """Front-to-back chunks of at most ``MAX_PAIRS`` pairs with depth culling, merged image by image."""
    h, w = size
    xs, ys, r = corners
    k = top.shape[1]
    device = top.device
    # nearest first within each image: sort by the smallest corner depth, then (stably) by image
    zmin = zs.index_select(0, ids).amin(-1) * _DEPTH_MARGIN
    order = _nearest_first_by_image(zmin, torch.div(ids, f, rounding_mode="floor"))
    ids, band, i0, j0, ny, nx, cnt, zmin = (
        t.index_select(0, order) for t in (ids, band, i0, j0, ny, nx, cnt, zmin)
    )
    zkey = _ordered_float_key(zmin)  # a job's pairs all have depth keys >= zkey
    image = torch.div(ids, f, rounding_mode="floor")
    chunk = torch.div(torch.cumsum(cnt, 0) - cnt, MAX_PAIRS, rounding_mode="floor")
    bounds = torch.cumsum(torch.unique_consecutive(chunk, return_counts=True)[1], 0).tolist()
    th, tw = -(-h // TILE), -(-w // TILE)
    start = 0
    for stop in bounds:
        s = slice(start, stop)
        start = stop
        b0, b1 = int(image[s.start]), int(image[stop - 1])
        lo, hi = b0 * h * w, (b1 + 1) * h * w
        held = top[lo:hi]  # the images of this chunk, (P, K)
        kth = held[:, k - 1] >> 32  # depth key of each pixel's K-th candidate (huge while fewer)
        c_ids, c_band, c_i0, c_j0, c_ny, c_nx, c_z = ids[s], band[s], i0[s], j0[s], ny[s], nx[s], zkey[s]
        c_img = image[s] - b0
        if bool((kth != _EMPTY >> 32).any()):
            # tiles whose K-th candidates are all nearer than the job's nearest corner: skip them
            grid = torch.full((b1 - b0 + 1, th * TILE, tw * TILE), -1, dtype=torch.int64, device=device)
            grid[:, :h, :w] = kth.view(-1, h, w)
            tile_kth = grid.view(-1, th, TILE, tw, TILE).amax(dim=(2, 4)).reshape(-1)
            t0, u0 = (
                torch.div(c_i0, TILE, rounding_mode="floor"),
                torch.div(c_j0, TILE, rounding_mode="floor"),
            )
            t1 = torch.div(c_i0 + c_ny - 1, TILE, rounding_mode="floor")
            u1 = torch.div(c_j0 + c_nx - 1, TILE, rounding_mode="floor")
            job, ti, tj = _enumerate_rects(t0, u0, t1 - t0 + 1, u1 - u0 + 1)
            live = c_z.index_select(0, job) <= tile_kth.index_select(
                0, (c_img.index_select(0, job) * th + ti) * tw + tj
            )
            job, ti, tj = job[live], ti[live], tj[live]
            # the surviving (job, tile) rectangles: the job's box clipped to the tile
            r0 = torch.maximum(c_i0.index_select(0, job), ti * TILE)
            r1 = torch.minimum((c_i0 + c_ny).index_select(0, job), ti * TILE + TILE)
            q0 = torch.maximum(c_j0.index_select(0, job), tj * TILE)
            q1 = torch.minimum((c_j0 + c_nx).index_select(0, job), tj * TILE + TILE)
            c_ids, c_band, c_z, c_img = (t.index_select(0, job) for t in (c_ids, c_band, c_z, c_img))
            c_i0, c_j0, c_ny, c_nx = r0, q0, r1 - r0, q1 - q0
        found = []
        for kind in (False, True):
            sel = torch.nonzero(c_band == kind, as_tuple=True)[0]
            if sel.numel() == 0:
                continue
            grow = torch.full((sel.numel(),), r if kind else 0.0, dtype=xs.dtype, device=device)
            boxes = (t.index_select(0, sel) for t in (c_ids, c_i0, c_j0, c_ny, c_nx))
            rect, ii, jj = _enumerate_spans(*boxes, grow, xs, ys)
            rect = sel.index_select(0, rect)
            # per pixel: skip pairs whose nearest possible depth is behind the pixel's K-th candidate
            local = c_img.index_select(0, rect) * (h * w) + ii * w + jj
            near = torch.nonzero(c_z.index_select(0, rect) <= kth.index_select(0, local), as_tuple=True)[0]
            face = c_ids.index_select(0, rect.index_select(0, near))
            ii, jj = ii.index_select(0, near), jj.index_select(0, near)
            pix, key = evaluate(face, ii, jj, band=kind)
            found.append((pix - lo, key))
        if found:
            _merge_top_k(held, torch.cat([p for p, _ in found]), torch.cat([q for _, q in found]))
