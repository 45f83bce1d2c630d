"""Optional backend: the same fragments from pytorch3d's rasterizer (``rasterize_meshes``).

pytorch3d is not a dependency. Selecting this backend without it raises an :class:`ImportError` that says
how to install it. Coordinates are converted from the package's window pixels (x right, y down) to
pytorch3d's NDC (``+X`` left, ``+Y`` up, the shorter side spanning ``[-1, 1]``); depth is passed through as
view-space ``z``, so ``zbuf``, ``bary_coords`` and ``dists`` have the same meaning as the PyTorch backend's.
"""

from __future__ import annotations

import importlib.util

import torch

from ..fragments import Fragments, RasterSettings

__all__ = ["PYTORCH3D_INSTALL_HINT", "Pytorch3dRasterizer", "pytorch3d_available"]

PYTORCH3D_INSTALL_HINT = (
    "the 'pytorch3d' rasterizer backend needs pytorch3d, which is not installed. Install it with "
    "`pip install mesh-renderer[pytorch3d]`, or, when no wheel matches your torch/CUDA build, follow "
    "https://github.com/facebookresearch/pytorch3d/blob/main/INSTALL.md. The default backend 'torch' needs "
    "nothing extra."
)


def pytorch3d_available() -> bool:
    """Whether ``pytorch3d`` can be imported."""
    return importlib.util.find_spec("pytorch3d") is not None


class Pytorch3dRasterizer:
    """Adapter over ``pytorch3d.renderer.mesh.rasterize_meshes.rasterize_meshes``."""

    name = "pytorch3d"

    def __init__(self, settings: RasterSettings | None = None) -> None:
        if not pytorch3d_available():
            raise ImportError(PYTORCH3D_INSTALL_HINT)
        self.settings = settings or RasterSettings()

    def __call__(self, screen: torch.Tensor, faces: torch.Tensor, perspective: bool = False) -> Fragments:
        from pytorch3d.renderer.mesh.rasterize_meshes import rasterize_meshes
        from pytorch3d.structures import Meshes

        s = self.settings
        h, w = s.image_size
        half = min(h, w) / 2.0
        # pixel centre (j + 0.5, i + 0.5) -> pytorch3d NDC (+X left, +Y up) about the window centre
        x_ndc = -(screen[..., 0] - w / 2.0) / half
        y_ndc = -(screen[..., 1] - h / 2.0) / half
        verts = torch.stack([x_ndc, y_ndc, screen[..., 2]], dim=-1)
        faces = faces.to(device=screen.device, dtype=torch.int64)
        meshes = Meshes(verts=list(verts), faces=[faces] * verts.shape[0])
        p2f, zbuf, bary, dists = rasterize_meshes(
            meshes,
            image_size=(h, w),
            blur_radius=s.blur_radius,
            faces_per_pixel=s.faces_per_pixel,
            perspective_correct=bool(perspective and s.perspective_correct),
            clip_barycentric_coords=s.blur_radius > 0,
            cull_backfaces=s.cull_backfaces,
        )
        return Fragments(pix_to_face=p2f, zbuf=zbuf, bary_coords=bary, dists=dists)
