"""A small procedural mouth mesh: two lip sheets that meet along a slit, with a controllable opening.

Useful for demos, tests and benchmarks that need a mouth without any dataset. The upper sheet covers
``y in [0, height]`` and the lower one ``y in [-height, 0]`` over ``x in [-width, width]``; they share no
vertices, so the slit between them is a mesh boundary (like the mouth opening of FLAME or BIWI). Opening
the mouth moves every vertex vertically by ``± opening * (1 - (x / width)^2) * (1 - |y| / height)``, so the
lips part most at the centre, not at the corners, and the outer border stays fixed. The surface bulges
towards the viewer: ``z = bulge * (1 - (x / width)^2) * (1 - (y / height)^2)``.
"""

from __future__ import annotations

import torch

__all__ = ["lip_sheets"]


def lip_sheets(
    rows: int = 23,
    cols: int = 32,
    width: float = 1.0,
    height: float = 0.6,
    bulge: float = 0.3,
    opening: float | torch.Tensor = 0.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(vertices (V, 3), faces (F, 3), lip_indices)`` with ``F = 4 * rows * cols`` triangles.

    ``lip_indices`` are the vertices on the two slit edges (the inner lip contour). Faces are
    counter-clockwise seen from ``+z`` (the viewer of the package's cameras). ``opening`` may be a tensor
    (differentiable).
    """
    if rows < 1 or cols < 1:
        raise ValueError(f"rows and cols must be >= 1, got {rows}, {cols}")
    xs = torch.linspace(-width, width, cols + 1, dtype=dtype)
    ts = torch.linspace(0.0, 1.0, rows + 1, dtype=dtype)  # 0 at the slit, 1 at the outer border
    gx, gt = torch.meshgrid(xs, ts, indexing="xy")  # (rows + 1, cols + 1)
    shape = (1 - (gx / width) ** 2) * (1 - gt)
    op = torch.as_tensor(opening, dtype=dtype)
    sheets = []
    for sign in (1.0, -1.0):
        y = sign * (gt * height + op * shape)
        z = bulge * (1 - (gx / width) ** 2) * (1 - gt**2)
        sheets.append(torch.stack([gx, y, z], dim=-1).reshape(-1, 3))
    vertices = torch.cat(sheets, dim=0)
    per_sheet = (rows + 1) * (cols + 1)

    r = torch.arange(rows).view(-1, 1)
    c = torch.arange(cols).view(1, -1)
    v00 = (r * (cols + 1) + c).reshape(-1)
    v01 = v00 + 1
    v10 = v00 + (cols + 1)
    v11 = v10 + 1
    # upper sheet: row index grows with y, so (v00, v01, v11) is counter-clockwise seen from +z
    upper = torch.cat([torch.stack([v00, v01, v11], -1), torch.stack([v00, v11, v10], -1)])
    lower = torch.cat([torch.stack([v00, v11, v01], -1), torch.stack([v00, v10, v11], -1)]) + per_sheet
    faces = torch.cat([upper, lower]).long()
    slit = torch.arange(cols + 1)
    lip_indices = torch.cat([slit, slit + per_sheet])
    return vertices, faces, lip_indices
