"""Mesh sequence export to .obj / .ply through trimesh, vertex order preserved."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

__all__ = ["export_meshes"]

_FORMATS = ("obj", "ply")


def export_meshes(
    vertices: torch.Tensor | np.ndarray,
    faces: torch.Tensor | np.ndarray,
    out_dir: str | Path,
    fmt: str = "obj",
    prefix: str = "frame",
    fps: float | None = None,
    obj_digits: int = 10,
) -> list[Path]:
    """Write one mesh file per frame of ``(T, V, 3)`` vertices plus ``manifest.json``; return the paths.

    Meshes are built with ``trimesh.Trimesh(..., process=False)``, so vertices are neither merged, reordered
    nor dropped: vertex ``i`` of every file is vertex ``i`` of the input (Blender and MeshLab keep that
    order too). PLY files are binary float32 (exact for float32 input); OBJ files keep ``obj_digits``
    decimals.
    """
    import trimesh

    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")
    verts = vertices.detach().cpu().numpy() if isinstance(vertices, torch.Tensor) else np.asarray(vertices)
    tris = faces.detach().cpu().numpy() if isinstance(faces, torch.Tensor) else np.asarray(faces)
    if verts.ndim == 2:
        verts = verts[None]
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ValueError(f"vertices must have shape (T, V, 3) or (V, 3), got {verts.shape}")
    if tris.ndim != 2 or tris.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {tris.shape}")
    if tris.size and (tris.min() < 0 or tris.max() >= verts.shape[1]):
        raise ValueError(f"faces reference vertices outside [0, {verts.shape[1]})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    width = max(4, len(str(len(verts) - 1)))
    paths = []
    for t, frame in enumerate(verts):
        mesh = trimesh.Trimesh(vertices=frame.astype(np.float64), faces=tris.astype(np.int64), process=False)
        path = out / f"{prefix}_{t:0{width}d}.{fmt}"
        if fmt == "obj":
            text = mesh.export(
                file_type="obj", include_normals=False, include_texture=False, digits=obj_digits
            )
            path.write_text(text)
        else:
            path.write_bytes(mesh.export(file_type="ply", encoding="binary"))
        paths.append(path)
    manifest = {
        "format": fmt,
        "frames": [p.name for p in paths],
        "num_vertices": int(verts.shape[1]),
        "num_faces": int(tris.shape[0]),
        "fps": fps,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return paths
